import { FailedPreconditionError, type Clock, type Logger } from "@pipecd-ts/runtime";
import type { Datastore } from "../types.js";
import { PgApplicationRepository } from "./applications.js";
import { PgAuditLogRepository } from "./audit-log.js";
import { PgCommandRepository } from "./commands.js";
import { DEFAULT_PG_TUNING, PgDb, type PgTuning } from "./db.js";
import { PgDeploymentRepository } from "./deployments.js";
import { migratePostgres, postgresMigrationVersions } from "./migrate.js";
import { PgNotifier } from "./notifier.js";
import { PgAPIKeyRepository, PgPipedRepository } from "./pipeds.js";
import { PgLiveStateRepository, PgSessionRepository } from "./sessions.js";
import { PgLoginFailureRepository } from "./login-failures.js";
import { PgStageLogRepository } from "./stage-logs.js";
import { PgStreamEventRepository } from "./stream-events.js";

/** Options of {@link openPostgresDatastore}. */
export interface PostgresDatastoreOptions {
  url: string;
  logger: Logger;
  clock: Clock;
  tuning?: Partial<PgTuning>;
}

/** The PostgreSQL {@link Datastore}: a pg Pool, LISTEN/NOTIFY notifier. */
export class PostgresDatastore implements Datastore {
  readonly driver = "postgres" as const;
  readonly pipeds: PgPipedRepository;
  readonly apiKeys: PgAPIKeyRepository;
  readonly applications: PgApplicationRepository;
  readonly deployments: PgDeploymentRepository;
  readonly commands: PgCommandRepository;
  readonly stageLogs: PgStageLogRepository;
  readonly auditLog: PgAuditLogRepository;
  readonly sessions: PgSessionRepository;
  readonly loginFailures: PgLoginFailureRepository;
  readonly liveStates: PgLiveStateRepository;
  readonly streamEvents: PgStreamEventRepository;
  readonly notifier: PgNotifier;
  readonly #db: PgDb;

  constructor(db: PgDb, logger: Logger, clock: Clock) {
    this.#db = db;
    const c = { db, clock };
    this.pipeds = new PgPipedRepository(c);
    this.apiKeys = new PgAPIKeyRepository(c);
    this.applications = new PgApplicationRepository(c);
    this.deployments = new PgDeploymentRepository(c);
    this.commands = new PgCommandRepository(c);
    this.stageLogs = new PgStageLogRepository(c);
    this.auditLog = new PgAuditLogRepository(c);
    this.sessions = new PgSessionRepository(c);
    this.loginFailures = new PgLoginFailureRepository(c);
    this.liveStates = new PgLiveStateRepository(c);
    this.notifier = new PgNotifier(db, logger);
    this.streamEvents = new PgStreamEventRepository(c);
  }

  migrationVersions(): Promise<number[]> {
    return postgresMigrationVersions(this.#db);
  }

  async close(): Promise<void> {
    await this.notifier.close();
    await this.#db.end();
  }
}

/** Connects to PostgreSQL and applies pending migrations (serialized across replicas). */
export async function openPostgresDatastore(
  opts: PostgresDatastoreOptions,
): Promise<PostgresDatastore> {
  const db = new PgDb(opts.url, opts.logger, { ...DEFAULT_PG_TUNING, ...opts.tuning });
  try {
    // A standby or a read-only role would let the control plane report ready and then fail
    // every write: refuse it at start-up instead.
    const [mode] = await db.query<{ standby: boolean; ro: string }>(
      "check that the database is writable",
      "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro",
    );
    if (mode?.standby || mode?.ro === "on")
      throw new FailedPreconditionError(
        `PostgreSQL database is read-only for this connection (${mode.standby ? "a standby in recovery" : "transaction_read_only is on"}); the control plane needs a writable primary`,
      );
    const added = await migratePostgres(db);
    if (added.length > 0)
      opts.logger.info({ versions: added, driver: "postgres" }, "applied datastore migrations");
  } catch (err) {
    await db.end().catch(() => undefined);
    throw err;
  }
  return new PostgresDatastore(db, opts.logger, opts.clock);
}
