import { LogBlockSchema, type LogBlock } from "@pipecd-ts/proto";
import { FailedPreconditionError } from "@pipecd-ts/runtime";
import { decode, encode, type DataRow } from "../internal/rows.js";
import {
  APPEND_CHUNK,
  TRIM_ROWS_PER_WRITE,
  checkStageLogKey,
  chunks,
  stageLogName,
  trimTarget,
} from "../internal/stage-log-key.js";
import type {
  StageLogAppendOptions,
  StageLogGetOptions,
  StageLogKey,
  StageLogPage,
  StageLogRepository,
} from "../types.js";
import {
  execute,
  first,
  placeholders,
  query,
  type Dialect,
  type Program,
  type SqlContext,
} from "./program.js";

const KEY = "deployment_id = ? AND stage_id = ? AND retried_count = ?";

/** Advisory lock class of stage logs on PostgreSQL (two-int keyspace, apart from migrations). */
const STAGE_LOG_LOCK_CLASS = 7301;

const keyOf = (key: StageLogKey): unknown[] => [key.deploymentId, key.stageId, key.retriedCount];

/** {@link StageLogRepository} over either driver. */
export class SqlStageLogRepository implements StageLogRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async append(
    key: StageLogKey,
    blocks: LogBlock[],
    opts: StageLogAppendOptions = {},
  ): Promise<number> {
    checkStageLogKey(key);
    const dialect = this.#c.db.dialect;
    const k = keyOf(key);
    let added = 0;
    // One transaction per chunk: a large append never holds the database (SQLite's event loop,
    // a PostgreSQL connection) for long. Blocks are deduplicated by index, so a retried append
    // after a partial one is harmless. No blocks: the call still checks the log is open.
    const parts = blocks.length ? [...chunks(blocks, APPEND_CHUNK)] : [[]];
    for (const chunk of parts) {
      const values = chunk.flatMap((b) => [...k, b.index, encode(LogBlockSchema, b)]);
      added += await this.#c.db.write(`append to ${stageLogName(key)}`, function* () {
        // Appends share the lock and complete() takes it exclusively, so no block slips in
        // after the log was completed.
        yield* lock(dialect, key, true);
        if (yield* isCompleted(key))
          throw new FailedPreconditionError(`${stageLogName(key)} is completed`);
        if (chunk.length === 0) return 0;
        const rows = yield* query<{ n: number }>(
          `INSERT INTO stage_log_blocks (deployment_id, stage_id, retried_count, block_index, data)
           VALUES ${chunk.map(() => `(${placeholders(5)})`).join(", ")}
           ON CONFLICT DO NOTHING RETURNING octet_length(data) AS n`,
          values,
        );
        const bytes = rows.reduce((sum, r) => sum + Number(r.n), 0);
        yield* execute(
          `INSERT INTO stage_log_stats (deployment_id, stage_id, retried_count, bytes, dropped_blocks, dropped_bytes)
           VALUES (?, ?, ?, ?, 0, 0)
           ON CONFLICT (deployment_id, stage_id, retried_count)
           DO UPDATE SET bytes = stage_log_stats.bytes + excluded.bytes`,
          [...k, bytes],
        );
        if (opts.maxBytes !== undefined) yield* trim(key, opts.maxBytes);
        return rows.length;
      });
    }
    return added;
  }

  async complete(key: StageLogKey): Promise<void> {
    checkStageLogKey(key);
    const now = this.#c.clock.now().getTime();
    const dialect = this.#c.db.dialect;
    await this.#c.db.write(`complete ${stageLogName(key)}`, function* () {
      yield* lock(dialect, key, false);
      yield* execute(
        `INSERT INTO stage_log_completions (deployment_id, stage_id, retried_count, completed_at)
         VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [...keyOf(key), now],
      );
    });
  }

  async get(key: StageLogKey, opts: StageLogGetOptions = {}): Promise<StageLogPage> {
    checkStageLogKey(key);
    const k = keyOf(key);
    const params = [...k];
    if (opts.afterIndex !== undefined) params.push(opts.afterIndex);
    if (opts.limit !== undefined) params.push(opts.limit + 1);
    // The blocks, the flag and the counts come from one snapshot.
    return this.#c.db.snapshot(`get ${stageLogName(key)}`, function* () {
      const rows = yield* query<DataRow>(
        `SELECT data FROM stage_log_blocks WHERE ${KEY} ${opts.afterIndex !== undefined ? "AND block_index > ?" : ""}
         ORDER BY block_index ASC ${opts.limit !== undefined ? "LIMIT ?" : ""}`,
        params,
      );
      const info = yield* first<{
        completed: boolean | number;
        dropped_blocks: number | string | null;
        dropped_bytes: number | string | null;
        first_kept: number | string | null;
      }>(
        `SELECT EXISTS (SELECT 1 FROM stage_log_completions WHERE ${KEY}) AS completed,
           (SELECT dropped_blocks FROM stage_log_stats WHERE ${KEY}) AS dropped_blocks,
           (SELECT dropped_bytes FROM stage_log_stats WHERE ${KEY}) AS dropped_bytes,
           (SELECT MIN(block_index) FROM stage_log_blocks WHERE ${KEY}) AS first_kept`,
        [...k, ...k, ...k, ...k],
      );
      const more = opts.limit !== undefined && rows.length > opts.limit;
      const page: StageLogPage = {
        blocks: (more ? rows.slice(0, opts.limit) : rows).map((r) => decode(LogBlockSchema, r)),
        completed: Boolean(info?.completed),
        more,
      };
      if (Number(info?.dropped_blocks ?? 0) > 0)
        page.dropped = {
          blocks: Number(info?.dropped_blocks),
          bytes: Number(info?.dropped_bytes),
          firstKeptIndex: BigInt(info?.first_kept ?? 0),
        };
      return page;
    });
  }
}

/** Drops the oldest blocks while the log is over `maxBytes`, a bounded number per write. */
function* trim(key: StageLogKey, maxBytes: number): Program<void> {
  const k = keyOf(key);
  const stats = yield* first<{ bytes: number | string }>(
    `SELECT bytes FROM stage_log_stats WHERE ${KEY}`,
    k,
  );
  const bytes = Number(stats?.bytes ?? 0);
  if (bytes <= maxBytes) return;
  const rows = yield* query<{ i: number | string | bigint; n: number }>(
    `SELECT block_index AS i, octet_length(data) AS n FROM stage_log_blocks WHERE ${KEY}
     ORDER BY block_index ASC LIMIT ?`,
    [...k, TRIM_ROWS_PER_WRITE],
  );
  const goal = bytes - trimTarget(maxBytes);
  let freed = 0;
  let count = 0;
  let last: number | string | bigint | undefined;
  for (const r of rows) {
    if (freed >= goal) break;
    freed += Number(r.n);
    count++;
    last = r.i;
  }
  if (last === undefined) return;
  yield* execute(`DELETE FROM stage_log_blocks WHERE ${KEY} AND block_index <= ?`, [...k, last]);
  yield* execute(
    `UPDATE stage_log_stats SET bytes = bytes - ?, dropped_blocks = dropped_blocks + ?,
     dropped_bytes = dropped_bytes + ? WHERE ${KEY}`,
    [freed, count, freed, ...k],
  );
}

function* lock(dialect: Dialect, key: StageLogKey, shared: boolean): Program<void> {
  const s = dialect.lock(
    STAGE_LOG_LOCK_CLASS,
    `${key.deploymentId}/${key.stageId}/${key.retriedCount}`,
    shared,
  );
  if (s) yield s;
}

function* isCompleted(key: StageLogKey): Program<boolean> {
  const rows = yield* query(`SELECT 1 FROM stage_log_completions WHERE ${KEY}`, keyOf(key));
  return rows.length > 0;
}
