import { clone, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AuditLogEntrySchema, type AuditLogEntry } from "@pipecd-ts/proto";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { asBuffer, tsMs } from "../internal/entities.js";
import { clampLimit, decodeNumericCursor, toPage } from "../internal/paging.js";
import type { AuditLogFilter, AuditLogRepository, Page } from "../types.js";
import { decode, paramList, type DataRow, type PgContext } from "./util.js";

/** PostgreSQL {@link AuditLogRepository}. The id lives in its column, not in the stored document. */
export class PgAuditLogRepository implements AuditLogRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async append(entry: AuditLogEntry): Promise<AuditLogEntry> {
    if (!entry.projectId) throw new InvalidArgumentError("audit log entry: projectId is required");
    const e = clone(AuditLogEntrySchema, entry);
    e.id = "";
    e.time ??= timestampFromDate(this.#c.clock.now());
    const [row] = await this.#c.db.query<{ id: string }>(
      "append audit log entry",
      "INSERT INTO audit_log (project_id, actor, action, resource_id, created_at, data) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
      [
        e.projectId,
        e.actor,
        e.action,
        e.resourceId,
        tsMs(e.time),
        asBuffer(toBinary(AuditLogEntrySchema, e)),
      ],
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
