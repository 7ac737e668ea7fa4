import Database from "better-sqlite3";
import {
  runSync,
  type Dialect,
  type Program,
  type RefineError,
  type SqlDb,
  type Statement,
  type StatementResult,
} from "../sql/program.js";
import type { SqliteDb } from "./db.js";

/** SQLite's side of the shared repositories' SQL. */
export const SQLITE_DIALECT: Dialect = {
  name: "sqlite",
  forUpdate: "", // one writer at a time: the group commit holds the write lock
  labelsMatch(column, labels) {
    // json_each instead of a JSON path: label keys like app.kubernetes.io/name need no quoting.
    const entries = Object.entries(labels);
    return {
      sql: entries
        .map(
          () => `EXISTS (SELECT 1 FROM json_each(${column}) AS l WHERE l.key = ? AND l.value = ?)`,
        )
        .join(" AND "),
      params: entries.flat(),
    };
  },
  isUniqueViolation(err, on) {
    if (!(err instanceof Database.SqliteError)) return false;
    if (err.code !== "SQLITE_CONSTRAINT_UNIQUE" && err.code !== "SQLITE_CONSTRAINT_PRIMARYKEY")
      return false;
    // "UNIQUE constraint failed: commands.dedup_key"
    return on === undefined || err.message.includes(`${on.table}.${on.column}`);
  },
  lock: () => undefined,
};

/** SQLite has no booleans: 1 or 0. */
function bindable(v: unknown): unknown {
  return typeof v === "boolean" ? (v ? 1 : 0) : v;
}

/** The shared repositories' {@link SqlDb} over one {@link SqliteDb} connection. */
export class SqliteSql implements SqlDb {
  readonly dialect = SQLITE_DIALECT;
  readonly #db: SqliteDb;
  readonly #exec = (s: Statement): StatementResult => {
    const stmt = this.#db.prepare(s.sql);
    const params = s.params.map(bindable);
    if (stmt.reader) {
      const rows = stmt.all(...params) as Record<string, unknown>[];
      return { rows, count: rows.length };
    }
    return { rows: [], count: stmt.run(...params).changes };
  };

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  read<T>(what: string, program: () => Program<T>): Promise<T> {
    return this.#db.read(what, () => runSync(program(), this.#exec));
  }

  /** One connection, run synchronously: every read is a snapshot. */
  snapshot<T>(what: string, program: () => Program<T>): Promise<T> {
    return this.read(what, program);
  }

  write<T>(what: string, program: () => Program<T>): Promise<T> {
    return this.#db.write(what, () => runSync(program(), this.#exec));
  }

  writeOne(what: string, statement: Statement, refine?: RefineError): Promise<StatementResult> {
    return this.#db.write(what, () => {
      try {
        return this.#exec(statement);
      } catch (err) {
        throw refine?.(err) ?? err;
      }
    });
  }
}
