import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { helm, kubectl, repoRoot, runCommand } from "@pipecd-ts/testkit";
import { parseAllDocuments, stringify } from "yaml";

// Real helm v4.1.4 and kubectl v1.33.9 (toolchain.md §7) for the chart tests.

/** A rendered Kubernetes object. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** The charts in deploy/helm. */
export type ChartName = "piped" | "control-plane";

/** The directory of a chart. */
export const chartDir = (chart: ChartName): string => join(repoRoot(), "deploy", "helm", chart);

let helmHome: Promise<string> | undefined;

/** Runs real helm with its cache/config/data in a temp dir (never the user's $HOME). */
export async function runHelm(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  helmHome ??= mkdtemp(join(tmpdir(), "helm-home-"));
  const home = await helmHome;
  return runCommand(await helm(), args, {
    timeoutMs: 60_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_DATA_HOME: join(home, "data"),
    },
  });
}

/** Writes `values` to a temp YAML file and returns its path. */
export async function valuesFile(values: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "helm-values-"));
  const path = join(dir, "values.yaml");
  await writeFile(path, stringify(values));
  return path;
}

/** How a {@link render} result was rendered: chart, values, release and namespace. */
export interface Rendering {
  chart: ChartName;
  values: unknown;
  release: string;
  namespace: string;
}

const renderings = new WeakMap<Manifest[], Rendering>();

/** The inputs a manifest list came from, if {@link render} made it. */
export function renderingOf(ms: Manifest[]): Rendering | undefined {
  return renderings.get(ms);
}

/** `helm template` of a chart with values; throws with helm's stderr when it fails. */
export async function render(
  chart: ChartName,
  values: unknown,
  release = "test",
  namespace = "pipecd",
): Promise<Manifest[]> {
  const r = await runHelm([
    "template",
    release,
    chartDir(chart),
    "--namespace",
    namespace,
    "-f",
    await valuesFile(values),
  ]);
  if (r.code !== 0) throw new Error(`helm template ${chart} failed: ${r.stderr}`);
  const ms = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  renderings.set(ms, { chart, values, release, namespace });
  return ms;
}

/** The one object of `kind` (and `name` if given) among `ms`. */
export function find(ms: Manifest[], kind: string, name?: string): Manifest {
  const found = ms.filter(
    (m) => m.kind === kind && (name === undefined || m.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  return found[0] as Manifest;
}

/** Runs real kubectl with a kubeconfig; never rejects on a non-zero exit. */
export async function runKubectl(
  kubeconfig: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommand(await kubectl(), ["--kubeconfig", kubeconfig, ...args], {
    timeoutMs: 60_000,
    input,
  });
}

/** YAML stream of manifests (for `kubectl apply -f -`). */
export const toStream = (ms: Manifest[]): string => ms.map((m) => stringify(m)).join("---\n");
