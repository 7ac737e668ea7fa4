import type { Clock } from "@pipecd-ts/runtime";
export { decode, type DataRow } from "../internal/rows.js";
import type { PgDb } from "./db.js";

/** What every PostgreSQL repository gets: the pool and the clock. */
export interface PgContext {
  db: PgDb;
  clock: Clock;
}

/** Collects positional parameters while a query is assembled: `p(value)` returns `$n`. */
export function paramList(): { params: unknown[]; p: (value: unknown) => string } {
  const params: unknown[] = [];
  return {
    params,
    p: (value) => {
      params.push(value);
      return `$${params.length}`;
    },
  };
}
