import { toBinary } from "@bufbuild/protobuf";
import { CommandSchema, CommandStatus, type Command } from "@pipecd-ts/proto";
import { NotFoundError } from "@pipecd-ts/runtime";
import { applyMarkHandled, asBuffer, tsMs } from "../internal/entities.js";
import { clampLimit } from "../internal/paging.js";
import type { CommandFilter, CommandRepository } from "../types.js";
import { isPgUniqueViolation } from "./db.js";
import { decode, paramList, type DataRow, type PgContext } from "./util.js";
import { commandColumns, commandInsertError, prepareCommand } from "../internal/rows.js";

/** PostgreSQL {@link CommandRepository}. */
export class PgCommandRepository implements CommandRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async create(cmd: Command, opts?: { dedupKey?: string }): Promise<Command> {
    const { c, dedupKey } = prepareCommand(cmd, opts, this.#c.clock);
    return this.#c.db.tx(`create command ${c.id}`, async (q) => {
      // The counter lives on the piped row: the UPDATE takes its row lock until COMMIT, so
      // concurrent creates for one piped get consecutive sequences and commit in that order;
      // a failed insert rolls the increment back (no gaps).
      const [row] = await q<{ command_seq: string }>(
        "UPDATE pipeds SET command_seq = command_seq + 1 WHERE id = $1 RETURNING command_seq",
        [c.pipedId],
      );
      if (!row) throw new NotFoundError(`piped ${c.pipedId} not found`);
      c.sequence = BigInt(row.command_seq);
      try {
        await q(
          `INSERT INTO commands (id, project_id, piped_id, seq, status, type, deployment_id, stage_id, dedup_key,
           created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          commandColumns(c, c.sequence, dedupKey),
        );
      } catch (err) {
        throw commandInsertError(
          err,
          c,
          dedupKey,
          isPgUniqueViolation(err, "commands_dedup_key_key")
            ? "dedup"
            : isPgUniqueViolation(err)
              ? "unique"
              : undefined,
        );
      }
      return c;
    });
  }

  async get(id: string): Promise<Command> {
    const [row] = await this.#c.db.query<DataRow>(
      `get command ${id}`,
      "SELECT data FROM commands WHERE id = $1",
      [id],
    );
    if (!row) throw new NotFoundError(`command ${id} not found`);
    return decode(CommandSchema, row);
  }

  async listUnhandledAfter(
    pipedId: string,
    afterSequence: bigint,
    limit?: number,
  ): Promise<Command[]> {
    const rows = await this.#c.db.query<DataRow>(
      `list unhandled commands of ${pipedId}`,
      "SELECT data FROM commands WHERE piped_id = $1 AND seq > $2 AND status = $3 ORDER BY seq ASC LIMIT $4",
      [pipedId, afterSequence, CommandStatus.COMMAND_NOT_HANDLED_YET, clampLimit(limit)],
    );
    return rows.map((r) => decode(CommandSchema, r));
  }

  async list(filter: CommandFilter): Promise<Command[]> {
    const { params, p } = paramList();
    const where: string[] = [];
    if (filter.pipedId !== undefined) where.push(`piped_id = ${p(filter.pipedId)}`);
    if (filter.deploymentId !== undefined) where.push(`deployment_id = ${p(filter.deploymentId)}`);
    if (filter.stageId !== undefined) where.push(`stage_id = ${p(filter.stageId)}`);
    if (filter.type !== undefined) where.push(`type = ${p(filter.type)}`);
    if (filter.status !== undefined) where.push(`status = ${p(filter.status)}`);
    const rows = await this.#c.db.query<DataRow>(
      "list commands",
      `SELECT data FROM commands ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at DESC, id DESC LIMIT ${p(clampLimit(filter.limit))}`,
      params,
    );
    return rows.map((r) => decode(CommandSchema, r));
  }

  async markHandled(
    id: string,
    status: CommandStatus,
    metadata: Record<string, string>,
    handledAt: Date,
  ): Promise<Command> {
    return this.#c.db.tx(`mark command ${id} handled`, async (q) => {
      const [row] = await q<DataRow>("SELECT data FROM commands WHERE id = $1 FOR UPDATE", [id]);
      if (!row) throw new NotFoundError(`command ${id} not found`);
      const cmd = decode(CommandSchema, row);
      const next = applyMarkHandled(cmd, status, metadata, handledAt, this.#c.clock);
      if (!next) return cmd;
      await q("UPDATE commands SET status = $1, updated_at = $2, data = $3 WHERE id = $4", [
        next.status,
        tsMs(next.updatedAt),
        asBuffer(toBinary(CommandSchema, next)),
        id,
      ]);
      return next;
    });
  }
}
