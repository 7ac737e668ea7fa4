import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, repoRoot, runCommand } from "@pipecd-ts/testkit";

// `make demo` (scripts/demo.sh) as a user runs it: it reaches "waiting for approval" in under
// 30 s, the commands it prints work (kubectl shows the canary and the 90/10 split, the pipectl
// approve command finishes the deployment), and Ctrl-C leaves no process behind.

/** Pids of live processes whose command line mentions `needle`. */
async function processesMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(needle)) out.push(Number(e));
  }
  return out;
}

describe("make demo", () => {
  let demo: ChildProcess | undefined;
  let dir = "";
  after(async () => {
    if (demo?.pid && demo.exitCode === null) process.kill(-demo.pid, "SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("waits for approval in under 30 s, prints working commands, and Ctrl-C leaves nothing running", async () => {
    dir = await mkdtemp(join(tmpdir(), "pipecd-demo-"));
    const spawnedAt = Date.now();
    demo = spawn("bash", [join(repoRoot(), "scripts", "demo.sh")], {
      cwd: repoRoot(),
      detached: true, // its own process group, as a terminal's Ctrl-C signals the whole group
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PIPECD_DEMO_DIR: dir, PIPECD_HTTP_PORT: "0", PIPECD_GRPC_PORT: "0" },
    });
    let out = "";
    demo.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    demo.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => demo?.once("exit", (code) => r(code)));
    const command = (label: string): string =>
      new RegExp(`^  ${label} {2,}(.+)$`, "m").exec(out)?.[1] ?? "";
    await eventually(async () => command("approve") !== "", 60_000, `the approve command:\n${out}`);
    const wall = (Date.now() - spawnedAt) / 1000;
    assert.ok(wall < 30, `the approve command was printed ${wall} s after the start (limit 30 s)`);
    assert.match(out, /demo \[ *[\d.]+ s\] starting kube-sim/, "progress lines while it starts");
    const secs = Number(/waiting for approval after ([\d.]+) s/.exec(out)?.[1]);
    assert.ok(secs > 0 && secs < 30, `waiting for approval after ${secs} s (limit 30 s)`);

    const sh = (cmd: string) =>
      runCommand("bash", ["-c", `cd "${repoRoot()}" && ${cmd}`], { timeoutMs: 60_000 });
    const canary = await sh(command("see the canary"));
    assert.equal(canary.code, 0, canary.stderr);
    assert.match(canary.stdout, /canary-app-canary\s+1\s+ghcr\.io\/pipe-cd\/helloworld:v0\.2\.0/);
    assert.match(canary.stdout, /canary-app\s+2\s+ghcr\.io\/pipe-cd\/helloworld:v0\.1\.0/);
    const split = await sh(command("see the 90/10 split"));
    assert.equal(split.code, 0, split.stderr);
    const routes = JSON.parse(split.stdout) as {
      destination: { subset: string };
      weight: number;
    }[];
    assert.deepEqual(
      routes.map((r) => [r.destination.subset, r.weight]),
      [
        ["primary", 90],
        ["canary", 10],
      ],
    );
    const approve = await sh(command("approve"));
    assert.equal(approve.code, 0, `${approve.stdout}${approve.stderr}`);
    const follow = await sh(command("follow it"));
    assert.equal(follow.code, 0, `${follow.stdout}${follow.stderr}`);
    await eventually(
      async () => /deployment DEPLOYMENT_SUCCESS/.test(out),
      60_000,
      "the demo to report success",
    );

    process.kill(-(demo.pid ?? 0), "SIGINT");
    assert.equal(await exited, 0, out);
    assert.match(out, /stopped; nothing left running/);
    assert.deepEqual(await processesMentioning(dir), [], "no process of the demo is left");
  });

  it("refuses to wipe a non-empty directory it did not make", async () => {
    const foreign = await mkdtemp(join(tmpdir(), "not-a-demo-"));
    await writeFile(join(foreign, "precious.txt"), "keep me");
    const r = await runCommand("bash", [join(repoRoot(), "scripts", "demo.sh")], {
      timeoutMs: 60_000,
      env: {
        ...process.env,
        PIPECD_DEMO_DIR: foreign,
        PIPECD_HTTP_PORT: "0",
        PIPECD_GRPC_PORT: "0",
      },
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is not empty and was not made by the demo; refusing to wipe it/);
    assert.equal(await readFile(join(foreign, "precious.txt"), "utf8"), "keep me");
    await rm(foreign, { recursive: true, force: true });
  });
});
