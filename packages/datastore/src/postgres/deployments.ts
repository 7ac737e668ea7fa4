import { NOT_COMPLETED_DEPLOYMENT_STATUSES } from "@pipecd-ts/model";
import { DeploymentSchema, type Deployment, type DeploymentStatus } from "@pipecd-ts/proto";
import { AlreadyExistsError, NotFoundError } from "@pipecd-ts/runtime";
import { applyDeploymentUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { clampLimit, decodeOptionalCursor, toPage } from "../internal/paging.js";
import type { DeploymentFilter, DeploymentRepository, Page, PageRequest } from "../types.js";
import { decode, paramList, type DataRow, type PgContext } from "./util.js";
import { deploymentColumns } from "../internal/rows.js";

const NOT_COMPLETED = NOT_COMPLETED_DEPLOYMENT_STATUSES.join(", ");

/** PostgreSQL {@link DeploymentRepository}. */
export class PgDeploymentRepository implements DeploymentRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async create(d: Deployment): Promise<{ deployment: Deployment; created: boolean }> {
    requireId("deployment", d.id);
    const dep = stampCreate(DeploymentSchema, d, this.#c.clock);
    const inserted = await this.#c.db.query(
      `create deployment ${dep.id}`,
      `INSERT INTO deployments (id, project_id, piped_id, application_id, status, created_at, updated_at, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [dep.id, ...deploymentColumns(dep)],
    );
    if (inserted.length === 1) return { deployment: dep, created: true };
    // A piped retrying its report gets the stored deployment back; anyone else is refused.
    const existing = await this.get(dep.id);
    if (existing.pipedId !== dep.pipedId) {
      throw new AlreadyExistsError(
        `deployment ${dep.id} exists already and belongs to another piped`,
      );
    }
    return { deployment: existing, created: false };
  }

  async get(id: string): Promise<Deployment> {
    const [row] = await this.#c.db.query<DataRow>(
      `get deployment ${id}`,
      "SELECT data FROM deployments WHERE id = $1",
      [id],
    );
    if (!row) throw new NotFoundError(`deployment ${id} not found`);
    return decode(DeploymentSchema, row);
  }

  async list(filter: DeploymentFilter): Promise<Page<Deployment>> {
    const limit = clampLimit(filter.limit);
    const after = decodeOptionalCursor(filter.cursor);
    const { params, p } = paramList();
    const where = [`project_id = ${p(filter.projectId)}`];
    if (filter.applicationId !== undefined)
      where.push(`application_id = ${p(filter.applicationId)}`);
    if (filter.pipedId !== undefined) where.push(`piped_id = ${p(filter.pipedId)}`);
    if (filter.statuses && filter.statuses.length > 0)
      where.push(`status = ANY(${p(filter.statuses)}::smallint[])`);
    if (after) where.push(`(created_at, id) < (${p(after.createdAtMs)}, ${p(after.id)})`);
    const sql = `SELECT data FROM deployments WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ${p(limit + 1)}`;
    return this.#page("list deployments", sql, params, limit);
  }

  async listNotCompleted(pipedId: string, page: PageRequest): Promise<Page<Deployment>> {
    const limit = clampLimit(page.limit);
    const after = decodeOptionalCursor(page.cursor);
    const { params, p } = paramList();
    const where = [`piped_id = ${p(pipedId)}`, `status IN (${NOT_COMPLETED})`];
    if (after) where.push(`(created_at, id) > (${p(after.createdAtMs)}, ${p(after.id)})`);
    const sql = `SELECT data FROM deployments WHERE ${where.join(" AND ")} ORDER BY created_at ASC, id ASC LIMIT ${p(limit + 1)}`;
    return this.#page(`list not completed deployments of ${pipedId}`, sql, params, limit);
  }

  async update(id: string, fn: (d: Deployment) => void): Promise<Deployment> {
    return this.#c.db.tx(`update deployment ${id}`, async (q) => {
      const [row] = await q<DataRow>("SELECT data FROM deployments WHERE id = $1 FOR UPDATE", [id]);
      if (!row) throw new NotFoundError(`deployment ${id} not found`);
      const next = applyDeploymentUpdate(decode(DeploymentSchema, row), fn, this.#c.clock);
      await q(
        `UPDATE deployments SET project_id = $1, piped_id = $2, application_id = $3, status = $4, created_at = $5,
         updated_at = $6, data = $7 WHERE id = $8`,
        [...deploymentColumns(next), id],
      );
      return next;
    });
  }

  async countByStatus(projectId: string): Promise<Map<DeploymentStatus, number>> {
    const rows = await this.#c.db.query<{ status: number; n: string }>(
      `count deployments of ${projectId}`,
      "SELECT status, COUNT(*) AS n FROM deployments WHERE project_id = $1 GROUP BY status",
      [projectId],
    );
    return new Map(rows.map((r) => [r.status as DeploymentStatus, Number(r.n)]));
  }

  async #page(
    what: string,
    sql: string,
    params: unknown[],
    limit: number,
  ): Promise<Page<Deployment>> {
    const rows = await this.#c.db.query<DataRow>(what, sql, params);
    return toPage(
      rows.map((r) => decode(DeploymentSchema, r)),
      limit,
      (d) => ({ createdAtMs: tsMs(d.createdAt), id: d.id }),
    );
  }
}
