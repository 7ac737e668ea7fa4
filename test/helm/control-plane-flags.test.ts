import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  controlPlaneArgs,
  eventually,
  freePort,
  repoRoot,
  runCommand,
  startPostgres,
  type PgCluster,
} from "@pipecd-ts/testkit";

// The control-plane flags the chart passes, on the real bin/pipecd-server: --datastore-file
// (the PostgreSQL URL from a mounted Secret, so its password is not in /proc/<pid>/cmdline) and
// --secure-cookies (the session cookie is Secure when TLS ends at the Ingress).

const SERVER = join(repoRoot(), "bin", "pipecd-server");

describe("control-plane flags used by the chart", () => {
  let dir = "";
  let pg: PgCluster | undefined;
  const procs: ChildProcess[] = [];

  /** Starts the server with `args` on free ports; resolves once /healthz answers. */
  async function start(
    args: string[],
  ): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
    const httpPort = await freePort();
    const grpcPort = await freePort();
    const proc = spawn(
      SERVER,
      [
        ...controlPlaneArgs({
          dataDir: await mkdtemp(join(dir, "data-")),
          httpPort,
          grpcPort,
          logLevel: "debug",
        }),
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    procs.push(proc);
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const url = `http://127.0.0.1:${httpPort}`;
    await eventually(
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`pipecd-server exited ${proc.exitCode}:\n${out}`);
        const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).catch(
          () => undefined,
        );
        return r?.status === 200;
      },
      60_000,
      "pipecd-server /healthz",
    );
    return { proc, url, output: () => out };
  }

  async function stop(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    await exited;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cp-flags-"));
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("--datastore-file reads a sqlite: URL from a file (trailing newline trimmed)", async () => {
    const db = join(dir, "from-file.db");
    await writeFile(join(dir, "sqlite-url"), `sqlite:${db}\n`);
    const cp = await start(["--datastore-file", join(dir, "sqlite-url")]);
    await stop(cp.proc);
    assert.equal(cp.proc.exitCode, 0, cp.output());
    // The datastore is the file's database, not the default <data-dir>/pipecd.db.
    assert.ok((await readFile(db)).subarray(0, 15).toString() === "SQLite format 3");
  });

  it("--datastore-file with a PostgreSQL URL: the password is in neither the args nor the log", async () => {
    pg = await startPostgres();
    // Trust auth ignores the password; it stands for the one a real URL carries.
    const u = new URL(await pg.createDatabase());
    u.password = "pw-never-shown-7f3a";
    await writeFile(join(dir, "pg-url"), u.toString(), { mode: 0o600 });
    const cp = await start(["--datastore-file", join(dir, "pg-url")]);
    const cmdline = await readFile(`/proc/${cp.proc.pid}/cmdline`, "utf8");
    assert.ok(cmdline.includes("--datastore-file"), cmdline);
    assert.ok(!cmdline.includes("pw-never-shown-7f3a"), "no password in /proc/<pid>/cmdline");
    await stop(cp.proc);
    assert.equal(cp.proc.exitCode, 0, cp.output());
    assert.ok(!cp.output().includes("pw-never-shown-7f3a"), "no password in the log");
  });

  it("refuses an unreadable or empty --datastore-file, or both datastore flags, with exit 2", async () => {
    await writeFile(join(dir, "empty-url"), "\n");
    await writeFile(join(dir, "secret-url"), "postgres://u:pw-in-file@127.0.0.1:1/db");
    const cases: [string[], RegExp][] = [
      [
        ["--datastore-file", join(dir, "missing")],
        /--datastore-file: cannot read .*missing: ENOENT/,
      ],
      [["--datastore-file", join(dir, "empty-url")], /--datastore-file: .*empty-url is empty/],
      [
        ["--datastore-file", join(dir, "secret-url"), "--datastore", "sqlite::memory:"],
        /only one of --datastore and --datastore-file/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCommand(SERVER, ["--data-dir", join(dir, "refused"), ...args], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!r.stderr.includes("pw-in-file"), "the file's content is never echoed");
    }
  });

  it("--secure-cookies marks the session cookie Secure on a plain-HTTP listener; without it, not", async () => {
    const hash = await runCommand(SERVER, ["hash-password"], {
      input: "alice-password\n",
      timeoutMs: 30_000,
    });
    assert.equal(hash.code, 0, hash.stderr);
    const config = join(dir, "cp.yaml");
    await writeFile(
      config,
      `apiVersion: pipecd-ts.dev/v1beta1
kind: ControlPlane
spec:
  projectId: default
  users:
    - { username: alice, role: viewer, passwordHash: "${hash.stdout.trim()}" }
`,
    );
    const cookie = async (extra: string[]): Promise<string> => {
      const cp = await start(["--config", config, ...extra]);
      try {
        const r = await fetch(`${cp.url}/api/v1/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "alice", password: "alice-password" }),
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(r.status, 200, await r.clone().text());
        return r.headers.get("set-cookie") ?? "";
      } finally {
        await stop(cp.proc);
      }
    };
    const secure = await cookie(["--secure-cookies"]);
    assert.match(secure, /HttpOnly/);
    assert.match(secure, /; Secure/);
    const plain = await cookie([]);
    assert.match(plain, /HttpOnly/);
    assert.doesNotMatch(plain, /Secure/);
  });
});
