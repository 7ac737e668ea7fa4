import type { Clock, Logger } from "@pipecd-ts/runtime";
import { LocalNotifier } from "../internal/local-notifier.js";
import { SqlDatastore } from "../sql/datastore.js";
import { streamEventAnnouncement, streamEventChunks } from "../internal/stream-events.js";
import type { StoredStreamEvent } from "../types.js";
import { SqliteSql } from "./sql.js";
import { mapSqliteError, SqliteDb, type SqliteSynchronous } from "./db.js";
import { migrateSqlite, sqliteMigrationVersions } from "./migrate.js";

/** Options of {@link openSqliteDatastore}. */
export interface SqliteDatastoreOptions {
  /** File path or ":memory:". */
  path: string;
  synchronous: SqliteSynchronous;
  logger: Logger;
  clock: Clock;
}

/** The SQLite {@link Datastore}: one connection with group commit, in-process notifier. */
export class SqliteDatastore extends SqlDatastore {
  readonly driver = "sqlite" as const;
  declare readonly notifier: LocalNotifier;
  readonly #db: SqliteDb;

  constructor(db: SqliteDb, logger: Logger, clock: Clock) {
    const notifier = new LocalNotifier(logger);
    super(
      { db: new SqliteSql(db), clock },
      {
        notifier,
        appendStreamEvents: (channel, events, at) =>
          appendStreamEvents(db, notifier, channel, events, at),
      },
    );
    this.#db = db;
  }

  async migrationVersions(): Promise<number[]> {
    return this.#db.read("read migration versions", () => sqliteMigrationVersions(this.#db.db));
  }

  async close(): Promise<void> {
    this.notifier.clear();
    this.#db.close();
  }
}

/**
 * Stores stream events and announces them. One process owns the database, so ids
 * (AUTOINCREMENT: never reused after a prune) follow commit order, and announcements follow the
 * group commits.
 */
async function appendStreamEvents(
  db: SqliteDb,
  notifier: LocalNotifier,
  channel: string,
  events: readonly string[],
  at: number,
): Promise<StoredStreamEvent[]> {
  const chunks = streamEventChunks(events);
  const stored = await db.write("store stream events", () => {
    const insert = db.prepare("INSERT INTO stream_events (created_at, data) VALUES (?, ?)");
    return chunks.map((chunk) => ({
      announce: chunk.announce,
      events: chunk.events.map((data) => ({
        id: Number(insert.run(at, data).lastInsertRowid),
        data,
      })),
    }));
  });
  for (const chunk of stored)
    if (chunk.announce) await notifier.publish(channel, streamEventAnnouncement(chunk.events));
  return stored.flatMap((chunk) => chunk.events);
}

/** Opens a SQLite datastore and applies pending migrations. */
export function openSqliteDatastore(opts: SqliteDatastoreOptions): SqliteDatastore {
  const db = SqliteDb.open({ path: opts.path, synchronous: opts.synchronous, logger: opts.logger });
  try {
    const added = migrateSqlite(db.db);
    if (added.length > 0)
      opts.logger.info({ versions: added, driver: "sqlite" }, "applied datastore migrations");
  } catch (err) {
    db.close();
    throw mapSqliteError(err, "migrate SQLite database");
  }
  return new SqliteDatastore(db, opts.logger, opts.clock);
}
