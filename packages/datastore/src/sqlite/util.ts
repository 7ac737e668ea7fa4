import Database from "better-sqlite3";
import type { Clock } from "@pipecd-ts/runtime";
export { decode, type DataRow } from "../internal/rows.js";
import type { SqliteDb } from "./db.js";

/** What every SQLite repository gets: the connection and the clock. */
export interface SqliteContext {
  db: SqliteDb;
  clock: Clock;
}

/** Whether `err` is a UNIQUE/PRIMARY KEY violation, optionally on a given `table.column`. */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  if (!(err instanceof Database.SqliteError)) return false;
  if (err.code !== "SQLITE_CONSTRAINT_UNIQUE" && err.code !== "SQLITE_CONSTRAINT_PRIMARYKEY")
    return false;
  return column === undefined || err.message.includes(column);
}

/** SQLite has no booleans: 1 or 0. */
export function bit(b: boolean): number {
  return b ? 1 : 0;
}
