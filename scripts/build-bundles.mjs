// Builds the production bundles the container images run (deploy/docker/*.Dockerfile): one ESM
// file per service, as toolchain.md §6 says — `--bundle --platform=node --target=node20
// --format=esm` plus a createRequire banner (CommonJS dependencies require Node builtins, G17),
// with the native better-sqlite3 and the optional pg-native left external.
//
// Usage: node scripts/build-bundles.mjs [--out DIR] [control-plane|piped ...]
// Writes DIR/<service>/main.mjs (default DIR: dist/bundles) and prints each bundle's size.
import { mkdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

/** The services and their entry points. */
export const SERVICES = {
  "control-plane": "apps/control-plane/src/main.ts",
  piped: "apps/piped/src/main.ts",
};

/** Native or optional modules the bundles load from node_modules at run time. */
export const EXTERNAL = ["better-sqlite3", "pg-native"];

const BANNER =
  "import { createRequire as __pipecdCreateRequire } from 'node:module'; const require = __pipecdCreateRequire(import.meta.url);";

const { values, positionals } = parseArgs({
  options: { out: { type: "string", default: join(root, "dist", "bundles") } },
  allowPositionals: true,
});
const names = positionals.length ? positionals : Object.keys(SERVICES);
for (const n of names)
  if (!(n in SERVICES)) {
    process.stderr.write(
      `build-bundles: unknown service ${n} (one of ${Object.keys(SERVICES).join(", ")})\n`,
    );
    process.exit(2);
  }

for (const name of names) {
  const outDir = resolve(values.out, name);
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, "main.mjs");
  const started = Date.now();
  await build({
    entryPoints: [join(root, SERVICES[name])],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner: { js: BANNER },
    external: EXTERNAL,
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
  });
  const { size } = await stat(outfile);
  process.stdout.write(
    `bundle ${name}: ${outfile} ${(size / 1024).toFixed(0)} KiB in ${Date.now() - started} ms\n`,
  );
}
