import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Clock } from "@pipecd-ts/runtime";
import type { PgDb } from "./db.js";

/** What every PostgreSQL repository gets: the pool and the clock. */
export interface PgContext {
  db: PgDb;
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
