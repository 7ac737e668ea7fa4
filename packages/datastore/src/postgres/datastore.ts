import { FailedPreconditionError, type Clock, type Logger } from "@pipecd-ts/runtime";
import { SqlDatastore } from "../sql/datastore.js";
import { streamEventChunks } from "../internal/stream-events.js";
import type { StoredStreamEvent } from "../types.js";
import { ApplicationSchema, DeploymentSchema } from "@pipecd-ts/proto";
import { applicationColumns, deploymentColumns } from "../internal/rows.js";
import { applyDeploymentUpdate, applyUpdate } from "../internal/entities.js";
import { DEFAULT_PG_TUNING, PgDb, type PgTuning } from "./db.js";
import { PgSql } from "./sql.js";
import { PgSwapUpdater, type SwapTable } from "./swap-updater.js";
import { migratePostgres, postgresMigrationVersions } from "./migrate.js";
import { PgNotifier } from "./notifier.js";

/** Options of {@link openPostgresDatastore}. */
export interface PostgresDatastoreOptions {
  url: string;
  logger: Logger;
  clock: Clock;
  tuning?: Partial<PgTuning>;
}

/** The PostgreSQL {@link Datastore}: a pg Pool, LISTEN/NOTIFY notifier. */
export class PostgresDatastore extends SqlDatastore {
  readonly driver = "postgres" as const;
  declare readonly notifier: PgNotifier;
  readonly #db: PgDb;

  constructor(db: PgDb, logger: Logger, clock: Clock) {
    super(
      { db: new PgSql(db), clock },
      {
        notifier: new PgNotifier(db, logger),
        appendStreamEvents: (channel, events, at) => appendStreamEvents(db, channel, events, at),
        deploymentUpdater: new PgSwapUpdater(db, clock, DEPLOYMENTS),
        applicationUpdater: new PgSwapUpdater(db, clock, APPLICATIONS),
      },
    );
    this.#db = db;
  }

  migrationVersions(): Promise<number[]> {
    return postgresMigrationVersions(this.#db);
  }

  async close(): Promise<void> {
    await this.notifier.close();
    await this.#db.end();
  }
}

/** Deployments, updated on every stage report. */
const DEPLOYMENTS: SwapTable<typeof DeploymentSchema> = {
  table: "deployments",
  kind: "deployment",
  schema: DeploymentSchema,
  columns: [
    { name: "project_id", type: "text" },
    { name: "piped_id", type: "text" },
    { name: "application_id", type: "text" },
    { name: "status", type: "smallint" },
    { name: "created_at", type: "bigint" },
    { name: "updated_at", type: "bigint" },
    { name: "data", type: "bytea" },
  ],
  values: deploymentColumns,
  apply: applyDeploymentUpdate,
  remember: 2_000,
};

/** Applications, updated when each of their deployments starts, plans and ends. */
const APPLICATIONS: SwapTable<typeof ApplicationSchema> = {
  table: "applications",
  kind: "application",
  schema: ApplicationSchema,
  columns: [
    { name: "project_id", type: "text" },
    { name: "piped_id", type: "text" },
    { name: "name", type: "text" },
    { name: "disabled", type: "boolean" },
    { name: "deleted", type: "boolean" },
    { name: "labels", type: "jsonb" },
    { name: "created_at", type: "bigint" },
    { name: "updated_at", type: "bigint" },
    { name: "data", type: "bytea" },
  ],
  values: applicationColumns,
  apply: (fresh, fn, clock) => applyUpdate("application", fresh, fn, clock),
  remember: 2_000,
};

/** Advisory lock key that serializes event appends across replicas (any constant will do). */
const APPEND_LOCK = 0x70697065; // "pipe"

/**
 * Stores stream events and announces them. Sequence values are taken at insert time, not at
 * commit, so two replicas appending at once could commit ids out of order and a reader resuming
 * after the higher id would miss the lower. A transaction-scoped advisory lock makes appends
 * commit in id order, and the NOTIFY is sent inside the same transaction (one statement),
 * which PostgreSQL delivers in commit order: every replica sees the events in id order.
 */
async function appendStreamEvents(
  db: PgDb,
  channel: string,
  events: readonly string[],
  at: number,
): Promise<StoredStreamEvent[]> {
  const stored: StoredStreamEvent[] = [];
  // One statement per run of events (one run unless they exceed one notification): its
  // implicit transaction holds the lock from before the insert until its commit, which also
  // delivers the NOTIFY. One round trip, where BEGIN … COMMIT took five.
  for (const chunk of streamEventChunks(events)) {
    const [row] = await db.query<{ ids: string[] }>(
      "store stream events",
      `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($3)),
       ins AS (
         INSERT INTO stream_events (created_at, data)
           SELECT $1, e.data FROM lock, unnest($2::text[]) WITH ORDINALITY AS e(data, n) ORDER BY e.n
         RETURNING id, data
       ),
       payload AS MATERIALIZED (
         SELECT '[' || string_agg('[' || id || ',' || data || ']', ',' ORDER BY id) || ']' AS p,
                array_agg(id ORDER BY id) AS ids
         FROM ins
       )
       SELECT ids, CASE WHEN $5 THEN pg_notify($4, p) END AS notified FROM payload`,
      [at, chunk.events, APPEND_LOCK, channel, chunk.announce],
    );
    const ids = (row?.ids ?? []).map(Number);
    chunk.events.forEach((data, i) => stored.push({ id: ids[i] ?? 0, data }));
  }
  return stored;
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
