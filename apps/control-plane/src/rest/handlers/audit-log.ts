import { AuditLogEntrySchema } from "@pipecd-ts/proto";
import { json, type HandlerDeps, type Handlers } from "./shared.js";

/** Reading the project's audit log. */
export function auditLogHandlers(
  deps: Pick<HandlerDeps, "ds" | "projectId">,
): Pick<Handlers, "listAuditLog"> {
  const { ds, projectId } = deps;
  return {
    async listAuditLog(req) {
      const q = req.query ?? {};
      const page = await ds.auditLog.list({ projectId, ...q });
      return { entries: page.items.map((e) => json(AuditLogEntrySchema, e)), cursor: page.cursor };
    },
  };
}
