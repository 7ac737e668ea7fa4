import type pg from "pg";
import { LruMap } from "@pipecd-ts/runtime";
import {
  runAsync,
  type Dialect,
  type Program,
  type RefineError,
  type SqlDb,
  type Statement,
  type StatementResult,
} from "../sql/program.js";
import { isPgUniqueViolation, mapPgError, prepared, type PgDb } from "./db.js";

/** PostgreSQL's side of the shared repositories' SQL. */
export const POSTGRES_DIALECT: Dialect = {
  name: "postgres",
  forUpdate: " FOR UPDATE",
  labelsMatch(column, labels) {
    return { sql: `${column} @> ?::jsonb`, params: [JSON.stringify(labels)] };
  },
  isUniqueViolation(err, on) {
    // PostgreSQL names a UNIQUE column's constraint <table>_<column>_key.
    return isPgUniqueViolation(err, on && `${on.table}_${on.column}_key`);
  },
  lock(lockClass, key, shared) {
    const fn = shared ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock";
    return { sql: `SELECT ${fn}(?, hashtext(?))`, params: [lockClass, key] };
  },
};

/** Statement texts with `?` turned into `$1, $2, …` (a few dozen shapes; bounded anyway). */
const numbered = new LruMap<string, string>(1_000);

/** `?` placeholders as PostgreSQL's `$n`. Statements here hold no `?` in literals. */
export function numberPlaceholders(text: string): string {
  let out = numbered.get(text);
  if (out === undefined) {
    let n = 0;
    out = text.replace(/\?/g, () => `$${++n}`);
    numbered.set(text, out);
  }
  return out;
}

function resultOf(res: pg.QueryResult): StatementResult {
  return { rows: res.rows as Record<string, unknown>[], count: res.rowCount ?? res.rows.length };
}

/** The shared repositories' {@link SqlDb} over a {@link PgDb} pool. */
export class PgSql implements SqlDb {
  readonly dialect = POSTGRES_DIALECT;
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async #one(what: string, s: Statement, refine?: RefineError): Promise<StatementResult> {
    try {
      return resultOf(await this.#db.pool.query(prepared(numberPlaceholders(s.sql), s.params)));
    } catch (err) {
      throw refine?.(err) ?? mapPgError(err, what);
    }
  }

  async read<T>(what: string, program: () => Program<T>): Promise<T> {
    try {
      return await runAsync(program(), (s) => this.#one(what, s));
    } catch (err) {
      throw mapPgError(err, what);
    }
  }

  snapshot<T>(what: string, program: () => Program<T>): Promise<T> {
    return this.#db.transaction(
      what,
      (run) =>
        runAsync(program(), async (s) => resultOf(await run(numberPlaceholders(s.sql), s.params))),
      { begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
    );
  }

  write<T>(what: string, program: () => Program<T>): Promise<T> {
    return this.#db.transaction(what, (run) =>
      runAsync(program(), async (s) => resultOf(await run(numberPlaceholders(s.sql), s.params))),
    );
  }

  writeOne(what: string, statement: Statement, refine?: RefineError): Promise<StatementResult> {
    return this.#one(what, statement, refine);
  }
}
