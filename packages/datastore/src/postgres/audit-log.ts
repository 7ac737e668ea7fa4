import { AuditLogEntrySchema, type AuditLogEntry } from "@pipecd-ts/proto";
import { tsMs } from "../internal/entities.js";
import { clampLimit, decodeNumericCursor, toPage } from "../internal/paging.js";
import type { AuditLogFilter, AuditLogRepository, Page } from "../types.js";
import { decode, paramList, type DataRow, type PgContext } from "./util.js";
import { auditEntryRow } from "../internal/rows.js";

/** PostgreSQL {@link AuditLogRepository}. The id lives in its column, not in the stored document. */
export class PgAuditLogRepository implements AuditLogRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async append(entry: AuditLogEntry): Promise<AuditLogEntry> {
    const { entry: e, columns } = auditEntryRow(entry, this.#c.clock);
    const [row] = await this.#c.db.query<{ id: string }>(
      "append audit log entry",
      "INSERT INTO audit_log (project_id, actor, action, resource_id, created_at, data) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
      columns,
    );
    e.id = String(row?.id ?? "");
    return e;
  }

  async list(filter: AuditLogFilter): Promise<Page<AuditLogEntry>> {
    const limit = clampLimit(filter.limit);
    const after = decodeNumericCursor(filter.cursor);
    const { params, p } = paramList();
    const where = [`project_id = ${p(filter.projectId)}`];
    if (filter.actor !== undefined) where.push(`actor = ${p(filter.actor)}`);
    if (filter.action !== undefined) where.push(`action = ${p(filter.action)}`);
    if (filter.resourceId !== undefined) where.push(`resource_id = ${p(filter.resourceId)}`);
    if (after) where.push(`(created_at, id) < (${p(after.createdAtMs)}, ${p(after.id)})`);
    const rows = await this.#c.db.query<DataRow & { id: string }>(
      "list audit log",
      `SELECT id, data FROM audit_log WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ${p(limit + 1)}`,
      params,
    );
    const entries = rows.map((r) => {
      const e = decode(AuditLogEntrySchema, r);
      e.id = String(r.id);
      return e;
    });
    return toPage(entries, limit, (e) => ({ createdAtMs: tsMs(e.time), id: e.id }));
  }
}
