// The esbuild bundles of the four programs, shared by the production build
// (scripts/build-bundles.mjs, the container images) and the launchers' build
// (scripts/build-launchers.mjs, what bin/* run). One ESM file per program, as toolchain.md §6
// says: `--bundle --platform=node --target=node20 --format=esm` plus a createRequire banner
// (CommonJS dependencies require Node builtins, G17), with the native better-sqlite3 and the
// optional pg-native left external.
import { build } from "esbuild";

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname;

/**
 * The programs: their entry point and where the launcher bundle goes (beside the package's
 * node_modules, so the control plane's external better-sqlite3 resolves from there).
 */
export const PROGRAMS = {
  "pipecd-server": {
    entry: "apps/control-plane/src/main.ts",
    launcher: "apps/control-plane/dist/pipecd-server.mjs",
  },
  piped: { entry: "apps/piped/src/main.ts", launcher: "apps/piped/dist/piped.mjs" },
  pipectl: {
    entry: "apps/pipectl/src/main.ts",
    launcher: "apps/pipectl/dist/pipectl.mjs",
    // Installed on its own as an npm `bin` (apps/pipectl/package.json): runnable as a file.
    shebang: true,
  },
  "kube-sim": {
    entry: "packages/kube-sim/src/main.ts",
    launcher: "packages/kube-sim/dist/kube-sim.mjs",
  },
};

/** Native or optional modules the bundles load from node_modules at run time. */
export const EXTERNAL = ["better-sqlite3", "pg-native"];

const REQUIRE_BANNER =
  "import { createRequire as __pipecdCreateRequire } from 'node:module'; const require = __pipecdCreateRequire(import.meta.url);";

/**
 * Bundles `program` in memory. Returns the files to write (keyed by absolute path: the bundle,
 * and with `sourcemap` its map and legal comments) and the repository-relative paths of the
 * workspace sources that went into it (node_modules inputs are covered by the lockfile).
 */
export async function bundle(program, outfile, { sourcemap = false } = {}) {
  const p = PROGRAMS[program];
  if (!p)
    throw new Error(`unknown program ${program} (one of ${Object.keys(PROGRAMS).join(", ")})`);
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [p.entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner: { js: (p.shebang ? "#!/usr/bin/env node\n" : "") + REQUIRE_BANNER },
    external: EXTERNAL,
    sourcemap: sourcemap ? "linked" : false,
    legalComments: sourcemap ? "linked" : "eof",
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  // Input paths are relative to absWorkingDir (the root).
  const sources = Object.keys(result.metafile.inputs)
    .filter((f) => !f.includes("node_modules/"))
    .sort();
  return {
    files: result.outputFiles.map((f) => ({ path: f.path, contents: f.contents })),
    sources,
  };
}

/**
 * The names a build script was asked for (all of `known` when none), or exit 2 naming an
 * unknown one.
 */
export function chosen(tool, positionals, known, what) {
  const names = positionals.length ? positionals : Object.keys(known);
  for (const n of names)
    if (!(n in known)) {
      process.stderr.write(
        `${tool}: unknown ${what} ${n} (one of ${Object.keys(known).join(", ")})\n`,
      );
      process.exit(2);
    }
  return names;
}
