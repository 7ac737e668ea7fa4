import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runCommand } from "@pipecd-ts/testkit";

// The bin/* launchers run esbuild bundles (scripts/launch.sh, scripts/build-launchers.mjs). Run
// on a copy of the parts pipectl is built from, so the edits below never reach the bundles the
// other test files are running.

describe("launchers run a bundle that follows the sources", () => {
  let dir = "";
  const run = (file: string, args: string[]) =>
    runCommand(join(dir, file), args, { timeoutMs: 60_000 });
  const pipectlVersion = () => run("bin/pipectl", ["--version"]);
  const build = (...args: string[]) =>
    runCommand(process.execPath, [join(dir, "scripts", "build-launchers.mjs"), ...args], {
      timeoutMs: 60_000,
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "launchers-"));
    const root = repoRoot();
    // Sources with their workspace links (relative symlinks into the copy), minus any build.
    for (const part of [
      "bin",
      "scripts",
      "apps/pipectl",
      "packages/rest-api",
      "packages/model",
      "packages/runtime",
      "packages/proto",
      "pnpm-lock.yaml",
      "package.json",
      "tsconfig.base.json",
    ])
      await cp(join(root, part), join(dir, part), {
        recursive: true,
        verbatimSymlinks: true,
        filter: (src) => !src.includes("/dist"),
      });
    await symlink(join(root, "node_modules"), join(dir, "node_modules"));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a missing bundle is an error that says what to run", async () => {
    const r = await pipectlVersion();
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `pipectl: not built (apps/pipectl/dist/pipectl.mjs is missing); run 'make bootstrap' (or 'make test') in ${dir} first\n`,
    );
  });

  it("built once, it is current: --if-changed builds nothing and the launcher starts it quietly", async () => {
    const first = await build("--if-changed", "pipectl");
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /^build-launchers: pipectl: apps\/pipectl\/dist\/pipectl\.mjs \d+ KiB/,
    );
    const again = await build("--if-changed", "pipectl");
    assert.equal(again.stderr, "build-launchers: pipectl up to date\n");
    const r = await pipectlVersion();
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "pipectl 0.1.0\n", ""]);
  });

  it("a source saved without changes costs a hash, not a build", async () => {
    const file = join(dir, "packages", "rest-api", "src", "routes.ts");
    await writeFile(file, await readFile(file));
    const r = await pipectlVersion();
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "pipectl 0.1.0\n", ""]);
  });

  it("an edited source is rebuilt before the launcher starts it", async () => {
    const cli = join(dir, "apps", "pipectl", "src", "cli.ts");
    const text = await readFile(cli, "utf8");
    await writeFile(cli, text.replace('PIPECTL_VERSION = "0.1.0"', 'PIPECTL_VERSION = "9.9.9"'));
    const r = await pipectlVersion();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "pipectl 9.9.9\n");
    assert.match(r.stderr, /^build-launchers: pipectl: apps\/pipectl\/dist\/pipectl\.mjs/);
  });

  it("a lockfile change rebuilds too (the bundled dependencies may have changed)", async () => {
    const lock = join(dir, "pnpm-lock.yaml");
    await writeFile(lock, `${await readFile(lock, "utf8")}\n`);
    const r = await pipectlVersion();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^build-launchers: pipectl:/);
  });
});
