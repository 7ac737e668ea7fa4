import { NOT_COMPLETED_DEPLOYMENT_STATUSES } from "@pipecd-ts/model";
import { DeploymentSchema, type Deployment, type DeploymentStatus } from "@pipecd-ts/proto";
import { AlreadyExistsError, NotFoundError } from "@pipecd-ts/runtime";
import { applyDeploymentUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { clampLimit, decodeOptionalCursor, toPage } from "../internal/paging.js";
import type { DeploymentFilter, DeploymentRepository, Page, PageRequest } from "../types.js";
import { decode, type DataRow, type SqliteContext } from "./util.js";
import { deploymentColumns } from "../internal/rows.js";

const NOT_COMPLETED = NOT_COMPLETED_DEPLOYMENT_STATUSES.join(", ");

/** SQLite {@link DeploymentRepository}. */
export class SqliteDeploymentRepository implements DeploymentRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async create(d: Deployment): Promise<{ deployment: Deployment; created: boolean }> {
    requireId("deployment", d.id);
    const dep = stampCreate(DeploymentSchema, d, this.#c.clock);
    return this.#c.db.write(`create deployment ${dep.id}`, () => {
      const res = this.#c.db
        .prepare(
          `INSERT INTO deployments (id, project_id, piped_id, application_id, status, created_at, updated_at, data)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        )
        .run(dep.id, ...deploymentColumns(dep));
      if (res.changes === 1) return { deployment: dep, created: true };
      // A piped retrying its report gets the stored deployment back; anyone else is refused.
      const existing = decode(DeploymentSchema, this.#load(dep.id));
      if (existing.pipedId !== dep.pipedId) {
        throw new AlreadyExistsError(
          `deployment ${dep.id} exists already and belongs to another piped`,
        );
      }
      return { deployment: existing, created: false };
    });
  }

  async get(id: string): Promise<Deployment> {
    return this.#c.db.read(`get deployment ${id}`, () => decode(DeploymentSchema, this.#load(id)));
  }

  async list(filter: DeploymentFilter): Promise<Page<Deployment>> {
    const limit = clampLimit(filter.limit);
    const after = decodeOptionalCursor(filter.cursor);
    const where = ["project_id = ?"];
    const params: unknown[] = [filter.projectId];
    if (filter.applicationId !== undefined) {
      where.push("application_id = ?");
      params.push(filter.applicationId);
    }
    if (filter.pipedId !== undefined) {
      where.push("piped_id = ?");
      params.push(filter.pipedId);
    }
    if (filter.statuses && filter.statuses.length > 0) {
      where.push(`status IN (${filter.statuses.map(() => "?").join(", ")})`);
      params.push(...filter.statuses);
    }
    if (after) {
      where.push("(created_at, id) < (?, ?)");
      params.push(after.createdAtMs, after.id);
    }
    const sql = `SELECT data FROM deployments WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#c.db.read("list deployments", () =>
      this.#page(sql, [...params, limit + 1], limit),
    );
  }

  async listNotCompleted(pipedId: string, page: PageRequest): Promise<Page<Deployment>> {
    const limit = clampLimit(page.limit);
    const after = decodeOptionalCursor(page.cursor);
    const sql = `SELECT data FROM deployments WHERE piped_id = ? AND status IN (${NOT_COMPLETED})
      ${after ? "AND (created_at, id) > (?, ?)" : ""} ORDER BY created_at ASC, id ASC LIMIT ?`;
    const params: unknown[] = after
      ? [pipedId, after.createdAtMs, after.id, limit + 1]
      : [pipedId, limit + 1];
    return this.#c.db.read(`list not completed deployments of ${pipedId}`, () =>
      this.#page(sql, params, limit),
    );
  }

  async update(id: string, fn: (d: Deployment) => void): Promise<Deployment> {
    return this.#c.db.write(`update deployment ${id}`, () => {
      const next = applyDeploymentUpdate(
        decode(DeploymentSchema, this.#load(id)),
        fn,
        this.#c.clock,
      );
      this.#c.db
        .prepare(
          `UPDATE deployments SET project_id = ?, piped_id = ?, application_id = ?, status = ?, created_at = ?,
           updated_at = ?, data = ? WHERE id = ?`,
        )
        .run(...deploymentColumns(next), id);
      return next;
    });
  }

  async countByStatus(projectId: string): Promise<Map<DeploymentStatus, number>> {
    return this.#c.db.read(`count deployments of ${projectId}`, () => {
      const rows = this.#c.db
        .prepare(
          "SELECT status, COUNT(*) AS n FROM deployments WHERE project_id = ? GROUP BY status",
        )
        .all(projectId) as { status: DeploymentStatus; n: number }[];
      return new Map(rows.map((r) => [r.status, r.n]));
    });
  }

  #page(sql: string, params: unknown[], limit: number): Page<Deployment> {
    const rows = this.#c.db.prepare(sql).all(...params) as DataRow[];
    return toPage(
      rows.map((r) => decode(DeploymentSchema, r)),
      limit,
      (d) => ({ createdAtMs: tsMs(d.createdAt), id: d.id }),
    );
  }

  #load(id: string): DataRow {
    const row = this.#c.db.prepare("SELECT data FROM deployments WHERE id = ?").get(id) as
      DataRow | undefined;
    if (!row) throw new NotFoundError(`deployment ${id} not found`);
    return row;
  }
}
