import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import type { Stack } from "@pipecd-ts/testkit";
import { files, vsRoutes, waitingForApproval } from "./fixtures.js";

// Steps of the system e2e suites (system*.test.ts), driven with bin/pipectl.

/** Runs pipectl and fails with its output unless it exits 0; returns stdout. */
export async function ok(s: Stack, args: string[], apiKeyFile?: string): Promise<string> {
  const r = await s.pipectl(args, { apiKeyFile });
  assert.equal(r.code, 0, `pipectl ${args.join(" ")} → ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** `pipectl deployment wait ID --status S` (live progress on stderr); fails unless it exits 0. */
export const waitWithPipectl = (s: Stack, id: string, status: string): Promise<string> =>
  ok(s, ["deployment", "wait", id, "--status", status, "--timeout", "90s"]);

/** The seed canary: bump, wait for approval at 90/10, approve with pipectl, wait with pipectl. */
export async function canaryApprovedWithPipectl(
  s: Stack,
  kc: k8s.KubeConfig,
  appId: string,
  image: string,
): Promise<void> {
  const msg = `bump to ${image}`;
  await s.repo.commit(files(image), msg);
  const d = await s.waitDeployment(appId, waitingForApproval(msg), 90_000, `${msg} waiting`);
  assert.deepEqual(
    (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight]),
    [
      ["primary", 90],
      ["canary", 10],
    ],
  );
  const approved = JSON.parse(
    await ok(s, ["-o", "json", "stage", "approve", "--deployment", d.id ?? ""]),
  ) as { stageName: string };
  assert.equal(approved.stageName, "WAIT_APPROVAL");
  await waitWithPipectl(s, d.id ?? "", "DEPLOYMENT_SUCCESS");
  const got = JSON.parse(await ok(s, ["-o", "json", "deployment", "get", d.id ?? ""])) as {
    deployment: { status: string };
  };
  assert.equal(got.deployment.status, "DEPLOYMENT_SUCCESS");
  assert.deepEqual(
    (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight]),
    [["primary", 100]],
  );
  const live = await kc
    .makeApiClient(k8s.AppsV1Api)
    .readNamespacedDeployment({ name: "canary-app", namespace: "default" });
  assert.equal(
    live.spec?.template.spec?.containers[0]?.image,
    `ghcr.io/pipe-cd/helloworld:${image}`,
  );
}
