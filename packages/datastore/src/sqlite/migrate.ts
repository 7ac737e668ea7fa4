import type Database from "better-sqlite3";
import { SQLITE_MIGRATIONS, refuseNewerSchema, type Migration } from "../migrations.js";

/**
 * Applies missing migrations in one IMMEDIATE transaction (so two processes opening the same
 * file cannot both apply one) and records them in `schema_migrations`. Idempotent.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: readonly Migration[] = SQLITE_MIGRATIONS,
): number[] {
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const applied = new Set(sqliteMigrationVersions(db));
    refuseNewerSchema([...applied], migrations, "SQLite database");
    const insert = db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
    );
    const added: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      insert.run(m.version, m.name, Date.now());
      added.push(m.version);
    }
    return added;
  });
  return apply.immediate();
}

/** Applied migration versions, ascending. */
export function sqliteMigrationVersions(db: Database.Database): number[] {
  const rows = db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as {
    version: number;
  }[];
  return rows.map((r) => r.version);
}
