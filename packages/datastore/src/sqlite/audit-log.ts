import { AuditLogEntrySchema, type AuditLogEntry } from "@pipecd-ts/proto";
import { tsMs } from "../internal/entities.js";
import { clampLimit, decodeNumericCursor, toPage } from "../internal/paging.js";
import type { AuditLogFilter, AuditLogRepository, Page } from "../types.js";
import { decode, type SqliteContext } from "./util.js";
import { auditEntryRow } from "../internal/rows.js";

interface AuditRow {
  id: number;
  data: Buffer;
}

/** SQLite {@link AuditLogRepository}. The id lives in its column, not in the stored document. */
export class SqliteAuditLogRepository implements AuditLogRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async append(entry: AuditLogEntry): Promise<AuditLogEntry> {
    const { entry: e, columns } = auditEntryRow(entry, this.#c.clock);
    return this.#c.db.write("append audit log entry", () => {
      const res = this.#c.db
        .prepare(
          "INSERT INTO audit_log (project_id, actor, action, resource_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(...columns);
      e.id = String(res.lastInsertRowid);
      return e;
    });
  }

  async list(filter: AuditLogFilter): Promise<Page<AuditLogEntry>> {
    const limit = clampLimit(filter.limit);
    const after = decodeNumericCursor(filter.cursor);
    const where = ["project_id = ?"];
    const params: unknown[] = [filter.projectId];
    const eq = (column: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    eq("actor", filter.actor);
    eq("action", filter.action);
    eq("resource_id", filter.resourceId);
    if (after) {
      where.push("(created_at, id) < (?, ?)");
      params.push(after.createdAtMs, after.id);
    }
    const sql = `SELECT id, data FROM audit_log WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#c.db.read("list audit log", () => {
      const rows = this.#c.db.prepare(sql).all(...params, limit + 1) as AuditRow[];
      const entries = rows.map((r) => {
        const e = decode(AuditLogEntrySchema, r);
        e.id = String(r.id);
        return e;
      });
      return toPage(entries, limit, (e) => ({ createdAtMs: tsMs(e.time), id: e.id }));
    });
  }
}
