import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  controlPlaneArgs,
  freePort,
  launch,
  repoRoot,
  runCommand,
  type StackProcess,
} from "@pipecd-ts/testkit";

// pipectl installed the way users install a CLI (docs/pipectl.md): `pnpm pack` of apps/pipectl,
// then `npm install -g` of the tarball into a prefix, offline, and run from a directory outside
// the repository with nothing on PATH but node and the installed pipectl.

describe("pipectl installed from its tarball", () => {
  let dir = "";
  let cp: StackProcess;
  let httpUrl = "";
  let keyFile = "";
  /** PATH holding only node, plus the installed bin directory. */
  let nodeOnlyPath = "";
  let prefix = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pipectl-install-"));
    await mkdir(join(dir, "node-only"));
    await symlink(process.execPath, join(dir, "node-only", "node"));
    prefix = join(dir, "prefix");
    nodeOnlyPath = `${join(prefix, "bin")}:${join(dir, "node-only")}`;
    const httpPort = await freePort();
    const grpcPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    keyFile = join(dir, "admin-key");
    await writeFile(keyFile, `${randomUUID()}.${randomBytes(32).toString("base64url")}`, {
      mode: 0o600,
    });
    cp = await launch(
      "pipecd-server",
      [
        ...controlPlaneArgs({ dataDir: join(dir, "cp"), httpPort, grpcPort }),
        "--bootstrap-admin-key-file",
        keyFile,
      ],
      /pipecd-server ready/,
    );
  });
  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs the installed pipectl from the temporary directory with only node on PATH. */
  const installed = (args: string[]) =>
    runCommand(join(prefix, "bin", "pipectl"), args, {
      cwd: dir,
      env: { PATH: nodeOnlyPath, HOME: dir },
      timeoutMs: 30_000,
    });

  it("pnpm pack makes pipectl-<version>.tgz holding only the bundle; npm install -g of it works offline", async () => {
    const pack = await runCommand("pnpm", ["pack", "--out", join(dir, "pipectl-%v.tgz")], {
      cwd: join(repoRoot(), "apps", "pipectl"),
      timeoutMs: 120_000,
    });
    assert.equal(pack.code, 0, `pnpm pack: ${pack.stdout}\n${pack.stderr}`);
    const version = (
      JSON.parse(await readFile(join(repoRoot(), "apps", "pipectl", "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
    const tarballs = (await readdir(dir)).filter((f) => /^pipectl-.*\.tgz$/.test(f));
    assert.deepEqual(tarballs, [`pipectl-${version}.tgz`]);

    // Offline: the package has no dependencies to fetch, the bundle carries them.
    const npm = await runCommand(
      "npm",
      [
        "install",
        "-g",
        "--prefix",
        prefix,
        "--offline",
        "--no-audit",
        "--no-fund",
        "--cache",
        join(dir, "npm-cache"),
        join(dir, `pipectl-${version}.tgz`),
      ],
      { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: dir }, timeoutMs: 120_000 },
    );
    assert.equal(npm.code, 0, `npm install -g: ${npm.stdout}\n${npm.stderr}`);
    const pkgDir = join(prefix, "lib", "node_modules", "@pipecd-ts", "pipectl");
    assert.deepEqual((await readdir(pkgDir)).sort(), ["dist", "package.json"]);
    assert.deepEqual(await readdir(join(pkgDir, "dist")), ["pipectl.mjs"]);

    // What starts is what a command needs: the REST client and its schemas, no logger, no gRPC.
    const bundled = await readFile(join(pkgDir, "dist", "pipectl.mjs"), "utf8");
    const packages = new Set(
      [...bundled.matchAll(/^\/\/ node_modules\/\.pnpm\/(.+?)@\d[^/]*\//gm)].map((m) => m[1]),
    );
    assert.deepEqual([...packages], ["typebox"]);
    assert.ok(bundled.startsWith("#!/usr/bin/env node\n"), "runnable as a file");

    const v = await installed(["--version"]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), `pipectl ${version}`);
  });

  it("the installed pipectl prints --help and registers and lists pipeds against a control plane", async () => {
    const help = await installed(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.equal(help.stderr, "");
    assert.match(help.stdout, /^pipectl — command-line client/);
    assert.match(help.stdout, /\n {2}deployment\s/);

    const flags = ["--address", httpUrl, "--api-key-file", keyFile];
    const reg = await installed([
      "piped",
      "register",
      "--name",
      "from-tarball",
      "-o",
      "json",
      ...flags,
    ]);
    assert.equal(reg.code, 0, reg.stderr);
    const { id } = JSON.parse(reg.stdout) as { id: string };
    const list = await installed(["piped", "list", "-o", "json", ...flags]);
    assert.equal(list.code, 0, list.stderr);
    const pipeds = (JSON.parse(list.stdout) as { pipeds: { id: string; name: string }[] }).pipeds;
    assert.deepEqual(
      pipeds.map((p) => [p.id, p.name]),
      [[id, "from-tarball"]],
    );

    // A server error comes back as the documented exit code, not a stack trace.
    const missing = await installed(["piped", "get", "no-such-piped", ...flags]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND/);
  });
});
