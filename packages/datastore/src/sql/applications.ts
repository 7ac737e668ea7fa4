import { ApplicationSchema, type Application } from "@pipecd-ts/proto";
import { AlreadyExistsError, NotFoundError } from "@pipecd-ts/runtime";
import { applyUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { clampLimit, decodeOptionalCursor, toPage } from "../internal/paging.js";
import { applicationColumns, decode, type DataRow } from "../internal/rows.js";
import type { ApplicationFilter, ApplicationRepository, Page } from "../types.js";
import {
  execute,
  first,
  query,
  sql,
  type DocumentUpdater,
  type Program,
  type SqlContext,
  Where,
} from "./program.js";

/** {@link ApplicationRepository} over either driver. */
export class SqlApplicationRepository implements ApplicationRepository {
  readonly #c: SqlContext;
  readonly #updater: DocumentUpdater<Application> | undefined;

  /** `updater`: the driver's own way of updating (see {@link DocumentUpdater}). */
  constructor(c: SqlContext, updater?: DocumentUpdater<Application>) {
    this.#c = c;
    this.#updater = updater;
  }

  async create(app: Application): Promise<Application> {
    requireId("application", app.id);
    const a = stampCreate(ApplicationSchema, app, this.#c.clock);
    await this.#c.db.writeOne(
      `create application ${a.id}`,
      sql(
        `INSERT INTO applications (id, project_id, piped_id, name, disabled, deleted, labels, created_at, updated_at, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [a.id, ...applicationColumns(a)],
      ),
      (err) =>
        this.#c.db.dialect.isUniqueViolation(err)
          ? new AlreadyExistsError(`application ${a.id} exists already`, { cause: err })
          : undefined,
    );
    return a;
  }

  async get(id: string): Promise<Application> {
    return this.#c.db.read(`get application ${id}`, () => this.#load(id, ""));
  }

  async list(filter: ApplicationFilter): Promise<Page<Application>> {
    const limit = clampLimit(filter.limit);
    const after = decodeOptionalCursor(filter.cursor);
    const where = new Where()
      .eq("project_id", filter.projectId)
      .eq("piped_id", filter.pipedId)
      .eq("name", filter.name)
      .eq("disabled", filter.disabled);
    if (!filter.includeDeleted) where.add("deleted = FALSE");
    if (filter.labels && Object.keys(filter.labels).length > 0) {
      const labels = this.#c.db.dialect.labelsMatch("applications.labels", filter.labels);
      where.add(labels.sql, ...labels.params);
    }
    if (after) where.add("(created_at, id) < (?, ?)", after.createdAtMs, after.id);
    const text = `SELECT data FROM applications ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const params = [...where.params, limit + 1];
    return this.#c.db.read("list applications", function* () {
      const rows = yield* query<DataRow>(text, params);
      return toPage(
        rows.map((r) => decode(ApplicationSchema, r)),
        limit,
        (a) => ({ createdAtMs: tsMs(a.createdAt), id: a.id }),
      );
    });
  }

  async update(id: string, fn: (a: Application) => void): Promise<Application> {
    if (this.#updater) return this.#updater.update(id, fn);
    const c = this.#c;
    const load = (forUpdate: string) => this.#load(id, forUpdate);
    return c.db.write(`update application ${id}`, function* () {
      const next = applyUpdate("application", yield* load(c.db.dialect.forUpdate), fn, c.clock);
      yield* execute(
        `UPDATE applications SET project_id = ?, piped_id = ?, name = ?, disabled = ?, deleted = ?, labels = ?,
         created_at = ?, updated_at = ?, data = ? WHERE id = ?`,
        [...applicationColumns(next), id],
      );
      return next;
    });
  }

  *#load(id: string, forUpdate: string): Program<Application> {
    const row = yield* first<DataRow>(`SELECT data FROM applications WHERE id = ?${forUpdate}`, [
      id,
    ]);
    if (!row) throw new NotFoundError(`application ${id} not found`);
    return decode(ApplicationSchema, row);
  }
}
