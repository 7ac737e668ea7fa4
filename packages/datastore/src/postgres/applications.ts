import { ApplicationSchema, type Application } from "@pipecd-ts/proto";
import { AlreadyExistsError, NotFoundError } from "@pipecd-ts/runtime";
import { applyUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { clampLimit, decodeOptionalCursor, toPage } from "../internal/paging.js";
import type { ApplicationFilter, ApplicationRepository, Page } from "../types.js";
import { isPgUniqueViolation, mapPgError } from "./db.js";
import { decode, paramList, type DataRow, type PgContext } from "./util.js";
import { applicationColumns } from "../internal/rows.js";

/** PostgreSQL {@link ApplicationRepository}. */
export class PgApplicationRepository implements ApplicationRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async create(app: Application): Promise<Application> {
    requireId("application", app.id);
    const a = stampCreate(ApplicationSchema, app, this.#c.clock);
    try {
      await this.#c.db.pool.query(
        `INSERT INTO applications (id, project_id, piped_id, name, disabled, deleted, labels, created_at, updated_at, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)`,
        [a.id, ...applicationColumns(a, (b) => b)],
      );
    } catch (err) {
      if (isPgUniqueViolation(err))
        throw new AlreadyExistsError(`application ${a.id} exists already`, { cause: err });
      throw mapPgError(err, `create application ${a.id}`);
    }
    return a;
  }

  async get(id: string): Promise<Application> {
    const [row] = await this.#c.db.query<DataRow>(
      `get application ${id}`,
      "SELECT data FROM applications WHERE id = $1",
      [id],
    );
    if (!row) throw new NotFoundError(`application ${id} not found`);
    return decode(ApplicationSchema, row);
  }

  async list(filter: ApplicationFilter): Promise<Page<Application>> {
    const limit = clampLimit(filter.limit);
    const after = decodeOptionalCursor(filter.cursor);
    const { params, p } = paramList();
    const where = [`project_id = ${p(filter.projectId)}`];
    if (filter.pipedId !== undefined) where.push(`piped_id = ${p(filter.pipedId)}`);
    if (filter.name !== undefined) where.push(`name = ${p(filter.name)}`);
    if (filter.disabled !== undefined) where.push(`disabled = ${p(filter.disabled)}`);
    if (!filter.includeDeleted) where.push("NOT deleted");
    if (filter.labels && Object.keys(filter.labels).length > 0)
      where.push(`labels @> ${p(JSON.stringify(filter.labels))}::jsonb`);
    if (after) where.push(`(created_at, id) < (${p(after.createdAtMs)}, ${p(after.id)})`);
    const rows = await this.#c.db.query<DataRow>(
      "list applications",
      `SELECT data FROM applications WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ${p(limit + 1)}`,
      params,
    );
    return toPage(
      rows.map((r) => decode(ApplicationSchema, r)),
      limit,
      (a) => ({ createdAtMs: tsMs(a.createdAt), id: a.id }),
    );
  }

  async update(id: string, fn: (a: Application) => void): Promise<Application> {
    return this.#c.db.tx(`update application ${id}`, async (q) => {
      const [row] = await q<DataRow>("SELECT data FROM applications WHERE id = $1 FOR UPDATE", [
        id,
      ]);
      if (!row) throw new NotFoundError(`application ${id} not found`);
      const next = applyUpdate("application", decode(ApplicationSchema, row), fn, this.#c.clock);
      await q(
        `UPDATE applications SET project_id = $1, piped_id = $2, name = $3, disabled = $4, deleted = $5, labels = $6::jsonb,
         created_at = $7, updated_at = $8, data = $9 WHERE id = $10`,
        [...applicationColumns(next, (b) => b), id],
      );
      return next;
    });
  }
}
