import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AuditLogEntrySchema,
  Command_Type,
  CommandSchema,
  CommandStatus,
  type Command,
} from "@pipecd-ts/proto";
import type { Datastore } from "@pipecd-ts/datastore";
import type { Clock, Logger } from "@pipecd-ts/runtime";
import type { Hub } from "./hub.js";
import type { Metrics } from "./metrics.js";
import type { Principal } from "./auth/principal.js";

/** Options of {@link Actions}. */
export interface ActionsOptions {
  ds: Pick<Datastore, "commands" | "auditLog">;
  hub: Pick<Hub, "commandsStored" | "emit">;
  metrics: Pick<Metrics, "commandsCreated">;
  clock: Clock;
  logger: Logger;
  projectId: string;
}

/** The audit entry that records who asked for a command, written once the command is stored. */
export interface CommandAudit {
  action: string;
  resourceType: string;
  resourceId: string;
  /** The entry's details, given the stored command (they name its id). */
  details: (cmd: Command) => Record<string, string>;
  sourceIp: string;
}

/**
 * Turns user intent into durable commands (stored, then pushed to the piped's stream) and
 * records every human action in the audit log.
 */
export class Actions {
  constructor(private readonly opts: ActionsOptions) {}

  /**
   * Stores a command, notifies the stream holding its piped, then writes its audit entry: the one
   * way a human action becomes a command. The command is durable before this resolves; the
   * notification is what makes delivery immediate (no polling). A command refused by the
   * datastore (e.g. a repeated `dedupKey`) throws before anything is audited.
   */
  async createCommand(
    init: MessageInitShape<typeof CommandSchema>,
    by: Principal,
    audit: CommandAudit,
    dedupKey?: string,
  ): Promise<Command> {
    const now = timestampFromDate(this.opts.clock.now());
    const cmd = create(CommandSchema, {
      ...init,
      id: randomUUID(),
      projectId: this.opts.projectId,
      commander: by.username,
      commanderKeyId: by.apiKeyId ?? "",
      status: CommandStatus.COMMAND_NOT_HANDLED_YET,
      createdAt: now,
      updatedAt: now,
    });
    const stored = await this.opts.ds.commands.create(cmd, dedupKey ? { dedupKey } : undefined);
    this.opts.metrics.commandsCreated.inc({
      type: Command_Type[stored.type] ?? String(stored.type),
    });
    await this.opts.hub.commandsStored(stored.pipedId);
    this.opts.hub.emit({
      type: "command",
      id: stored.id,
      pipedId: stored.pipedId,
      deploymentId: stored.deploymentId || undefined,
      stageId: stored.stageId || undefined,
      applicationId: stored.applicationId || undefined,
      status: CommandStatus[stored.status],
    });
    await this.audit(
      by,
      audit.action,
      audit.resourceType,
      audit.resourceId,
      audit.details(stored),
      audit.sourceIp,
    );
    return stored;
  }

  /** Appends an audit log entry for a human action. */
  async audit(
    by: Principal,
    action: string,
    resourceType: string,
    resourceId: string,
    details: Record<string, string> = {},
    sourceIp = "",
  ): Promise<void> {
    await this.opts.ds.auditLog.append(
      create(AuditLogEntrySchema, {
        projectId: this.opts.projectId,
        time: timestampFromDate(this.opts.clock.now()),
        actor: by.username,
        apiKeyId: by.apiKeyId ?? "",
        action,
        resourceType,
        resourceId,
        details,
        sourceIp,
      }),
    );
    this.opts.logger.info(
      { actor: by.username, apiKeyId: by.apiKeyId, action, resourceType, resourceId },
      "audit",
    );
  }
}
