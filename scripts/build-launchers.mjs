// Builds the bundles the bin/* launchers run (scripts/bundles.mjs PROGRAMS): plain node starts
// a bundle in about a third of the time tsx needs for the sources (test/bench/cli-start.bench.ts).
//
// Usage: node scripts/build-launchers.mjs [--if-changed] [--quiet] [program ...]
//   --if-changed  rebuild only a program whose workspace sources or pnpm-lock.yaml changed since
//                 its last build (what bootstrap and a launcher that finds a newer source run)
//   --quiet       print nothing when nothing was built
//
// Beside each bundle, `<bundle>.inputs` records what it was built from: a first line
// `sha256 <hash>` over the contents, then one repository-relative path per line (the sources
// esbuild read, and the lockfile). The launchers compare those files' mtimes with the bundle's
// (scripts/launch.sh); this script compares contents, so a checkout that only touches mtimes
// costs a hash, not a build. Files are written to a temporary name and renamed, so concurrent
// builds and launchers never see half a bundle.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readFile, rename, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { PROGRAMS, ROOT, bundle, chosen } from "./bundles.mjs";

const LOCKFILE = "pnpm-lock.yaml";

const { values, positionals } = parseArgs({
  options: {
    "if-changed": { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  },
  allowPositionals: true,
});
const names = chosen("build-launchers", positionals, PROGRAMS, "program");

/** sha256 over the paths and contents of `paths`; undefined when one of them is gone. */
function contentHash(paths) {
  const h = createHash("sha256");
  for (const p of paths) {
    let data;
    try {
      data = readFileSync(join(ROOT, p));
    } catch {
      return undefined;
    }
    h.update(`${p}\0${data.length}\0`).update(data);
  }
  return h.digest("hex");
}

/** The recorded hash and paths of the last build, or undefined if there is none. */
async function lastBuild(inputsFile) {
  try {
    const [first = "", ...paths] = (await readFile(inputsFile, "utf8")).trim().split("\n");
    const m = /^sha256 ([0-9a-f]{64})$/.exec(first);
    return m ? { hash: m[1], paths } : undefined;
  } catch {
    return undefined;
  }
}

async function writeAtomically(path, contents, mtime) {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, contents);
  if (mtime) await utimes(tmp, mtime, mtime);
  await rename(tmp, path);
}

/** Builds `name` unless --if-changed finds it current; returns a line to print, or "". */
async function buildOne(name) {
  const outfile = join(ROOT, PROGRAMS[name].launcher);
  const inputsFile = `${outfile}.inputs`;
  const checkedAt = new Date();
  if (values["if-changed"]) {
    const last = await lastBuild(inputsFile);
    const built = await stat(outfile).catch(() => undefined);
    if (built && last && contentHash(last.paths) === last.hash) {
      // Same contents, newer mtimes (a checkout, an editor's save): the bundle is current.
      // Stamped with the time before hashing, so a save during the hash is still seen.
      await utimes(outfile, checkedAt, checkedAt);
      return "";
    }
  }
  const started = Date.now();
  const { files, sources } = await bundle(name, outfile);
  const paths = [...sources, LOCKFILE];
  // A source saved after the build started may or may not be in the bundle: record no valid
  // hash then, so the next check rebuilds.
  const mtimes = await Promise.all(paths.map((p) => stat(join(ROOT, p)).then((s) => s.mtimeMs)));
  const settled = mtimes.every((m) => m < checkedAt.getTime());
  const hash = settled ? contentHash(paths) : undefined;
  await mkdir(dirname(outfile), { recursive: true });
  // The bundle carries the build's start time: a source saved since is newer than it. It goes
  // first: a launcher that sees it with the previous inputs record rebuilds once too often,
  // never too rarely.
  for (const f of files) await writeAtomically(f.path, f.contents, checkedAt);
  await writeAtomically(inputsFile, `sha256 ${hash ?? "0".repeat(64)}\n${paths.join("\n")}\n`);
  const size = files.find((f) => f.path === outfile)?.contents.length ?? 0;
  return `${name}: ${PROGRAMS[name].launcher} ${(size / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`;
}

const lines = (await Promise.all(names.map(buildOne))).filter(Boolean);
if (lines.length || !values.quiet)
  process.stderr.write(
    lines.length
      ? lines.map((l) => `build-launchers: ${l}\n`).join("")
      : `build-launchers: ${names.join(", ")} up to date\n`,
  );
