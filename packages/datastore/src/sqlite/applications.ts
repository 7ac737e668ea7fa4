import { ApplicationSchema, type Application } from "@pipecd-ts/proto";
import { AlreadyExistsError, NotFoundError } from "@pipecd-ts/runtime";
import { applyUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { clampLimit, decodeOptionalCursor, toPage } from "../internal/paging.js";
import type { ApplicationFilter, ApplicationRepository, Page } from "../types.js";
import { bit, decode, isUniqueViolation, type DataRow, type SqliteContext } from "./util.js";
import { applicationColumns } from "../internal/rows.js";

/** SQLite {@link ApplicationRepository}. */
export class SqliteApplicationRepository implements ApplicationRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async create(app: Application): Promise<Application> {
    requireId("application", app.id);
    const a = stampCreate(ApplicationSchema, app, this.#c.clock);
    return this.#c.db.write(`create application ${a.id}`, () => {
      try {
        this.#c.db
          .prepare(
            `INSERT INTO applications (id, project_id, piped_id, name, disabled, deleted, labels, created_at, updated_at, data)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(a.id, ...applicationColumns(a, bit));
      } catch (err) {
        if (isUniqueViolation(err))
          throw new AlreadyExistsError(`application ${a.id} exists already`, { cause: err });
        throw err;
      }
      return a;
    });
  }

  async get(id: string): Promise<Application> {
    return this.#c.db.read(`get application ${id}`, () =>
      decode(ApplicationSchema, this.#load(id)),
    );
  }

  async list(filter: ApplicationFilter): Promise<Page<Application>> {
    const limit = clampLimit(filter.limit);
    const after = decodeOptionalCursor(filter.cursor);
    const where = ["project_id = ?"];
    const params: unknown[] = [filter.projectId];
    if (filter.pipedId !== undefined) {
      where.push("piped_id = ?");
      params.push(filter.pipedId);
    }
    if (filter.name !== undefined) {
      where.push("name = ?");
      params.push(filter.name);
    }
    if (filter.disabled !== undefined) {
      where.push("disabled = ?");
      params.push(bit(filter.disabled));
    }
    if (!filter.includeDeleted) where.push("deleted = 0");
    for (const [key, value] of Object.entries(filter.labels ?? {})) {
      // json_each instead of a JSON path: label keys like app.kubernetes.io/name need no quoting.
      where.push(
        "EXISTS (SELECT 1 FROM json_each(applications.labels) AS l WHERE l.key = ? AND l.value = ?)",
      );
      params.push(key, value);
    }
    if (after) {
      where.push("(created_at, id) < (?, ?)");
      params.push(after.createdAtMs, after.id);
    }
    const sql = `SELECT data FROM applications WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#c.db.read("list applications", () => {
      const rows = this.#c.db.prepare(sql).all(...params, limit + 1) as DataRow[];
      return toPage(
        rows.map((r) => decode(ApplicationSchema, r)),
        limit,
        (a) => ({ createdAtMs: tsMs(a.createdAt), id: a.id }),
      );
    });
  }

  async update(id: string, fn: (a: Application) => void): Promise<Application> {
    return this.#c.db.write(`update application ${id}`, () => {
      const next = applyUpdate(
        "application",
        decode(ApplicationSchema, this.#load(id)),
        fn,
        this.#c.clock,
      );
      this.#c.db
        .prepare(
          `UPDATE applications SET project_id = ?, piped_id = ?, name = ?, disabled = ?, deleted = ?, labels = ?,
           created_at = ?, updated_at = ?, data = ? WHERE id = ?`,
        )
        .run(...applicationColumns(next, bit), id);
      return next;
    });
  }

  #load(id: string): DataRow {
    const row = this.#c.db.prepare("SELECT data FROM applications WHERE id = ?").get(id) as
      DataRow | undefined;
    if (!row) throw new NotFoundError(`application ${id} not found`);
    return row;
  }
}
