import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as k8s from "@kubernetes/client-node";
import { startStack, type DeploymentJson, type Stack, type StackOptions } from "@pipecd-ts/testkit";
import { chromium, type Page } from "playwright-core";
import { parseAllDocuments } from "yaml";

// The seed's app (PipeCD examples v0/kubernetes/mesh-istio-canary), shared by the e2e suites.

/** The destination host of the seed app. */
export const HOST = "canary-app.default.svc.cluster.local";

/** The seed-shaped example app that `make demo` deploys too (written at image v0.1.0). */
const EXAMPLE_DIR = new URL("../../deploy/examples/canary-istio/", import.meta.url);
const example: Record<string, string> = Object.fromEntries(
  readdirSync(EXAMPLE_DIR).map((f) => [f, readFileSync(new URL(f, EXAMPLE_DIR), "utf8")]),
);

/** The seed app's files (`deploy/examples/canary-istio`) under `canary-app/` with `image` (plus `extra` files). */
export const files = (
  image: string,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  ...Object.fromEntries(
    Object.entries(example).map(([f, text]) => [
      `canary-app/${f}`,
      text.replaceAll("ghcr.io/pipe-cd/helloworld:v0.1.0", `ghcr.io/pipe-cd/helloworld:${image}`),
    ]),
  ),
  ...extra,
});

/** A `waitDeployment` predicate: the deployment of commit `message` waits for approval. */
export const waitingForApproval =
  (message: string) =>
  (d: DeploymentJson): boolean =>
    d.trigger?.commit?.message === message &&
    d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.status === "STAGE_RUNNING";

/** One destination of a VirtualService HTTP route. */
export type Route = {
  destination: { host: string; subset?: string; port?: { number: number } };
  weight?: number;
};

/** Applies the real Istio CRDs (the project's copy) with server-side apply. */
export async function applyIstioCrds(kc: k8s.KubeConfig): Promise<void> {
  const obj = k8s.KubernetesObjectApi.makeApiClient(kc);
  const text = await readFile(
    new URL("../../deploy/examples/istio-crds.yaml", import.meta.url),
    "utf8",
  );
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as k8s.KubernetesObject | null;
    if (o)
      await obj.patch(o, undefined, undefined, "test", true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** The destinations of the seed VirtualService's first HTTP route, as live in the cluster. */
export async function vsRoutes(kc: k8s.KubeConfig): Promise<Route[]> {
  const vs = (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
    group: "networking.istio.io",
    version: "v1beta1",
    namespace: "default",
    plural: "virtualservices",
    name: "canary-app",
  })) as { spec: { http: { route: Route[] }[] } };
  return vs.spec.http[0]?.route ?? [];
}

/**
 * A stack with the Istio CRDs applied, a piped running and the seed app registered and
 * quick-synced (its first deployment) at `version`.
 */
export async function startSeedStack(
  opts: StackOptions,
  version: string,
): Promise<{ s: Stack; kc: k8s.KubeConfig; appId: string }> {
  const s = await startStack(opts);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(s.sim.kubeconfigPath);
  await applyIstioCrds(kc);
  await s.startPiped();
  await s.repo.commit(files(version), `canary-app ${version}`);
  const appId = await s.addApp("canary-app", "canary-app");
  await s.waitDeployment(
    appId,
    (x) => x.status === "DEPLOYMENT_SUCCESS",
    60_000,
    "first quick sync",
  );
  return { s, kc, appId };
}

/**
 * Runs `fn` with a Chromium page signed in to the web UI as `username` (password
 * `<username>-secret`, as the stack's users have), then checks the page raised no errors and
 * closes the browser.
 */
export async function withSignedInPage(
  httpUrl: string,
  username: string,
  fn: (page: Page) => Promise<void>,
): Promise<void> {
  const executablePath = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) =>
    existsSync(p),
  );
  assert.ok(
    executablePath,
    "chromium is installed (scripts/ensure-debian-package.sh, run by make test)",
  );
  const browser = await chromium.launch({ executablePath, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${httpUrl}/`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(`${username}-secret`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("who").filter({ hasText: username }).waitFor();
    await fn(page);
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser.close();
  }
}
