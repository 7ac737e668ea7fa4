// Measurement (not a test): how many of PipeCD's own example apps (pipe-cd/examples,
// v0/kubernetes/*) load (`loadApplicationConfig`) and render (`ManifestSource` with helm and
// kustomize) with real helm/kubectl. Apps that fail because they fetch a chart or base from the
// network (github.com, ghcr.io) are counted apart. `<examples-dir>` must be a git repository
// (`git init` is enough): it is the checkout root for path checks.
// Usage: node --import tsx test/bench/pipecd-examples.ts <examples-dir>
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { loadApplicationConfig } from "@pipecd-ts/config";
import { formatConfigWarning } from "@pipecd-ts/model";
import {
  HelmRenderer,
  KustomizeRenderer,
  ManifestSource,
  Toolbox,
  renderMethodOf,
} from "@pipecd-ts/plugin-kubernetes";
import { ensureK8sTools } from "@pipecd-ts/testkit";

const CONFIG_FILES = ["app.pipecd.yaml", ".pipe.yaml"];
/** Failures to reach a host: the git-remote, OCI and remote-base examples need the internet. */
const NETWORK =
  /could not resolve|no such host|name resolution|network is unreachable|connection refused|i\/o timeout/i;

const root = process.argv[2];
if (!root) throw new Error("usage: pipecd-examples.ts <examples-dir>");
const appsDir = join(root, "v0", "kubernetes");

/** App directories under `dir` holding an app config, searched two levels deep. */
async function appDirs(dir: string, depth = 2): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const d = join(dir, e.name);
    if (CONFIG_FILES.some((f) => existsSync(join(d, f)))) out.push(d);
    else if (depth > 1) out.push(...(await appDirs(d, depth - 1)));
  }
  return out.sort();
}

const cacheDir = await mkdtemp(join(tmpdir(), "pipecd-examples-"));
const toolbox = new Toolbox(await ensureK8sTools());
const source = new ManifestSource({
  helm: new HelmRenderer({ toolbox, chartRepositories: [], chartRegistries: [], cacheDir }),
  kustomize: new KustomizeRenderer({ toolbox }),
});
const dirs = await appDirs(appsDir);
let ok = 0;
const network: string[] = [];
const warned: string[] = [];
const other: string[] = [];
try {
  for (const dir of dirs) {
    const id = basename(dir);
    try {
      const file = CONFIG_FILES.map((f) => join(dir, f)).find((f) => existsSync(f)) ?? "";
      const cfg = await loadApplicationConfig(file);
      const app = { id, name: cfg.name || id, dir, input: cfg.input };
      const method = await renderMethodOf(app);
      const notes: string[] = [];
      const signal = AbortSignal.timeout(120_000);
      const manifests = await source.render(app, "HEAD", signal, (n) => notes.push(n));
      console.log(`${id.padEnd(24)}  OK    ${method} ${manifests.length} manifests`);
      for (const n of notes) console.log(`${"".padEnd(24)}  note: ${n}`);
      for (const w of cfg.warnings)
        console.log(
          `${"".padEnd(24)}  warning: ${formatConfigWarning({ file: "app.pipecd.yaml", ...w })}`,
        );
      if (cfg.warnings.length > 0) warned.push(id);
      ok++;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      (NETWORK.test(msg) ? network : other).push(id);
      // The line that says what went wrong: a tool's `error:` line, else the first one that is
      // not a "file:" header (config errors list their issues on the lines below it).
      const lines = msg.split("\n").map((l) => l.trim());
      const line =
        lines.find((l) => /^error:/i.test(l)) ?? lines.find((l) => l && !l.endsWith(":"));
      console.log(`${id.padEnd(24)}  FAIL  ${line ?? lines[0] ?? ""}`);
    }
  }
} finally {
  await rm(cacheDir, { recursive: true, force: true });
}
console.log(`\n${ok} of ${dirs.length} example apps load and render`);
console.log(`loaded with warnings: ${warned.length} (${warned.join(", ")})`);
console.log(`needs network: ${network.length} (${network.join(", ")})`);
console.log(`other failures: ${other.length} (${other.join(", ")})`);
