import { InvalidArgumentError, systemClock, type Clock, type Logger } from "@pipecd-ts/runtime";
import { openPostgresDatastore } from "./postgres/datastore.js";
import type { SqliteSynchronous } from "./sqlite/db.js";
import { openSqliteDatastore } from "./sqlite/datastore.js";
import type { Datastore } from "./types.js";

/** Options of {@link openDatastore}. */
export interface OpenDatastoreOptions {
  logger: Logger;
  /** Source of createdAt/updatedAt; the wall clock by default. */
  clock?: Clock;
}

/**
 * Opens the datastore named by `url` and applies pending migrations:
 * `sqlite:PATH` (optionally `?synchronous=normal` to trade durability for speed),
 * `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
 */
export async function openDatastore(url: string, opts: OpenDatastoreOptions): Promise<Datastore> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger;
  if (url.startsWith("sqlite:")) {
    const { path, synchronous } = parseSqliteUrl(url);
    return openSqliteDatastore({ path, synchronous, logger, clock });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return openPostgresDatastore({ url, logger, clock });
  }
  throw new InvalidArgumentError(
    `unsupported datastore URL "${redactUrl(url)}": use sqlite:PATH, sqlite::memory: or postgres://USER@HOST:PORT/DB`,
  );
}

/** Splits `sqlite:PATH?synchronous=full|normal` into its parts. */
export function parseSqliteUrl(url: string): { path: string; synchronous: SqliteSynchronous } {
  const rest = url.slice("sqlite:".length);
  const q = rest.indexOf("?");
  const path = q === -1 ? rest : rest.slice(0, q);
  const params = new URLSearchParams(q === -1 ? "" : rest.slice(q + 1));
  if (!path)
    throw new InvalidArgumentError(
      `datastore URL "${url}" has no path (use sqlite:PATH or sqlite::memory:)`,
    );
  let synchronous: SqliteSynchronous = "full";
  for (const [key, value] of params) {
    if (key !== "synchronous") {
      throw new InvalidArgumentError(
        `datastore URL "${url}": unknown option "${key}" (known: synchronous)`,
      );
    }
    const v = value.toLowerCase();
    if (v !== "full" && v !== "normal") {
      throw new InvalidArgumentError(
        `datastore URL "${url}": synchronous must be full or normal, got "${value}"`,
      );
    }
    synchronous = v;
  }
  return { path, synchronous };
}

/** The URL with any password replaced, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}
