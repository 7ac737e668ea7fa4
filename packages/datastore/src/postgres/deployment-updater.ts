import { DeploymentSchema, type Deployment } from "@pipecd-ts/proto";
import { LruMap, NotFoundError, type Clock } from "@pipecd-ts/runtime";
import { applyDeploymentUpdate } from "../internal/entities.js";
import { decode, deploymentColumns, type DataRow } from "../internal/rows.js";
import type { DeploymentUpdater } from "../sql/deployments.js";
import type { PgDb } from "./db.js";

/** Compare-and-swap tries of {@link PgDeploymentUpdater.update} before it locks the row. */
const CAS_ATTEMPTS = 3;
/** Deployments whose last written document a replica remembers. */
const RECENT_DEPLOYMENTS = 2_000;

/**
 * PostgreSQL's {@link DeploymentUpdater}: deployment updates are the hot path of stage reports,
 * and several replicas may write one deployment (an approval through one, reports through
 * another), so updates are compare-and-swaps on the row's `rev` (bumped by a trigger on every
 * update, see migration 5), batched per event-loop turn.
 */
export class PgDeploymentUpdater implements DeploymentUpdater {
  readonly #db: PgDb;
  readonly #clock: Clock;
  /** The last document and `rev` this replica wrote, per deployment (least recently used go). */
  readonly #recent = new LruMap<string, { rev: number; data: Buffer }>(RECENT_DEPLOYMENTS);
  /** The last update queued per deployment (they run in order). */
  readonly #tails = new Map<string, Promise<void>>();
  /** Compare-and-swaps of this event-loop turn. */
  #swaps: {
    id: string;
    rev: number;
    columns: unknown[];
    resolve: (rev: number | undefined) => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(db: PgDb, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /**
   * Atomic read-modify-write in one round trip when this replica wrote the deployment last (a
   * piped reports to one replica at a time): the document and its `rev` are remembered, and the
   * UPDATE applies only if `rev` is unchanged (compare-and-swap). Otherwise, or when another
   * replica wrote in between, the row is read again and the update retried; after
   * {@link CAS_ATTEMPTS} lost races it takes the row lock instead. Before, every update was four
   * round trips (BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT): 613 stage reports/s in `make bench`.
   */
  update(id: string, fn: (d: Deployment) => void): Promise<Deployment> {
    // Updates of one deployment on this replica run one after another, so they never race each
    // other; updates of different deployments go out together (see #compareAndSwap).
    const run = (this.#tails.get(id) ?? Promise.resolve()).then(() => this.#update(id, fn));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return run;
  }

  /**
   * Writes `columns` if the row is still at `rev`; resolves with its new rev, or undefined if it
   * moved on. Swaps asked for in one event-loop turn go out as ONE statement (group commit, as
   * with SQLite): under load a round trip serves many reports.
   */
  #compareAndSwap(id: string, rev: number, columns: unknown[]): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      if (this.#swaps.push({ id, rev, columns, resolve, reject }) === 1)
        setImmediate(() => void this.#flushSwaps());
    });
  }

  async #flushSwaps(): Promise<void> {
    // In id order, so that two replicas' batches lock shared rows in the same order (no
    // deadlock between them).
    const swaps = this.#swaps.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#swaps = [];
    const col = (i: number) => swaps.map((w) => w.columns[i]);
    try {
      const rows = await this.#db.query<{ id: string; rev: string }>(
        `update ${swaps.length} deployment(s)`,
        `UPDATE deployments AS d SET project_id = v.project_id, piped_id = v.piped_id,
           application_id = v.application_id, status = v.status, created_at = v.created_at,
           updated_at = v.updated_at, data = v.data, rev = d.rev + 1
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::bigint[],
                     $7::bigint[], $8::bytea[], $9::bigint[])
           AS v(id, project_id, piped_id, application_id, status, created_at, updated_at, data, rev)
         WHERE d.id = v.id AND d.rev = v.rev
         RETURNING d.id, d.rev`,
        [
          swaps.map((w) => w.id),
          col(0),
          col(1),
          col(2),
          col(3),
          col(4),
          col(5),
          col(6),
          swaps.map((w) => w.rev),
        ],
      );
      const revs = new Map(rows.map((r) => [r.id, Number(r.rev)]));
      for (const w of swaps) w.resolve(revs.get(w.id));
    } catch (err) {
      for (const w of swaps) w.reject(err);
    }
  }

  async #update(id: string, fn: (d: Deployment) => void): Promise<Deployment> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      let known = this.#recent.get(id);
      if (!known) {
        const [row] = await this.#db.query<DataRow & { rev: string }>(
          `get deployment ${id}`,
          "SELECT data, rev FROM deployments WHERE id = $1",
          [id],
        );
        if (!row) throw new NotFoundError(`deployment ${id} not found`);
        known = { rev: Number(row.rev), data: row.data };
      }
      let next: Deployment;
      try {
        next = applyDeploymentUpdate(decode(DeploymentSchema, known), fn, this.#clock);
      } catch (err) {
        // Refused on what we remembered: make sure it was current before saying so.
        if (this.#recent.delete(id)) continue;
        throw err;
      }
      const columns = deploymentColumns(next);
      const rev = await this.#compareAndSwap(id, known.rev, columns);
      if (rev !== undefined) {
        this.#recent.set(id, { rev, data: columns[6] as Buffer });
        return next;
      }
      this.#recent.delete(id); // another replica wrote it (or it is gone): read again
    }
    const { next, rev, data } = await this.#db.tx(`update deployment ${id}`, async (q) => {
      const [row] = await q<DataRow>("SELECT data FROM deployments WHERE id = $1 FOR UPDATE", [id]);
      if (!row) throw new NotFoundError(`deployment ${id} not found`);
      const next = applyDeploymentUpdate(decode(DeploymentSchema, row), fn, this.#clock);
      const columns = deploymentColumns(next);
      const [done] = await q<{ rev: string }>(
        `UPDATE deployments SET project_id = $1, piped_id = $2, application_id = $3, status = $4, created_at = $5,
         updated_at = $6, data = $7, rev = rev + 1 WHERE id = $8 RETURNING rev`,
        [...columns, id],
      );
      return { next, rev: done ? Number(done.rev) : undefined, data: columns[6] as Buffer };
    });
    // Remembered only once committed: a failed COMMIT must not leave a revision that never was.
    if (rev !== undefined) this.#recent.set(id, { rev, data });
    return next;
  }
}
