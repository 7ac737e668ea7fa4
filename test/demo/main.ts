// `make demo`: the seed's Istio canary on embedded defaults, as separate processes — kube-sim
// (bin/kube-sim), the control plane on SQLite (bin/pipecd-server) and a piped (bin/piped) — with
// a local bare Git repo holding deploy/examples/canary-istio. It registers the piped and the app
// through the REST API, waits for the first quick sync, commits an image bump, stops when the
// deployment waits for approval, prints how to approve and look, then follows the deployment
// until Ctrl-C, when it stops everything it started.
//
// Environment: PIPECD_DEMO_DIR (default ./.demo, wiped at start: every run starts fresh),
// PIPECD_HTTP_PORT / PIPECD_GRPC_PORT (default 8080 / 9080, a free port when taken).
import { createServer } from "node:net";
import { join, relative, resolve } from "node:path";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { ensureK8sTools, freePort, repoRoot, startStack, type Stack } from "@pipecd-ts/testkit";
import * as k8s from "@kubernetes/client-node";
import { applyIstioCrds, files, waitingForApproval } from "../e2e/fixtures.js";

// Timed from `make demo` itself when scripts/demo.sh says when it began (so module loading counts).
const t0 = Number(process.env["PIPECD_DEMO_T0_MS"]) || Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const step = (msg: string): void => console.log(`demo [${elapsed().padStart(6)}] ${msg}`);

/** `want` when it is free on 127.0.0.1, else a free port (another demo or service has it). */
async function portOr(want: number, what: string): Promise<number> {
  if (want === 0) return freePort();
  const free = await new Promise<boolean>((res) => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(want, "127.0.0.1", () => srv.close(() => res(true)));
  });
  if (free) return want;
  const other = await freePort();
  step(`port ${want} (${what}) is taken; using ${other}`);
  return other;
}

const MARKER = ".pipecd-demo";

/** Empties `dir` for a fresh run, refusing a non-empty directory the demo did not make. */
async function freshDemoDir(dir: string, ours: boolean): Promise<void> {
  const entries = await readdir(dir).catch(() => undefined);
  if (!ours && entries && entries.length > 0 && !entries.includes(MARKER))
    throw new Error(
      `${dir} is not empty and was not made by the demo; refusing to wipe it (set PIPECD_DEMO_DIR)`,
    );
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), "made by make demo; wiped by the next run\n");
}

let s: Stack | undefined;
let stopping: Promise<never> | undefined;
/**
 * Stops everything this demo started, then exits with `code`. Once started, later calls (a
 * request of main() failing because the stack is going away) wait for the same stop.
 */
function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    console.log("");
    step("stopping the piped, the control plane and kube-sim…");
    await s?.close().catch(() => undefined);
    step("stopped; nothing left running");
    process.exit(code);
  })();
  return stopping;
}

async function main(): Promise<void> {
  const root = repoRoot();
  const dir = resolve(process.env["PIPECD_DEMO_DIR"] ?? resolve(root, ".demo"));
  const httpPort = await portOr(Number(process.env["PIPECD_HTTP_PORT"] ?? 8080), "HTTP");
  const grpcPort = await portOr(Number(process.env["PIPECD_GRPC_PORT"] ?? 9080), "gRPC");
  await freshDemoDir(dir, dir === resolve(root, ".demo"));
  // kubectl for the printed commands (cached after the first run); without it, print plain kubectl.
  const tools = ensureK8sTools().catch((err: unknown) => {
    step(
      `could not fetch kubectl (${err instanceof Error ? err.message : String(err)}); using yours`,
    );
    return { kubectl: "kubectl" };
  });

  step(`starting kube-sim, the control plane (SQLite in ${dir}) on :${httpPort}/:${grpcPort}…`);
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  s = await startStack({
    dir,
    httpPort,
    grpcPort,
    readyDelayMs: 300,
    users: [{ username: "demo", role: "admin" }],
  });
  step("applying the Istio CRDs to kube-sim…");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(s.sim.kubeconfigPath);
  await applyIstioCrds(kc);
  step(`registered piped ${s.pipedId}; starting it…`);
  await s.startPiped();
  await s.repo.commit(files("v0.1.0"), "canary-app v0.1.0");
  const appId = await s.addApp("canary-app", "canary-app");
  step(`registered app canary-app (${appId}); waiting for its first deployment (quick sync)…`);
  await s.waitDeployment(appId, (d) => d.status === "DEPLOYMENT_SUCCESS", 60_000, "quick sync");
  step("quick sync done: canary-app v0.1.0 runs with 2 replicas");
  await s.repo.commit(files("v0.2.0"), "bump helloworld to v0.2.0");
  step("committed an image bump v0.1.0 → v0.2.0; the canary pipeline runs…");
  const d = await s.waitDeployment(
    appId,
    waitingForApproval("bump helloworld to v0.2.0"),
    60_000,
    "the approval stage",
  );
  const { kubectl } = await tools;
  const rel = (p: string): string => (relative(root, p).startsWith("..") ? p : relative(root, p));
  const pipectl = `bin/pipectl --address ${s.httpUrl} --api-key-file ${rel(s.adminKeyFile)}`;
  const kctl = `${rel(kubectl)} --kubeconfig ${rel(s.sim.kubeconfigPath)}`;
  step(`waiting for approval after ${elapsed()} — deployment ${d.id ?? ""}`);
  console.log(`
  The canary (1 pod of v0.2.0) gets 10% of the traffic; the primary (2 pods of v0.1.0) 90%.

  web UI and REST API  ${s.httpUrl}   (log in as demo / demo-secret)
  admin API key        ${rel(s.adminKeyFile)}   (mode 0600; OpenAPI at ${s.httpUrl}/api/v1/openapi.json)

  see the canary       ${kctl} get deployments -o 'custom-columns=NAME:.metadata.name,READY:.status.readyReplicas,IMAGE:.spec.template.spec.containers[0].image'
  see the 90/10 split  ${kctl} get virtualservice canary-app -o jsonpath='{.spec.http[0].route}'
  follow it            ${pipectl} deployment wait ${d.id ?? ""} --status DEPLOYMENT_SUCCESS
  approve              ${pipectl} stage approve --deployment ${d.id ?? ""}

  (commands run from ${root}; Ctrl-C stops everything the demo started)
`);
  // Follow the deployment to its end, so the terminal shows what approving did.
  const done = await s.waitDeployment(
    appId,
    (x) =>
      x.id === d.id &&
      ["DEPLOYMENT_SUCCESS", "DEPLOYMENT_FAILURE", "DEPLOYMENT_CANCELLED"].includes(x.status ?? ""),
    24 * 3600_000,
    "the deployment's end",
  );
  step(
    done.status === "DEPLOYMENT_SUCCESS"
      ? "deployment DEPLOYMENT_SUCCESS: the primary runs v0.2.0, the VirtualService is back to " +
          "100% primary and the canary is gone. Ctrl-C to stop."
      : `deployment ${done.status ?? ""}: ${done.statusReason ?? ""} (rolled back). Ctrl-C to stop.`,
  );
}

main().catch(async (err: unknown) => {
  if (!stopping) console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  await stop(1);
});
