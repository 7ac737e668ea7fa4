import { toBinary } from "@bufbuild/protobuf";
import { LogBlockSchema, type LogBlock } from "@pipecd-ts/proto";
import { FailedPreconditionError } from "@pipecd-ts/runtime";
import { asBuffer } from "../internal/entities.js";
import { checkStageLogKey, stageLogName } from "../internal/stage-log-key.js";
import type { StageLogKey, StageLogRepository } from "../types.js";
import { decode, type DataRow, type SqliteContext } from "./util.js";

const KEY = "deployment_id = ? AND stage_id = ? AND retried_count = ?";

/** SQLite {@link StageLogRepository}. */
export class SqliteStageLogRepository implements StageLogRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async append(key: StageLogKey, blocks: LogBlock[]): Promise<number> {
    checkStageLogKey(key);
    const rows = blocks.map((b) => ({
      index: b.index,
      data: asBuffer(toBinary(LogBlockSchema, b)),
    }));
    return this.#c.db.write(`append to ${stageLogName(key)}`, () => {
      if (this.#isCompleted(key))
        throw new FailedPreconditionError(`${stageLogName(key)} is completed`);
      const insert = this.#c.db.prepare(
        `INSERT INTO stage_log_blocks (deployment_id, stage_id, retried_count, block_index, data)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      );
      let added = 0;
      for (const r of rows) {
        added += insert.run(
          key.deploymentId,
          key.stageId,
          key.retriedCount,
          r.index,
          r.data,
        ).changes;
      }
      return added;
    });
  }

  async complete(key: StageLogKey): Promise<void> {
    checkStageLogKey(key);
    const now = this.#c.clock.now().getTime();
    return this.#c.db.write(`complete ${stageLogName(key)}`, () => {
      this.#c.db
        .prepare(
          `INSERT INTO stage_log_completions (deployment_id, stage_id, retried_count, completed_at)
           VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(key.deploymentId, key.stageId, key.retriedCount, now);
    });
  }

  async get(
    key: StageLogKey,
    afterIndex?: bigint,
  ): Promise<{ blocks: LogBlock[]; completed: boolean }> {
    checkStageLogKey(key);
    return this.#c.db.read(`get ${stageLogName(key)}`, () => {
      const params: unknown[] = [key.deploymentId, key.stageId, key.retriedCount];
      if (afterIndex !== undefined) params.push(afterIndex);
      const rows = this.#c.db
        .prepare(
          `SELECT data FROM stage_log_blocks WHERE ${KEY} ${afterIndex !== undefined ? "AND block_index > ?" : ""}
           ORDER BY block_index ASC`,
        )
        .all(...params) as DataRow[];
      return {
        blocks: rows.map((r) => decode(LogBlockSchema, r)),
        completed: this.#isCompleted(key),
      };
    });
  }

  #isCompleted(key: StageLogKey): boolean {
    const row = this.#c.db
      .prepare(`SELECT 1 FROM stage_log_completions WHERE ${KEY}`)
      .get(key.deploymentId, key.stageId, key.retriedCount);
    return row !== undefined;
  }
}
