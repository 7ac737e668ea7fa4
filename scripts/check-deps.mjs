// Dependency-direction check (DESIGN §3): which workspace package may import which.
// Scans package.json dependencies and every import specifier in .ts sources.
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const P = (n) => `@pipecd-ts/${n}`;
// key may import values (packages/* only; apps may import any package but never an app).
const allowed = {
  proto: [],
  runtime: [],
  model: ["proto", "runtime"],
  config: ["model", "runtime", "proto"],
  "rest-api": ["model", "runtime", "proto"],
  datastore: ["model", "runtime", "proto"],
  kube: ["runtime"],
  "kube-sim": ["runtime"],
  "plugin-sdk": ["config", "model", "runtime", "proto"],
  "plugin-kubernetes": ["plugin-sdk", "kube", "config", "model", "runtime", "proto"],
  "plugin-basic": ["plugin-sdk", "model", "runtime", "proto"],
  "plugin-analysis": ["plugin-sdk", "config", "model", "runtime", "proto"],
  testkit: ["*"],
};
const forbiddenForApp = {
  "control-plane": [
    "kube",
    "kube-sim",
    "plugin-sdk",
    "plugin-kubernetes",
    "plugin-basic",
    "plugin-analysis",
  ],
  piped: ["datastore"],
  // pipectl talks to the control plane over REST only.
  pipectl: [
    "datastore",
    "kube",
    "kube-sim",
    "plugin-sdk",
    "plugin-kubernetes",
    "plugin-basic",
    "plugin-analysis",
  ],
  // The web UI runs in the browser: only the browser-safe rest-api, proto and model.
  web: [
    "datastore",
    "config",
    "kube",
    "kube-sim",
    "plugin-sdk",
    "plugin-kubernetes",
    "plugin-basic",
    "plugin-analysis",
  ],
};
// testkit is dev-only: allowed from tests, never from src/.
const devOnly = ["testkit"];

const problems = [];
function walk(dir, out = []) {
  for (const e of readdirSync(dir)) {
    if (e === "node_modules" || e === "dist" || e === "gen") continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|tsx)$/.test(e)) out.push(p);
  }
  return out;
}
function importsOf(file) {
  const src = readFileSync(file, "utf8");
  const re = /(?:from\s+|import\s*\(\s*|import\s+)["'](@pipecd-ts\/[a-z-]+)/g;
  const found = new Set();
  for (const m of src.matchAll(re)) found.add(m[1].slice("@pipecd-ts/".length));
  return found;
}
for (const kind of ["packages", "apps"]) {
  const base = join(root, kind);
  if (!existsSync(base)) continue;
  for (const name of readdirSync(base)) {
    const dir = join(base, name);
    if (!existsSync(join(dir, "package.json"))) continue;
    const srcDir = join(dir, "src");
    const files = existsSync(srcDir) ? walk(srcDir) : [];
    for (const f of files) {
      for (const dep of importsOf(f)) {
        const rel = relative(root, f);
        if (dep === name) problems.push(`${rel}: imports its own package ${P(dep)}`);
        else if (kind === "packages") {
          const ok = allowed[name];
          if (!ok) problems.push(`${rel}: package ${name} has no entry in scripts/check-deps.mjs`);
          else if (!ok.includes("*") && !ok.includes(dep))
            problems.push(`${rel}: ${P(name)} may not import ${P(dep)} (DESIGN §3)`);
        } else {
          if (existsSync(join(root, "apps", dep)) && !existsSync(join(root, "packages", dep)))
            problems.push(`${rel}: apps never import apps (${P(dep)})`);
          if ((forbiddenForApp[name] ?? []).includes(dep))
            problems.push(`${rel}: ${P(name)} may not import ${P(dep)} (DESIGN §3)`);
        }
        if (devOnly.includes(dep) && name !== dep)
          problems.push(`${rel}: ${P(dep)} is dev-only; import it from tests, not src/`);
      }
    }
  }
}
if (problems.length) {
  console.error("dependency-direction check failed:\n  " + problems.join("\n  "));
  process.exit(1);
}
console.log("dependency-direction check: ok");
