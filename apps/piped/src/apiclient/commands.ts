import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CommandStatus, type Command } from "@pipecd-ts/proto";
import type { Clock } from "@pipecd-ts/runtime";
import type { ApiClient } from "./client.js";
import type { Reporter } from "./reporter.js";

/** Acked command ids kept to drop late duplicates (the oldest are forgotten first). */
const ACKED_KEPT = 10_000;

/** How a component acks the commands it was given. */
export interface CommandAcker {
  /**
   * Reports the command handled (`ok`: succeeded) with `metadata`. Delivered through the
   * reporter, which retries with jittered backoff until it lands; commands of a deployment are
   * acked in order with that deployment's other reports. Acking twice does nothing.
   */
  ack(
    cmd: Pick<Command, "id" | "deploymentId">,
    ok: boolean,
    metadata?: Record<string, string>,
    output?: Uint8Array,
  ): Promise<void>;
}

/**
 * The piped's one place for commands (DESIGN §7): every command of the Watch stream comes in
 * here, is handed to its consumer once (the stream delivers at least once: after a reconnect or
 * a restart it sends what is not handled yet) and is acked here for the trigger, the controller
 * and the stages alike.
 */
export class CommandStore implements CommandAcker {
  /** Received and not acked yet: a duplicate of one of these is dropped. */
  private readonly open = new Set<string>();
  private readonly acked = new Set<string>();

  constructor(
    private readonly deps: {
      api: Pick<ApiClient, "call">;
      reporter: Pick<Reporter, "report">;
      clock: Clock;
      /** Hands a new command to its consumer (the trigger for SYNC, else the controller). */
      route: (cmd: Command) => void;
    },
  ) {}

  /** A command from the stream: routed unless it was seen already. */
  receive(cmd: Command): void {
    if (this.open.has(cmd.id) || this.acked.has(cmd.id)) return;
    this.open.add(cmd.id);
    this.deps.route(cmd);
  }

  async ack(
    cmd: Pick<Command, "id" | "deploymentId">,
    ok: boolean,
    metadata: Record<string, string> = {},
    output?: Uint8Array,
  ): Promise<void> {
    if (this.acked.has(cmd.id)) return;
    this.acked.add(cmd.id);
    this.open.delete(cmd.id);
    if (this.acked.size > ACKED_KEPT) {
      const oldest = this.acked.values().next().value;
      if (oldest !== undefined) this.acked.delete(oldest);
    }
    await this.deps.reporter.report(
      cmd.deploymentId || `command ${cmd.id}`,
      `command ${cmd.id} handled`,
      (signal) =>
        this.deps.api.call(
          "reportCommandHandled",
          {
            commandId: cmd.id,
            status: ok ? CommandStatus.COMMAND_SUCCEEDED : CommandStatus.COMMAND_FAILED,
            metadata,
            handledAt: timestampFromDate(this.deps.clock.now()),
            ...(output ? { output } : {}),
          },
          { signal },
        ),
    );
  }

  /** Commands received and not acked yet. */
  pending(): number {
    return this.open.size;
  }
}
