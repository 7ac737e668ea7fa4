import type { Clock, Logger } from "@pipecd-ts/runtime";
import { LocalNotifier } from "../internal/local-notifier.js";
import type { Datastore } from "../types.js";
import { SqliteApplicationRepository } from "./applications.js";
import { SqliteAuditLogRepository } from "./audit-log.js";
import { SqliteCommandRepository } from "./commands.js";
import { mapSqliteError, SqliteDb, type SqliteSynchronous } from "./db.js";
import { SqliteDeploymentRepository } from "./deployments.js";
import { migrateSqlite, sqliteMigrationVersions } from "./migrate.js";
import { SqliteAPIKeyRepository, SqlitePipedRepository } from "./pipeds.js";
import { SqliteLiveStateRepository, SqliteSessionRepository } from "./sessions.js";
import { SqliteLoginFailureRepository } from "./login-failures.js";
import { SqliteStageLogRepository } from "./stage-logs.js";
import { SqliteStreamEventRepository } from "./stream-events.js";

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
  readonly pipeds: SqlitePipedRepository;
  readonly apiKeys: SqliteAPIKeyRepository;
  readonly applications: SqliteApplicationRepository;
  readonly deployments: SqliteDeploymentRepository;
  readonly commands: SqliteCommandRepository;
  readonly stageLogs: SqliteStageLogRepository;
  readonly auditLog: SqliteAuditLogRepository;
  readonly sessions: SqliteSessionRepository;
  readonly loginFailures: SqliteLoginFailureRepository;
  readonly liveStates: SqliteLiveStateRepository;
  readonly streamEvents: SqliteStreamEventRepository;
  readonly notifier: LocalNotifier;
  readonly #db: SqliteDb;

  constructor(db: SqliteDb, logger: Logger, clock: Clock) {
    this.#db = db;
    const c = { db, clock };
    this.pipeds = new SqlitePipedRepository(c);
    this.apiKeys = new SqliteAPIKeyRepository(c);
    this.applications = new SqliteApplicationRepository(c);
    this.deployments = new SqliteDeploymentRepository(c);
    this.commands = new SqliteCommandRepository(c);
    this.stageLogs = new SqliteStageLogRepository(c);
    this.auditLog = new SqliteAuditLogRepository(c);
    this.sessions = new SqliteSessionRepository(c);
    this.loginFailures = new SqliteLoginFailureRepository(c);
    this.liveStates = new SqliteLiveStateRepository(c);
    this.notifier = new LocalNotifier(logger);
    this.streamEvents = new SqliteStreamEventRepository(c, this.notifier);
  }

  async migrationVersions(): Promise<number[]> {
    return this.#db.read("read migration versions", () => sqliteMigrationVersions(this.#db.db));
  }

  async close(): Promise<void> {
    this.notifier.clear();
    this.#db.close();
  }
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
