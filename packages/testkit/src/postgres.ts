import { execFile, execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

/** Where Debian's PostgreSQL 15 server binaries live. */
const PG_BIN = "/usr/lib/postgresql/15/bin";
/** Upper bound of any single child process call (initdb, pg_ctl, psql). */
const CHILD_TIMEOUT_MS = 60_000;

/** A PostgreSQL server for tests. */
export interface PgCluster {
  /** URL of the server's `postgres` database. */
  url: string;
  /** Creates a fresh, empty, uniquely named database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the throwaway server and removes its files (for PG_URL: drops the databases made here). */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port (trust auth, fsync off), or, if
 * `PG_URL` is set, uses that server. Call `stop()` in `after`; a process exit hook also stops a
 * cluster that was left running so no server outlives the test process.
 */
export async function startPostgres(): Promise<PgCluster> {
  const external = process.env["PG_URL"];
  return external ? useExternal(external) : startLocal();
}

let dbCounter = 0;

function uniqueDbName(): string {
  dbCounter += 1;
  return `test_${process.pid}_${Date.now().toString(36)}_${dbCounter}`;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function psql(url: string, sql: string): Promise<void> {
  await run(join(PG_BIN, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]);
}

async function useExternal(url: string): Promise<PgCluster> {
  const created: string[] = [];
  return {
    url,
    async createDatabase() {
      const name = uniqueDbName();
      await psql(url, `CREATE DATABASE "${name}"`);
      created.push(name);
      return withDatabase(url, name);
    },
    async stop() {
      // Someone else's server: leave it running, but take our databases with us.
      for (const name of created.splice(0)) {
        await psql(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
      }
    },
  };
}

async function startLocal(): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), "pgtest-"));
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: run the server tools as the postgres user.
  if (asRoot) {
    const uid = Number(
      execFileSync("id", ["-u", "postgres"], { timeout: CHILD_TIMEOUT_MS }).toString().trim(),
    );
    const gid = Number(
      execFileSync("id", ["-g", "postgres"], { timeout: CHILD_TIMEOUT_MS }).toString().trim(),
    );
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const pgTool = (tool: string, args: string[]): Promise<string> => {
    const argv = [join(PG_BIN, tool), ...args];
    return asRoot
      ? run("su", ["postgres", "-s", "/bin/sh", "-c", argv.map(shellQuote).join(" ")])
      : run(argv[0] ?? tool, args);
  };
  const stopSync = (): void => {
    const argv = [join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"];
    try {
      if (asRoot)
        execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", argv.map(shellQuote).join(" ")], {
          timeout: 15_000,
          stdio: "ignore",
        });
      else execFileSync(argv[0] ?? "pg_ctl", argv.slice(1), { timeout: 15_000, stdio: "ignore" });
    } catch {
      // best effort at exit
    }
    rmSync(dir, { recursive: true, force: true });
  };

  let started = false;
  try {
    await pgTool("initdb", [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ]);
    let port = 0;
    let lastErr: unknown;
    // The free port may be taken before the server binds it: try a few.
    for (let attempt = 1; attempt <= 3 && !started; attempt++) {
      port = await freePort();
      try {
        await pgTool("pg_ctl", [
          "-D",
          data,
          "-l",
          join(dir, "server.log"),
          "-w",
          "-t",
          "30",
          "-o",
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
          "start",
        ]);
        started = true;
      } catch (err) {
        lastErr = err;
      }
    }
    if (!started) throw lastErr;
    process.once("exit", stopSync);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    let stopped = false;
    return {
      url,
      async createDatabase() {
        const name = uniqueDbName();
        await psql(url, `CREATE DATABASE "${name}"`);
        return withDatabase(url, name);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener("exit", stopSync);
        try {
          await pgTool("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    if (started) stopSync();
    else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs a program with a timeout; rejects with its stderr on failure. */
function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: CHILD_TIMEOUT_MS, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(
              `${file} ${args.join(" ")} failed: ${stderr.toString().trim() || err.message}`,
              { cause: err },
            ),
          );
        else resolve(stdout.toString());
      },
    );
  });
}
