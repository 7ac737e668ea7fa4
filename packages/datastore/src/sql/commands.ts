import { CommandSchema, CommandStatus, type Command } from "@pipecd-ts/proto";
import { NotFoundError } from "@pipecd-ts/runtime";
import { applyMarkHandled, tsMs } from "../internal/entities.js";
import { clampLimit } from "../internal/paging.js";
import {
  commandColumns,
  commandInsertError,
  decode,
  encode,
  prepareCommand,
  type DataRow,
} from "../internal/rows.js";
import type { CommandFilter, CommandRepository } from "../types.js";
import { execute, first, query, type SqlContext, Where } from "./program.js";

/** {@link CommandRepository} over either driver. */
export class SqlCommandRepository implements CommandRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async create(cmd: Command, opts?: { dedupKey?: string }): Promise<Command> {
    const { c, dedupKey } = prepareCommand(cmd, opts, this.#c.clock);
    const dialect = this.#c.db.dialect;
    return this.#c.db.write(`create command ${c.id}`, function* () {
      // The counter lives on the piped row and moves in the same transaction as the insert, so
      // sequences have no gaps and no duplicates (on PostgreSQL the UPDATE holds the row lock
      // until COMMIT, so concurrent creates commit in sequence order); a failed insert rolls
      // the increment back.
      const row = yield* first<{ command_seq: number | string }>(
        "UPDATE pipeds SET command_seq = command_seq + 1 WHERE id = ? RETURNING command_seq",
        [c.pipedId],
      );
      if (!row) throw new NotFoundError(`piped ${c.pipedId} not found`);
      c.sequence = BigInt(row.command_seq);
      try {
        yield* execute(
          `INSERT INTO commands (id, project_id, piped_id, seq, status, type, deployment_id, stage_id, dedup_key,
           created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          commandColumns(c, c.sequence, dedupKey),
        );
      } catch (err) {
        throw commandInsertError(
          err,
          c,
          dedupKey,
          dialect.isUniqueViolation(err, { table: "commands", column: "dedup_key" })
            ? "dedup"
            : dialect.isUniqueViolation(err)
              ? "unique"
              : undefined,
        );
      }
      return c;
    });
  }

  async get(id: string): Promise<Command> {
    return this.#c.db.read(`get command ${id}`, function* () {
      const row = yield* first<DataRow>("SELECT data FROM commands WHERE id = ?", [id]);
      if (!row) throw new NotFoundError(`command ${id} not found`);
      return decode(CommandSchema, row);
    });
  }

  async listUnhandledAfter(
    pipedId: string,
    afterSequence: bigint,
    limit?: number,
  ): Promise<Command[]> {
    return this.#c.db.read(`list unhandled commands of ${pipedId}`, function* () {
      const rows = yield* query<DataRow>(
        "SELECT data FROM commands WHERE piped_id = ? AND seq > ? AND status = ? ORDER BY seq ASC LIMIT ?",
        [pipedId, afterSequence, CommandStatus.COMMAND_NOT_HANDLED_YET, clampLimit(limit)],
      );
      return rows.map((r) => decode(CommandSchema, r));
    });
  }

  async list(filter: CommandFilter): Promise<Command[]> {
    const where = new Where()
      .eq("piped_id", filter.pipedId)
      .eq("deployment_id", filter.deploymentId)
      .eq("stage_id", filter.stageId)
      .eq("type", filter.type)
      .eq("status", filter.status);
    const text = `SELECT data FROM commands ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const params = [...where.params, clampLimit(filter.limit)];
    return this.#c.db.read("list commands", function* () {
      const rows = yield* query<DataRow>(text, params);
      return rows.map((r) => decode(CommandSchema, r));
    });
  }

  async markHandled(
    id: string,
    status: CommandStatus,
    metadata: Record<string, string>,
    handledAt: Date,
    output?: Uint8Array,
  ): Promise<Command> {
    const clock = this.#c.clock;
    const forUpdate = this.#c.db.dialect.forUpdate;
    return this.#c.db.write(`mark command ${id} handled`, function* () {
      const row = yield* first<DataRow>(`SELECT data FROM commands WHERE id = ?${forUpdate}`, [id]);
      if (!row) throw new NotFoundError(`command ${id} not found`);
      const cmd = decode(CommandSchema, row);
      const next = applyMarkHandled(cmd, status, metadata, handledAt, clock, output);
      if (!next) return cmd;
      yield* execute("UPDATE commands SET status = ?, updated_at = ?, data = ? WHERE id = ?", [
        next.status,
        tsMs(next.updatedAt),
        encode(CommandSchema, next),
        id,
      ]);
      return next;
    });
  }
}
