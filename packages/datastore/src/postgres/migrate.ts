import { POSTGRES_MIGRATIONS, refuseNewerSchema, type Migration } from "../migrations.js";
import type { PgDb } from "./db.js";

/** Advisory lock key serializing migrations across replicas ("pipecdts" in ASCII). */
const MIGRATION_LOCK_KEY = "8100128985564083315";

/** Migrations may be slow; they get their own generous per-statement budget. */
const MIGRATION_TIMEOUT_MS = 5 * 60_000;

/**
 * Applies missing migrations in one transaction holding `pg_advisory_xact_lock`, so replicas
 * starting together apply each version exactly once (the others wait, then find nothing to do).
 * Returns the versions this call applied.
 */
export async function migratePostgres(
  db: PgDb,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<number[]> {
  return db.tx(
    "migrate PostgreSQL database",
    async (q) => {
      await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
      await q("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
      await q(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      const applied = new Set(
        (await q<{ version: number }>("SELECT version FROM schema_migrations")).map(
          (r) => r.version,
        ),
      );
      refuseNewerSchema([...applied], migrations, "PostgreSQL database");
      const added: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        await q(m.sql);
        await q("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          m.version,
          m.name,
        ]);
        added.push(m.version);
      }
      return added;
    },
    { queryTimeoutMs: MIGRATION_TIMEOUT_MS + 10_000 },
  );
}

/** Applied migration versions, ascending. */
export async function postgresMigrationVersions(db: PgDb): Promise<number[]> {
  const rows = await db.query<{ version: number }>(
    "read migration versions",
    "SELECT version FROM schema_migrations ORDER BY version",
  );
  return rows.map((r) => r.version);
}
