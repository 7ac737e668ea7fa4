// Builds the production bundles the container images run (deploy/docker/*.Dockerfile): the
// esbuild bundles of scripts/bundles.mjs, with a linked source map and legal comments.
//
// Usage: node scripts/build-bundles.mjs [--out DIR] [control-plane|piped ...]
// Writes DIR/<service>/main.mjs (default DIR: dist/bundles) and prints each bundle's size.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, bundle, chosen } from "./bundles.mjs";

/** The services of the images and the programs they run. */
export const SERVICES = { "control-plane": "pipecd-server", piped: "piped" };

const { values, positionals } = parseArgs({
  options: { out: { type: "string", default: join(ROOT, "dist", "bundles") } },
  allowPositionals: true,
});
const names = chosen("build-bundles", positionals, SERVICES, "service");

for (const name of names) {
  const outfile = join(resolve(values.out, name), "main.mjs");
  const started = Date.now();
  const { files } = await bundle(SERVICES[name], outfile, { sourcemap: true });
  for (const f of files) {
    await mkdir(dirname(f.path), { recursive: true });
    await writeFile(f.path, f.contents);
  }
  const size = files.find((f) => f.path === outfile)?.contents.length ?? 0;
  process.stdout.write(
    `bundle ${name}: ${outfile} ${(size / 1024).toFixed(0)} KiB in ${Date.now() - started} ms\n`,
  );
}
