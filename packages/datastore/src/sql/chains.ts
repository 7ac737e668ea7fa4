import { DeploymentChainSchema, type DeploymentChain } from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import { applyUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { decode, encode, type DataRow } from "../internal/rows.js";
import type { DeploymentChainRepository } from "../types.js";
import { execute, first, query, sql, type SqlContext } from "./program.js";

/** {@link DeploymentChainRepository} over either driver. */
export class SqlDeploymentChainRepository implements DeploymentChainRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async create(ch: DeploymentChain): Promise<void> {
    requireId("deployment chain", ch.id);
    if (!ch.projectId) throw new InvalidArgumentError("deployment chain: projectId is required");
    const c = stampCreate(DeploymentChainSchema, ch, this.#c.clock);
    await this.#c.db.writeOne(
      `create deployment chain ${c.id}`,
      sql(
        "INSERT INTO deployment_chains (id, project_id, status, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?)",
        [
          c.id,
          c.projectId,
          c.status,
          tsMs(c.createdAt),
          tsMs(c.updatedAt),
          encode(DeploymentChainSchema, c),
        ],
      ),
      (err) =>
        this.#c.db.dialect.isUniqueViolation(err)
          ? new AlreadyExistsError(`deployment chain ${c.id} exists already`, { cause: err })
          : undefined,
    );
  }

  async get(id: string): Promise<DeploymentChain> {
    return this.#c.db.read(`get deployment chain ${id}`, function* () {
      const row = yield* first<DataRow>("SELECT data FROM deployment_chains WHERE id = ?", [id]);
      if (!row) throw new NotFoundError(`deployment chain ${id} not found`);
      return decode(DeploymentChainSchema, row);
    });
  }

  async list(projectId: string, limit = 100): Promise<DeploymentChain[]> {
    const n = Math.min(Math.max(1, limit), 1_000);
    return this.#c.db.read("list deployment chains", function* () {
      const rows = yield* query<DataRow>(
        `SELECT data FROM deployment_chains WHERE project_id = ? ORDER BY created_at DESC, id DESC LIMIT ${n}`,
        [projectId],
      );
      return rows.map((r) => decode(DeploymentChainSchema, r));
    });
  }

  async update(id: string, fn: (c: DeploymentChain) => void): Promise<DeploymentChain> {
    const c = this.#c;
    const forUpdate = c.db.dialect.forUpdate;
    return c.db.write(`update deployment chain ${id}`, function* () {
      const row = yield* first<DataRow>(
        `SELECT data FROM deployment_chains WHERE id = ?${forUpdate}`,
        [id],
      );
      if (!row) throw new NotFoundError(`deployment chain ${id} not found`);
      const ch = applyUpdate("deployment chain", decode(DeploymentChainSchema, row), fn, c.clock);
      yield* execute(
        "UPDATE deployment_chains SET status = ?, updated_at = ?, data = ? WHERE id = ?",
        [ch.status, tsMs(ch.updatedAt), encode(DeploymentChainSchema, ch), id],
      );
      return ch;
    });
  }
}
