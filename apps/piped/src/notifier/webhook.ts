import { toJson } from "@bufbuild/protobuf";
import { NOTIFICATION_EVENTS } from "@pipecd-ts/config";
import { ApplicationSchema, DeploymentSchema, PipelineStageSchema } from "@pipecd-ts/proto";
import type { NotificationEvent } from "./event.js";

const opts = { useProtoFieldName: true, enumAsInteger: true } as const;

/** Drops what Go's `omitempty` drops: empty strings and lists. */
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).filter(
      ([, v]) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0),
    ),
  );
}

/**
 * PipeCD's webhook body (features §5.6): `{"Type": <event number>, "Metadata": {…}}`, the
 * metadata in protobuf JSON with snake_case names, enums as numbers and empty fields left out.
 */
export function webhookBody(e: NotificationEvent): string {
  const md: Record<string, unknown> = {};
  if (e.deployment) md.deployment = toJson(DeploymentSchema, e.deployment, opts);
  if (e.stage) md.stage = toJson(PipelineStageSchema, e.stage, opts);
  if (e.application) md.application = toJson(ApplicationSchema, e.application, opts);
  if (e.piped) {
    md.id = e.piped.id;
    md.name = e.piped.name;
    md.version = e.piped.version;
    md.project_id = e.piped.projectId;
  }
  if (e.commit) {
    md.commit_hash = e.commit.hash;
    md.commit_message = e.commit.message;
  }
  md.summary = e.summary;
  md.reason = e.reason;
  md.commander = e.commander;
  md.approver = e.approver;
  if (!e.type.startsWith("STAGE_") && !e.type.startsWith("PIPED_")) {
    md.mentioned_accounts = e.mentionedAccounts;
    md.mentioned_groups = e.mentionedGroups;
  }
  return JSON.stringify({ Type: NOTIFICATION_EVENTS[e.type], Metadata: omitEmpty(md) });
}
