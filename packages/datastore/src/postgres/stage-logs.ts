import { toBinary } from "@bufbuild/protobuf";
import { LogBlockSchema, type LogBlock } from "@pipecd-ts/proto";
import { FailedPreconditionError } from "@pipecd-ts/runtime";
import { asBuffer } from "../internal/entities.js";
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
import type { PgQuery } from "./db.js";
import { decode, type PgContext } from "./util.js";

const KEY = "deployment_id = $1 AND stage_id = $2 AND retried_count = $3";

/** Advisory lock class of stage logs (two-int keyspace, apart from the migration lock). */
const STAGE_LOG_LOCK_CLASS = 7301;

/** PostgreSQL {@link StageLogRepository}. */
export class PgStageLogRepository implements StageLogRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async append(
    key: StageLogKey,
    blocks: LogBlock[],
    opts: StageLogAppendOptions = {},
  ): Promise<number> {
    checkStageLogKey(key);
    const k = [key.deploymentId, key.stageId, key.retriedCount];
    let added = 0;
    // One transaction per chunk: a large append never holds a connection, or the rows of this
    // log, for long; blocks are deduplicated by index, so a retried partial append is harmless.
    const parts = blocks.length ? [...chunks(blocks, APPEND_CHUNK)] : [[]];
    for (const chunk of parts) {
      const indexes = chunk.map((b) => b.index.toString());
      const datas = chunk.map((b) => asBuffer(toBinary(LogBlockSchema, b)));
      added += await this.#c.db.tx(`append to ${stageLogName(key)}`, async (q) => {
        // Appends share the lock and complete() takes it exclusively, so no block slips in
        // after the log was completed.
        await lock(q, key, "pg_advisory_xact_lock_shared");
        if (await isCompleted(q, key))
          throw new FailedPreconditionError(`${stageLogName(key)} is completed`);
        if (chunk.length === 0) return 0;
        const rows = await q<{ n: number }>(
          `INSERT INTO stage_log_blocks (deployment_id, stage_id, retried_count, block_index, data)
           SELECT $1, $2, $3, b.i, b.d FROM unnest($4::bigint[], $5::bytea[]) AS b (i, d)
           ON CONFLICT DO NOTHING RETURNING octet_length(data) AS n`,
          [...k, indexes, datas],
        );
        const bytes = rows.reduce((sum, r) => sum + Number(r.n), 0);
        await q(
          `INSERT INTO stage_log_stats (deployment_id, stage_id, retried_count, bytes, dropped_blocks, dropped_bytes)
           VALUES ($1, $2, $3, $4, 0, 0)
           ON CONFLICT (deployment_id, stage_id, retried_count)
           DO UPDATE SET bytes = stage_log_stats.bytes + excluded.bytes`,
          [...k, bytes],
        );
        if (opts.maxBytes !== undefined) await trim(q, key, opts.maxBytes);
        return rows.length;
      });
    }
    return added;
  }

  async complete(key: StageLogKey): Promise<void> {
    checkStageLogKey(key);
    const now = this.#c.clock.now().getTime();
    await this.#c.db.tx(`complete ${stageLogName(key)}`, async (q) => {
      await lock(q, key, "pg_advisory_xact_lock");
      await q(
        `INSERT INTO stage_log_completions (deployment_id, stage_id, retried_count, completed_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [key.deploymentId, key.stageId, key.retriedCount, now],
      );
    });
  }

  async get(key: StageLogKey, opts: StageLogGetOptions = {}): Promise<StageLogPage> {
    checkStageLogKey(key);
    const params: unknown[] = [key.deploymentId, key.stageId, key.retriedCount];
    let filter = "";
    if (opts.afterIndex !== undefined) {
      params.push(opts.afterIndex);
      filter = `AND block_index > $${params.length}`;
    }
    let limit = "";
    if (opts.limit !== undefined) {
      params.push(opts.limit + 1);
      limit = `LIMIT $${params.length}`;
    }
    // One statement, so the blocks, the flag and the counts come from the same snapshot.
    const [row] = await this.#c.db.query<{
      completed: boolean;
      blocks: Buffer[];
      dropped_blocks: string | null;
      dropped_bytes: string | null;
      first_kept: string | null;
    }>(
      `get ${stageLogName(key)}`,
      `SELECT EXISTS (SELECT 1 FROM stage_log_completions WHERE ${KEY}) AS completed,
         COALESCE((SELECT array_agg(data ORDER BY block_index) FROM
                     (SELECT data, block_index FROM stage_log_blocks WHERE ${KEY} ${filter}
                      ORDER BY block_index ${limit}) AS page), '{}') AS blocks,
         (SELECT dropped_blocks FROM stage_log_stats WHERE ${KEY}) AS dropped_blocks,
         (SELECT dropped_bytes FROM stage_log_stats WHERE ${KEY}) AS dropped_bytes,
         (SELECT MIN(block_index) FROM stage_log_blocks WHERE ${KEY}) AS first_kept`,
      params,
    );
    const all = (row?.blocks ?? []).map((data) => decode(LogBlockSchema, { data }));
    const more = opts.limit !== undefined && all.length > opts.limit;
    const page: StageLogPage = {
      blocks: more ? all.slice(0, opts.limit) : all,
      completed: row?.completed ?? false,
      more,
    };
    if (Number(row?.dropped_blocks ?? 0) > 0)
      page.dropped = {
        blocks: Number(row?.dropped_blocks),
        bytes: Number(row?.dropped_bytes),
        firstKeptIndex: BigInt(row?.first_kept ?? 0),
      };
    return page;
  }
}

/** Drops the oldest blocks while the log is over `maxBytes`, a bounded number per call. */
async function trim(q: PgQuery, key: StageLogKey, maxBytes: number): Promise<void> {
  const k = [key.deploymentId, key.stageId, key.retriedCount];
  const [stats] = await q<{ bytes: string }>(`SELECT bytes FROM stage_log_stats WHERE ${KEY}`, k);
  const bytes = Number(stats?.bytes ?? 0);
  if (bytes <= maxBytes) return;
  const rows = await q<{ i: string; n: number }>(
    `SELECT block_index AS i, octet_length(data) AS n FROM stage_log_blocks WHERE ${KEY}
     ORDER BY block_index ASC LIMIT $4`,
    [...k, TRIM_ROWS_PER_WRITE],
  );
  const goal = bytes - trimTarget(maxBytes);
  let freed = 0;
  let count = 0;
  let last: string | undefined;
  for (const r of rows) {
    if (freed >= goal) break;
    freed += Number(r.n);
    count++;
    last = r.i;
  }
  if (last === undefined) return;
  await q(`DELETE FROM stage_log_blocks WHERE ${KEY} AND block_index <= $4`, [...k, last]);
  await q(
    `UPDATE stage_log_stats SET bytes = bytes - $4, dropped_blocks = dropped_blocks + $5,
     dropped_bytes = dropped_bytes + $6 WHERE ${KEY}`,
    [...k, freed, count, freed],
  );
}

function lock(
  q: PgQuery,
  key: StageLogKey,
  fn: "pg_advisory_xact_lock" | "pg_advisory_xact_lock_shared",
): Promise<unknown> {
  return q(`SELECT ${fn}($1, hashtext($2))`, [
    STAGE_LOG_LOCK_CLASS,
    `${key.deploymentId}/${key.stageId}/${key.retriedCount}`,
  ]);
}

async function isCompleted(q: PgQuery, key: StageLogKey): Promise<boolean> {
  const rows = await q(`SELECT 1 FROM stage_log_completions WHERE ${KEY}`, [
    key.deploymentId,
    key.stageId,
    key.retriedCount,
  ]);
  return rows.length > 0;
}
