import { NOT_COMPLETED_DEPLOYMENT_STATUSES } from "@pipecd-ts/model";
import { DeploymentSchema, type Deployment, type DeploymentStatus } from "@pipecd-ts/proto";
import { AlreadyExistsError, NotFoundError } from "@pipecd-ts/runtime";
import { applyDeploymentUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { clampLimit, decodeOptionalCursor, toPage } from "../internal/paging.js";
import { decode, deploymentColumns, type DataRow } from "../internal/rows.js";
import type { DeploymentFilter, DeploymentRepository, Page, PageRequest } from "../types.js";
import {
  execute,
  first,
  query,
  sql,
  type DocumentUpdater,
  type SqlContext,
  Where,
} from "./program.js";

const NOT_COMPLETED = NOT_COMPLETED_DEPLOYMENT_STATUSES.join(", ");

/** Columns written by an update, in the order of {@link deploymentColumns}. */
export const DEPLOYMENT_UPDATE_SET = `project_id = ?, piped_id = ?, application_id = ?, status = ?,
  created_at = ?, updated_at = ?, data = ?`;

/**
 * {@link DeploymentRepository} over either driver. Updates are the hot path of stage reports: a
 * driver may bring its own {@link DocumentUpdater}; otherwise an update is one transaction
 * (SQLite: part of the group commit).
 */
export class SqlDeploymentRepository implements DeploymentRepository {
  readonly #c: SqlContext;
  readonly #updater: DocumentUpdater<Deployment> | undefined;

  constructor(c: SqlContext, updater?: DocumentUpdater<Deployment>) {
    this.#c = c;
    this.#updater = updater;
  }

  async create(d: Deployment): Promise<{ deployment: Deployment; created: boolean }> {
    requireId("deployment", d.id);
    const dep = stampCreate(DeploymentSchema, d, this.#c.clock);
    const inserted = await this.#c.db.writeOne(
      `create deployment ${dep.id}`,
      sql(
        `INSERT INTO deployments (id, project_id, piped_id, application_id, status, created_at, updated_at, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [dep.id, ...deploymentColumns(dep)],
      ),
    );
    if (inserted.count === 1) return { deployment: dep, created: true };
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
    return this.#c.db.read(`get deployment ${id}`, function* () {
      const row = yield* first<DataRow>("SELECT data FROM deployments WHERE id = ?", [id]);
      if (!row) throw new NotFoundError(`deployment ${id} not found`);
      return decode(DeploymentSchema, row);
    });
  }

  async list(filter: DeploymentFilter): Promise<Page<Deployment>> {
    const limit = clampLimit(filter.limit);
    const after = decodeOptionalCursor(filter.cursor);
    const where = new Where()
      .eq("project_id", filter.projectId)
      .eq("application_id", filter.applicationId)
      .eq("piped_id", filter.pipedId)
      .in("status", filter.statuses);
    if (after) where.add("(created_at, id) < (?, ?)", after.createdAtMs, after.id);
    return this.#page(
      "list deployments",
      `SELECT data FROM deployments ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...where.params, limit + 1],
      limit,
    );
  }

  async listNotCompleted(pipedId: string, page: PageRequest): Promise<Page<Deployment>> {
    const limit = clampLimit(page.limit);
    const after = decodeOptionalCursor(page.cursor);
    const params: unknown[] = after
      ? [pipedId, after.createdAtMs, after.id, limit + 1]
      : [pipedId, limit + 1];
    return this.#page(
      `list not completed deployments of ${pipedId}`,
      `SELECT data FROM deployments WHERE piped_id = ? AND status IN (${NOT_COMPLETED})
       ${after ? "AND (created_at, id) > (?, ?)" : ""} ORDER BY created_at ASC, id ASC LIMIT ?`,
      params,
      limit,
    );
  }

  async update(id: string, fn: (d: Deployment) => void): Promise<Deployment> {
    if (this.#updater) return this.#updater.update(id, fn);
    const clock = this.#c.clock;
    const forUpdate = this.#c.db.dialect.forUpdate;
    return this.#c.db.write(`update deployment ${id}`, function* () {
      const row = yield* first<DataRow>(`SELECT data FROM deployments WHERE id = ?${forUpdate}`, [
        id,
      ]);
      if (!row) throw new NotFoundError(`deployment ${id} not found`);
      const next = applyDeploymentUpdate(decode(DeploymentSchema, row), fn, clock);
      yield* execute(`UPDATE deployments SET ${DEPLOYMENT_UPDATE_SET} WHERE id = ?`, [
        ...deploymentColumns(next),
        id,
      ]);
      return next;
    });
  }

  async countByStatus(projectId: string): Promise<Map<DeploymentStatus, number>> {
    return this.#c.db.read(`count deployments of ${projectId}`, function* () {
      const rows = yield* query<{ status: number; n: number | string }>(
        "SELECT status, COUNT(*) AS n FROM deployments WHERE project_id = ? GROUP BY status",
        [projectId],
      );
      return new Map(rows.map((r) => [r.status as DeploymentStatus, Number(r.n)]));
    });
  }

  #page(what: string, text: string, params: unknown[], limit: number): Promise<Page<Deployment>> {
    return this.#c.db.read(what, function* () {
      const rows = yield* query<DataRow>(text, params);
      return toPage(
        rows.map((r) => decode(DeploymentSchema, r)),
        limit,
        (d) => ({ createdAtMs: tsMs(d.createdAt), id: d.id }),
      );
    });
  }
}
