import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import {
  controlPlaneArgs,
  freePort,
  launch,
  repoRoot,
  runCommand,
  startPostgres,
  type PgCluster,
} from "@pipecd-ts/testkit";

// Start-up refuses a datastore it must not run on, with one line saying why (no stack trace),
// and never replaces an existing admin key: the real launcher, bin/pipecd-server.

const SERVER = join(repoRoot(), "bin", "pipecd-server");

describe("control-plane start-up refuses a datastore it must not run on", () => {
  let dir = "";
  let pg: PgCluster | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cp-startup-"));
  });
  after(async () => {
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A data dir named `name` holding `files`; returns its path. */
  const dataDir = async (name: string, files: Record<string, string | Buffer> = {}) => {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    for (const [f, content] of Object.entries(files)) await writeFile(join(d, f), content);
    return d;
  };

  /**
   * Runs the control plane on `data` (and `extra` flags) expecting it to stop at start-up;
   * `command` runs it some other way than bin/pipecd-server.
   */
  const refused = async (data: string, extra: string[] = [], command = [SERVER]) => {
    const args = [
      ...controlPlaneArgs({
        dataDir: data,
        httpPort: await freePort(),
        grpcPort: await freePort(),
      }),
      ...extra,
    ];
    const [file = SERVER, ...pre] = command;
    const r = await runCommand(file, [...pre, ...args], { timeoutMs: 30_000 });
    assert.notEqual(r.code, 0, `it started:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("pipecd-server: "));
    assert.equal(lines.length, 1, r.stderr);
    return lines[0] ?? "";
  };

  /**
   * How to start the control plane so that file modes bind: as is for a normal user; as root,
   * as `nobody`, from a copy of the bundle and its one native module in a directory `nobody`
   * can read (the checkout may sit where it cannot).
   */
  const asUnprivileged = async (): Promise<string[]> => {
    if (process.getuid?.() !== 0) return [SERVER];
    const app = join(dir, "app");
    const pnpm = join(repoRoot(), "node_modules", ".pnpm");
    const copy = (from: string, to: string) =>
      cp(realpathSync(from), join(app, to), { recursive: true, dereference: true });
    await copy(
      join(repoRoot(), "apps", "control-plane", "dist", "pipecd-server.mjs"),
      "pipecd-server.mjs",
    );
    await copy(
      join(pnpm, "better-sqlite3@12.11.1", "node_modules", "better-sqlite3"),
      "node_modules/better-sqlite3",
    );
    await copy(join(pnpm, "bindings@1.5.0", "node_modules", "bindings"), "node_modules/bindings");
    await copy(
      join(pnpm, "file-uri-to-path@1.0.0", "node_modules", "file-uri-to-path"),
      "node_modules/file-uri-to-path",
    );
    return ["runuser", "-u", "nobody", "--", process.execPath, join(app, "pipecd-server.mjs")];
  };

  it("an empty database file is refused, and the admin key beside it is kept", async () => {
    const d = await dataDir("empty", { "pipecd.db": "", "admin-api-key": "old.key\n" });
    assert.match(
      await refused(d),
      /pipecd\.db is an empty file \(0 bytes\), not a pipecd-ts database/,
    );
    assert.equal(await readFile(join(d, "admin-api-key"), "utf8"), "old.key\n");
  });

  it("a corrupt database file is refused with SQLite's reason", async () => {
    const d = await dataDir("corrupt", { "pipecd.db": randomBytes(8192) });
    assert.match(
      await refused(d),
      /not a usable SQLite database \(SQLITE_NOTADB: file is not a database\)/,
    );
  });

  it("a database written by a newer release (unknown schema version) is refused", async () => {
    const d = await dataDir("newer");
    const db = new Database(join(d, "pipecd.db"));
    db.exec(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;" +
        "INSERT INTO schema_migrations VALUES (999, 'from the future', 0);",
    );
    db.close();
    assert.match(await refused(d), /schema version 999, newer than this pipecd-ts knows \(\d+\)/);
  });

  it("a database it cannot write is refused instead of reporting ready and failing every write", async () => {
    // A fresh database made by a run that succeeded, then made read-only for the next run. As
    // root, file modes do not bind: the second run is another user's.
    const d = await dataDir("readonly");
    const ok = await launch(
      "pipecd-server",
      controlPlaneArgs({ dataDir: d, httpPort: await freePort(), grpcPort: await freePort() }),
      /pipecd-server ready/,
    );
    await ok.stop();
    await rm(join(d, "pipecd.db-wal"), { force: true });
    await rm(join(d, "pipecd.db-shm"), { force: true });
    await chmod(join(d, "pipecd.db"), 0o444);
    await chmod(d, 0o555);
    await chmod(dir, 0o755);
    try {
      assert.match(
        await refused(d, [], await asUnprivileged()),
        /pipecd\.db is read-only for this process/,
      );
    } finally {
      await chmod(d, 0o755);
    }
  });

  it("a new datastore beside an existing admin key file does not replace the key", async () => {
    const d = await dataDir("old-key", { "admin-api-key": "kept.secret\n" });
    assert.match(
      await refused(d, ["--datastore", `sqlite:${join(d, "elsewhere.db")}`]),
      /the datastore has no API keys, but .*admin-api-key exists/,
    );
    assert.equal(await readFile(join(d, "admin-api-key"), "utf8"), "kept.secret\n");
  });

  it("a read-only PostgreSQL database is refused", async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase();
    const dbName = new URL(url).pathname.slice(1);
    const psql = await runCommand(
      "/usr/lib/postgresql/15/bin/psql",
      [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        pg.url,
        "-c",
        `ALTER DATABASE "${dbName}" SET default_transaction_read_only = on`,
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(psql.code, 0, psql.stderr);
    const d = await dataDir("pg");
    assert.match(
      await refused(d, ["--datastore", url]),
      /PostgreSQL database is read-only for this connection \(transaction_read_only is on\)/,
    );
  });

  it("a fresh data dir, its SQLite files and the admin key are readable by their owner only", async () => {
    const d = join(dir, "fresh", "data"); // made by the control plane
    const cp = await launch(
      "pipecd-server",
      controlPlaneArgs({ dataDir: d, httpPort: await freePort(), grpcPort: await freePort() }),
      /pipecd-server ready/,
    );
    try {
      for (const f of ["pipecd.db", "pipecd.db-wal", "admin-api-key"])
        assert.equal((await stat(join(d, f))).mode & 0o777, 0o600, f);
      assert.equal((await stat(d)).mode & 0o777, 0o700, "the data dir");
    } finally {
      await cp.stop();
    }
  });

  it("a start-up failure is one line, not a stack trace (a port in use)", async () => {
    const d = await dataDir("port");
    const port = await freePort();
    const first = await launch(
      "pipecd-server",
      controlPlaneArgs({ dataDir: d, httpPort: port, grpcPort: await freePort() }),
      /pipecd-server ready/,
    );
    try {
      const line = await refused(await dataDir("port-2"), ["--http-port", String(port)]);
      assert.match(line, /EADDRINUSE/);
    } finally {
      await first.stop();
    }
  });
});
