import { clone, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AuditLogEntrySchema, type AuditLogEntry } from "@pipecd-ts/proto";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { asBuffer, tsMs } from "../internal/entities.js";
import { clampLimit, decodeNumericCursor, toPage } from "../internal/paging.js";
import type { AuditLogFilter, AuditLogRepository, Page } from "../types.js";
import { decode, type SqliteContext } from "./util.js";

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
    if (!entry.projectId) throw new InvalidArgumentError("audit log entry: projectId is required");
    const e = clone(AuditLogEntrySchema, entry);
    e.id = "";
    e.time ??= timestampFromDate(this.#c.clock.now());
    const data = asBuffer(toBinary(AuditLogEntrySchema, e));
    return this.#c.db.write("append audit log entry", () => {
      const res = this.#c.db
        .prepare(
          "INSERT INTO audit_log (project_id, actor, action, resource_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(e.projectId, e.actor, e.action, e.resourceId, tsMs(e.time), data);
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
