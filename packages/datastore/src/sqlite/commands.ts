import { toBinary } from "@bufbuild/protobuf";
import { CommandSchema, CommandStatus, type Command } from "@pipecd-ts/proto";
import { NotFoundError } from "@pipecd-ts/runtime";
import { applyMarkHandled, asBuffer, tsMs } from "../internal/entities.js";
import { clampLimit } from "../internal/paging.js";
import type { CommandFilter, CommandRepository } from "../types.js";
import { decode, isUniqueViolation, type DataRow, type SqliteContext } from "./util.js";
import { commandColumns, commandInsertError, prepareCommand } from "../internal/rows.js";

/** SQLite {@link CommandRepository}. */
export class SqliteCommandRepository implements CommandRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async create(cmd: Command, opts?: { dedupKey?: string }): Promise<Command> {
    const { c, dedupKey } = prepareCommand(cmd, opts, this.#c.clock);
    return this.#c.db.write(`create command ${c.id}`, () => {
      // The counter lives on the piped row and moves in the same transaction as the insert, so
      // sequences have no gaps and no duplicates; a failed insert rolls the increment back.
      const seq = this.#c.db
        .prepare(
          "UPDATE pipeds SET command_seq = command_seq + 1 WHERE id = ? RETURNING command_seq",
        )
        .pluck()
        .get(c.pipedId) as number | undefined;
      if (seq === undefined) throw new NotFoundError(`piped ${c.pipedId} not found`);
      c.sequence = BigInt(seq);
      try {
        this.#c.db
          .prepare(
            `INSERT INTO commands (id, project_id, piped_id, seq, status, type, deployment_id, stage_id, dedup_key,
             created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(...commandColumns(c, c.sequence, dedupKey));
      } catch (err) {
        throw commandInsertError(
          err,
          c,
          dedupKey,
          isUniqueViolation(err, "commands.dedup_key")
            ? "dedup"
            : isUniqueViolation(err)
              ? "unique"
              : undefined,
        );
      }
      return c;
    });
  }

  async get(id: string): Promise<Command> {
    return this.#c.db.read(`get command ${id}`, () => decode(CommandSchema, this.#load(id)));
  }

  async listUnhandledAfter(
    pipedId: string,
    afterSequence: bigint,
    limit?: number,
  ): Promise<Command[]> {
    return this.#c.db.read(`list unhandled commands of ${pipedId}`, () => {
      const rows = this.#c.db
        .prepare(
          "SELECT data FROM commands WHERE piped_id = ? AND seq > ? AND status = ? ORDER BY seq ASC LIMIT ?",
        )
        .all(
          pipedId,
          afterSequence,
          CommandStatus.COMMAND_NOT_HANDLED_YET,
          clampLimit(limit),
        ) as DataRow[];
      return rows.map((r) => decode(CommandSchema, r));
    });
  }

  async list(filter: CommandFilter): Promise<Command[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const eq = (column: string, value: unknown): void => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    eq("piped_id", filter.pipedId);
    eq("deployment_id", filter.deploymentId);
    eq("stage_id", filter.stageId);
    eq("type", filter.type);
    eq("status", filter.status);
    const sql = `SELECT data FROM commands ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#c.db.read("list commands", () => {
      const rows = this.#c.db.prepare(sql).all(...params, clampLimit(filter.limit)) as DataRow[];
      return rows.map((r) => decode(CommandSchema, r));
    });
  }

  async markHandled(
    id: string,
    status: CommandStatus,
    metadata: Record<string, string>,
    handledAt: Date,
  ): Promise<Command> {
    return this.#c.db.write(`mark command ${id} handled`, () => {
      const cmd = decode(CommandSchema, this.#load(id));
      const next = applyMarkHandled(cmd, status, metadata, handledAt, this.#c.clock);
      if (!next) return cmd;
      this.#c.db
        .prepare("UPDATE commands SET status = ?, updated_at = ?, data = ? WHERE id = ?")
        .run(next.status, tsMs(next.updatedAt), asBuffer(toBinary(CommandSchema, next)), id);
      return next;
    });
  }

  #load(id: string): DataRow {
    const row = this.#c.db.prepare("SELECT data FROM commands WHERE id = ?").get(id) as
      DataRow | undefined;
    if (!row) throw new NotFoundError(`command ${id} not found`);
    return row;
  }
}
