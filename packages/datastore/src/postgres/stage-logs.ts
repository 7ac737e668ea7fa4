import { toBinary } from "@bufbuild/protobuf";
import { LogBlockSchema, type LogBlock } from "@pipecd-ts/proto";
import { FailedPreconditionError } from "@pipecd-ts/runtime";
import { asBuffer } from "../internal/entities.js";
import { checkStageLogKey, stageLogName } from "../internal/stage-log-key.js";
import type { StageLogKey, StageLogRepository } from "../types.js";
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

  async append(key: StageLogKey, blocks: LogBlock[]): Promise<number> {
    checkStageLogKey(key);
    const indexes = blocks.map((b) => b.index.toString());
    const datas = blocks.map((b) => asBuffer(toBinary(LogBlockSchema, b)));
    return this.#c.db.tx(`append to ${stageLogName(key)}`, async (q) => {
      // Appends share the lock and complete() takes it exclusively, so no block slips in after
      // the log was completed.
      await lock(q, key, "pg_advisory_xact_lock_shared");
      if (await isCompleted(q, key))
        throw new FailedPreconditionError(`${stageLogName(key)} is completed`);
      if (blocks.length === 0) return 0;
      const rows = await q(
        `INSERT INTO stage_log_blocks (deployment_id, stage_id, retried_count, block_index, data)
         SELECT $1, $2, $3, b.i, b.d FROM unnest($4::bigint[], $5::bytea[]) AS b (i, d)
         ON CONFLICT DO NOTHING RETURNING block_index`,
        [key.deploymentId, key.stageId, key.retriedCount, indexes, datas],
      );
      return rows.length;
    });
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

  async get(
    key: StageLogKey,
    afterIndex?: bigint,
  ): Promise<{ blocks: LogBlock[]; completed: boolean }> {
    checkStageLogKey(key);
    const params: unknown[] = [key.deploymentId, key.stageId, key.retriedCount];
    if (afterIndex !== undefined) params.push(afterIndex);
    // One statement, so the blocks and the flag come from the same snapshot.
    const [row] = await this.#c.db.query<{ completed: boolean; blocks: Buffer[] }>(
      `get ${stageLogName(key)}`,
      `SELECT EXISTS (SELECT 1 FROM stage_log_completions WHERE ${KEY}) AS completed,
         COALESCE((SELECT array_agg(data ORDER BY block_index) FROM stage_log_blocks
                   WHERE ${KEY} ${afterIndex !== undefined ? "AND block_index > $4" : ""}), '{}') AS blocks`,
      params,
    );
    return {
      blocks: (row?.blocks ?? []).map((data) => decode(LogBlockSchema, { data })),
      completed: row?.completed ?? false,
    };
  }
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
