import type { Clock, Logger } from "@pipecd-ts/runtime";
import { LocalNotifier } from "../internal/local-notifier.js";
import type { Datastore } from "../types.js";
import { SqlApplicationRepository } from "../sql/applications.js";
import { SqlAuditLogRepository } from "../sql/audit-log.js";
import { SqlCommandRepository } from "../sql/commands.js";
import { SqlDeploymentRepository } from "../sql/deployments.js";
import { SqlLoginFailureRepository } from "../sql/login-failures.js";
import { SqlAPIKeyRepository, SqlPipedRepository } from "../sql/pipeds.js";
import { SqlLiveStateRepository, SqlSessionRepository } from "../sql/sessions.js";
import { SqlStageLogRepository } from "../sql/stage-logs.js";
import { SqlStreamEventRepository } from "../sql/stream-events.js";
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
export class SqliteDatastore implements Datastore {
  readonly driver = "sqlite" as const;
  readonly pipeds: SqlPipedRepository;
  readonly apiKeys: SqlAPIKeyRepository;
  readonly applications: SqlApplicationRepository;
  readonly deployments: SqlDeploymentRepository;
  readonly commands: SqlCommandRepository;
  readonly stageLogs: SqlStageLogRepository;
  readonly auditLog: SqlAuditLogRepository;
  readonly sessions: SqlSessionRepository;
  readonly loginFailures: SqlLoginFailureRepository;
  readonly liveStates: SqlLiveStateRepository;
  readonly streamEvents: SqlStreamEventRepository;
  readonly notifier: LocalNotifier;
  readonly #db: SqliteDb;

  constructor(db: SqliteDb, logger: Logger, clock: Clock) {
    this.#db = db;
    const c = { db: new SqliteSql(db), clock };
    this.pipeds = new SqlPipedRepository(c);
    this.apiKeys = new SqlAPIKeyRepository(c);
    this.applications = new SqlApplicationRepository(c);
    this.deployments = new SqlDeploymentRepository(c);
    this.commands = new SqlCommandRepository(c);
    this.stageLogs = new SqlStageLogRepository(c);
    this.auditLog = new SqlAuditLogRepository(c);
    this.sessions = new SqlSessionRepository(c);
    this.loginFailures = new SqlLoginFailureRepository(c);
    this.liveStates = new SqlLiveStateRepository(c);
    this.notifier = new LocalNotifier(logger);
    this.streamEvents = new SqlStreamEventRepository(c, (channel, events, at) =>
      appendStreamEvents(db, this.notifier, channel, events, at),
    );
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
