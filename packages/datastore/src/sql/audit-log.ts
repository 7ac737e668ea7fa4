import { AuditLogEntrySchema, type AuditLogEntry } from "@pipecd-ts/proto";
import { tsMs } from "../internal/entities.js";
import { clampLimit, decodeNumericCursor, toPage } from "../internal/paging.js";
import { auditEntryRow, decode, type DataRow } from "../internal/rows.js";
import type { AuditLogFilter, AuditLogRepository, Page } from "../types.js";
import { query, sql, type SqlContext, Where } from "./program.js";

/** {@link AuditLogRepository} over either driver. The id lives in its column, not in the document. */
export class SqlAuditLogRepository implements AuditLogRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async append(entry: AuditLogEntry): Promise<AuditLogEntry> {
    const { entry: e, columns } = auditEntryRow(entry, this.#c.clock);
    const { rows } = await this.#c.db.writeOne(
      "append audit log entry",
      sql(
        "INSERT INTO audit_log (project_id, actor, action, resource_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        columns,
      ),
    );
    e.id = String((rows[0]?.id as number | string | undefined) ?? "");
    return e;
  }

  async list(filter: AuditLogFilter): Promise<Page<AuditLogEntry>> {
    const limit = clampLimit(filter.limit);
    const after = decodeNumericCursor(filter.cursor);
    const where = new Where()
      .eq("project_id", filter.projectId)
      .eq("actor", filter.actor)
      .eq("action", filter.action)
      .eq("resource_id", filter.resourceId);
    if (after) where.add("(created_at, id) < (?, ?)", after.createdAtMs, after.id);
    const text = `SELECT id, data FROM audit_log ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const params = [...where.params, limit + 1];
    return this.#c.db.read("list audit log", function* () {
      const rows = yield* query<DataRow & { id: number | string }>(text, params);
      const entries = rows.map((r) => {
        const e = decode(AuditLogEntrySchema, r);
        e.id = String(r.id);
        return e;
      });
      return toPage(entries, limit, (e) => ({ createdAtMs: tsMs(e.time), id: e.id }));
    });
  }
}
