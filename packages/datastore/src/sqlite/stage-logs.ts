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
import { decode, type DataRow, type SqliteContext } from "./util.js";

const KEY = "deployment_id = ? AND stage_id = ? AND retried_count = ?";

interface StatsRow {
  bytes: number;
  dropped_blocks: number;
  dropped_bytes: number;
}

/** SQLite {@link StageLogRepository}. */
export class SqliteStageLogRepository implements StageLogRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async append(
    key: StageLogKey,
    blocks: LogBlock[],
    opts: StageLogAppendOptions = {},
  ): Promise<number> {
    checkStageLogKey(key);
    const k = [key.deploymentId, key.stageId, key.retriedCount] as const;
    let added = 0;
    // One write (transaction) per chunk: a large append never holds the event loop, and so the
    // server, for more than one chunk's worth of inserts. Blocks are deduplicated by index, so a
    // retried append after a partial one is harmless.
    for (const chunk of chunks(blocks, APPEND_CHUNK)) {
      const rows = chunk.map((b) => ({
        index: b.index,
        data: asBuffer(toBinary(LogBlockSchema, b)),
      }));
      added += await this.#c.db.write(`append to ${stageLogName(key)}`, () => {
        if (this.#isCompleted(key))
          throw new FailedPreconditionError(`${stageLogName(key)} is completed`);
        const insert = this.#c.db.prepare(
          `INSERT INTO stage_log_blocks (deployment_id, stage_id, retried_count, block_index, data)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        );
        let n = 0;
        let bytes = 0;
        for (const r of rows)
          if (insert.run(...k, r.index, r.data).changes) {
            n++;
            bytes += r.data.length;
          }
        this.#c.db
          .prepare(
            `INSERT INTO stage_log_stats (deployment_id, stage_id, retried_count, bytes, dropped_blocks, dropped_bytes)
             VALUES (?, ?, ?, ?, 0, 0)
             ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes`,
          )
          .run(...k, bytes);
        if (opts.maxBytes !== undefined) this.#trim(key, opts.maxBytes);
        return n;
      });
    }
    if (blocks.length === 0)
      await this.#c.db.read(`check ${stageLogName(key)}`, () => {
        if (this.#isCompleted(key))
          throw new FailedPreconditionError(`${stageLogName(key)} is completed`);
      });
    return added;
  }

  /** Drops the oldest blocks while the log is over `maxBytes`, a bounded number per write. */
  #trim(key: StageLogKey, maxBytes: number): void {
    const k = [key.deploymentId, key.stageId, key.retriedCount] as const;
    const stats = this.#stats(key);
    if (!stats || stats.bytes <= maxBytes) return;
    const rows = this.#c.db
      .prepare(
        `SELECT block_index AS i, length(data) AS n FROM stage_log_blocks WHERE ${KEY}
         ORDER BY block_index ASC LIMIT ?`,
      )
      .all(...k, TRIM_ROWS_PER_WRITE) as { i: number | bigint; n: number }[];
    let freed = 0;
    let count = 0;
    let last: number | bigint | undefined;
    const goal = stats.bytes - trimTarget(maxBytes);
    for (const r of rows) {
      if (freed >= goal) break;
      freed += r.n;
      count++;
      last = r.i;
    }
    if (last === undefined) return;
    this.#c.db
      .prepare(`DELETE FROM stage_log_blocks WHERE ${KEY} AND block_index <= ?`)
      .run(...k, last);
    this.#c.db
      .prepare(
        `UPDATE stage_log_stats SET bytes = bytes - ?, dropped_blocks = dropped_blocks + ?,
         dropped_bytes = dropped_bytes + ? WHERE ${KEY}`,
      )
      .run(freed, count, freed, ...k);
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

  async get(key: StageLogKey, opts: StageLogGetOptions = {}): Promise<StageLogPage> {
    checkStageLogKey(key);
    return this.#c.db.read(`get ${stageLogName(key)}`, () => {
      const params: unknown[] = [key.deploymentId, key.stageId, key.retriedCount];
      if (opts.afterIndex !== undefined) params.push(opts.afterIndex);
      if (opts.limit !== undefined) params.push(opts.limit + 1);
      const rows = this.#c.db
        .prepare(
          `SELECT data FROM stage_log_blocks WHERE ${KEY} ${opts.afterIndex !== undefined ? "AND block_index > ?" : ""}
           ORDER BY block_index ASC ${opts.limit !== undefined ? "LIMIT ?" : ""}`,
        )
        .all(...params) as DataRow[];
      const more = opts.limit !== undefined && rows.length > opts.limit;
      const page: StageLogPage = {
        blocks: (more ? rows.slice(0, opts.limit) : rows).map((r) => decode(LogBlockSchema, r)),
        completed: this.#isCompleted(key),
        more,
      };
      const stats = this.#stats(key);
      if (stats && stats.dropped_blocks > 0) {
        const first = this.#c.db
          .prepare(`SELECT MIN(block_index) AS i FROM stage_log_blocks WHERE ${KEY}`)
          .get(key.deploymentId, key.stageId, key.retriedCount) as { i: number | bigint | null };
        page.dropped = {
          blocks: Number(stats.dropped_blocks),
          bytes: Number(stats.dropped_bytes),
          firstKeptIndex: BigInt(first.i ?? 0),
        };
      }
      return page;
    });
  }

  #stats(key: StageLogKey): StatsRow | undefined {
    return this.#c.db
      .prepare(`SELECT bytes, dropped_blocks, dropped_bytes FROM stage_log_stats WHERE ${KEY}`)
      .get(key.deploymentId, key.stageId, key.retriedCount) as StatsRow | undefined;
  }

  #isCompleted(key: StageLogKey): boolean {
    const row = this.#c.db
      .prepare(`SELECT 1 FROM stage_log_completions WHERE ${KEY}`)
      .get(key.deploymentId, key.stageId, key.retriedCount);
    return row !== undefined;
  }
}
