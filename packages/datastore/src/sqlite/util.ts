import Database from "better-sqlite3";
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Clock } from "@pipecd-ts/runtime";
import type { SqliteDb } from "./db.js";

/** What every SQLite repository gets: the connection and the clock. */
export interface SqliteContext {
  db: SqliteDb;
  clock: Clock;
}

/** A row holding a protobuf document. */
export interface DataRow {
  data: Buffer;
}

/** Decodes a stored document. */
export function decode<D extends DescMessage>(schema: D, row: DataRow): MessageShape<D> {
  return fromBinary(schema, row.data);
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
