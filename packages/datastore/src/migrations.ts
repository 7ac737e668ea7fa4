// Versioned schema migrations, one list per driver. A migration is never edited once released:
// add a new version instead. Each driver applies the missing versions in one transaction and
// records them in `schema_migrations` (see sqlite/migrate.ts, postgres/migrate.ts).
//
// Storage shape: every entity is a document (`data`, protobuf binary) plus the columns that
// lists filter and sort on, kept in sync with the document on every write.

import { FailedPreconditionError } from "@pipecd-ts/runtime";

/**
 * Throws if the database holds schema versions this build does not know: it was written by a
 * newer pipecd-ts, and running an older one on it would misread or damage its data.
 */
export function refuseNewerSchema(
  applied: readonly number[],
  known: readonly Migration[],
  what: string,
): void {
  const newest = Math.max(0, ...known.map((m) => m.version));
  const unknown = applied.filter((v) => v > newest);
  if (unknown.length)
    throw new FailedPreconditionError(
      `${what} has schema version ${Math.max(...unknown)}, newer than this pipecd-ts knows (${newest}): it was written by a newer release; run that release, or restore a backup`,
    );
}

/** One schema migration. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** SQLite migrations, ascending by version. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: `
CREATE TABLE pipeds (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  key_hashes TEXT NOT NULL,
  command_seq INTEGER NOT NULL DEFAULT 0,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX pipeds_by_project ON pipeds (project_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  hash TEXT NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at DESC, id DESC);

CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  labels TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX applications_by_project ON applications (project_id, created_at DESC, id DESC);
CREATE INDEX applications_by_piped ON applications (piped_id, created_at DESC, id DESC);

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL,
  application_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX deployments_by_project ON deployments (project_id, created_at DESC, id DESC);
CREATE INDEX deployments_by_application ON deployments (application_id, created_at DESC, id DESC);
CREATE INDEX deployments_by_piped_status ON deployments (piped_id, status, created_at, id);
CREATE INDEX deployments_by_project_status ON deployments (project_id, status);

CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL REFERENCES pipeds (id),
  seq INTEGER NOT NULL,
  status INTEGER NOT NULL,
  type INTEGER NOT NULL,
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  dedup_key TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (piped_id, seq)
) STRICT;
CREATE INDEX commands_by_deployment ON commands (deployment_id, created_at DESC, id DESC);
CREATE INDEX commands_by_created ON commands (created_at DESC, id DESC);

CREATE TABLE stage_log_blocks (
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  retried_count INTEGER NOT NULL,
  block_index INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (deployment_id, stage_id, retried_count, block_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE stage_log_completions (
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  retried_count INTEGER NOT NULL,
  completed_at INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, stage_id, retried_count)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX audit_log_by_project ON audit_log (project_id, created_at DESC, id DESC);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  role INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE live_states (
  application_id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
`,
  },
  {
    version: 2,
    name: "stage log sizes (limits.stageLogBytes)",
    sql: `
CREATE TABLE stage_log_stats (
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  retried_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  dropped_blocks INTEGER NOT NULL,
  dropped_bytes INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, stage_id, retried_count)
) STRICT, WITHOUT ROWID;
INSERT INTO stage_log_stats
  SELECT deployment_id, stage_id, retried_count, SUM(length(data)), 0, 0
  FROM stage_log_blocks GROUP BY deployment_id, stage_id, retried_count;
`,
  },
  {
    version: 3,
    name: "failed sign-ins per username and address, shared by replicas",
    sql: `
CREATE TABLE login_failures (
  username TEXT NOT NULL,
  address TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failure_at INTEGER NOT NULL,
  blocked_until INTEGER NOT NULL,
  PRIMARY KEY (username, address)
) STRICT, WITHOUT ROWID;
CREATE INDEX login_failures_by_address ON login_failures (address, last_failure_at);
CREATE INDEX login_failures_by_time ON login_failures (last_failure_at);
`,
  },
  {
    version: 4,
    name: "server-sent events with ids every replica can resume from",
    sql: `
CREATE TABLE stream_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX stream_events_by_time ON stream_events (created_at);
`,
  },
  {
    version: 5,
    name: "events of the event watcher",
    sql: `
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  event_key TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX events_by_project ON events (project_id, status, created_at DESC);
`,
  },
  {
    version: 6,
    name: "deployment chains",
    sql: `
CREATE TABLE deployment_chains (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE INDEX deployment_chains_by_project ON deployment_chains (project_id, created_at DESC);
`,
  },
];

/** PostgreSQL migrations, ascending by version. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: `
CREATE TABLE pipeds (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  key_hashes JSONB NOT NULL,
  command_seq BIGINT NOT NULL DEFAULT 0,
  data BYTEA NOT NULL
);
CREATE INDEX pipeds_by_project ON pipeds (project_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  hash TEXT NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at DESC, id DESC);

CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled BOOLEAN NOT NULL,
  deleted BOOLEAN NOT NULL,
  labels JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX applications_by_project ON applications (project_id, created_at DESC, id DESC);
CREATE INDEX applications_by_piped ON applications (piped_id, created_at DESC, id DESC);

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL,
  application_id TEXT NOT NULL,
  status SMALLINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX deployments_by_project ON deployments (project_id, created_at DESC, id DESC);
CREATE INDEX deployments_by_application ON deployments (application_id, created_at DESC, id DESC);
CREATE INDEX deployments_by_piped_status ON deployments (piped_id, status, created_at, id);
CREATE INDEX deployments_by_project_status ON deployments (project_id, status);

CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL REFERENCES pipeds (id),
  seq BIGINT NOT NULL,
  status SMALLINT NOT NULL,
  type SMALLINT NOT NULL,
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  dedup_key TEXT UNIQUE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  data BYTEA NOT NULL,
  UNIQUE (piped_id, seq)
);
CREATE INDEX commands_by_deployment ON commands (deployment_id, created_at DESC, id DESC);
CREATE INDEX commands_by_created ON commands (created_at DESC, id DESC);

CREATE TABLE stage_log_blocks (
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  retried_count INTEGER NOT NULL,
  block_index BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (deployment_id, stage_id, retried_count, block_index)
);

CREATE TABLE stage_log_completions (
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  retried_count INTEGER NOT NULL,
  completed_at BIGINT NOT NULL,
  PRIMARY KEY (deployment_id, stage_id, retried_count)
);

CREATE TABLE audit_log (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX audit_log_by_project ON audit_log (project_id, created_at DESC, id DESC);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  role SMALLINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE live_states (
  application_id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  piped_id TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  data BYTEA NOT NULL
);
`,
  },
  {
    version: 2,
    name: "stage log sizes (limits.stageLogBytes)",
    sql: `
CREATE TABLE stage_log_stats (
  deployment_id TEXT NOT NULL,
  stage_id TEXT NOT NULL,
  retried_count INTEGER NOT NULL,
  bytes BIGINT NOT NULL,
  dropped_blocks BIGINT NOT NULL,
  dropped_bytes BIGINT NOT NULL,
  PRIMARY KEY (deployment_id, stage_id, retried_count)
);
INSERT INTO stage_log_stats
  SELECT deployment_id, stage_id, retried_count, SUM(octet_length(data)), 0, 0
  FROM stage_log_blocks GROUP BY deployment_id, stage_id, retried_count;
`,
  },
  {
    version: 3,
    name: "failed sign-ins per username and address, shared by replicas",
    sql: `
CREATE TABLE login_failures (
  username TEXT NOT NULL,
  address TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failure_at BIGINT NOT NULL,
  blocked_until BIGINT NOT NULL,
  PRIMARY KEY (username, address)
);
CREATE INDEX login_failures_by_address ON login_failures (address, last_failure_at);
CREATE INDEX login_failures_by_time ON login_failures (last_failure_at);
`,
  },
  {
    version: 4,
    name: "server-sent events with ids every replica can resume from",
    sql: `
CREATE TABLE stream_events (
  id BIGSERIAL PRIMARY KEY,
  created_at BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX stream_events_by_time ON stream_events (created_at);
`,
  },
  {
    version: 5,
    name: "deployment revisions, for compare-and-swap updates",
    sql: `
ALTER TABLE deployments ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
-- Every update moves rev on, whoever makes it (a replica of an older release during a rolling
-- upgrade too), so a compare-and-swap never overwrites a write it did not see.
CREATE FUNCTION deployments_next_rev() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.rev := OLD.rev + 1;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER deployments_rev BEFORE UPDATE ON deployments
  FOR EACH ROW EXECUTE FUNCTION deployments_next_rev();
`,
  },
  {
    version: 6,
    name: "application revisions, for compare-and-swap updates",
    sql: `
ALTER TABLE applications ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
-- The same rule as deployments (migration 5): every update moves rev on.
CREATE TRIGGER applications_rev BEFORE UPDATE ON applications
  FOR EACH ROW EXECUTE FUNCTION deployments_next_rev();
`,
  },
  {
    version: 7,
    name: "events of the event watcher",
    sql: `
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  event_key TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX events_by_project ON events (project_id, status, created_at DESC);
`,
  },
  {
    version: 8,
    name: "deployment chains",
    sql: `
CREATE TABLE deployment_chains (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX deployment_chains_by_project ON deployment_chains (project_id, created_at DESC);
`,
  },
];
