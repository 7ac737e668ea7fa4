import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ApplicationSyncStatus,
  KubernetesResourceState_HealthStatus as Health,
} from "@pipecd-ts/proto";
import { registerTestPiped, startStack, type Stack, type TestPiped } from "@pipecd-ts/testkit";
import { json, pipectl, type Run } from "./helpers.js";

// `pipectl application get` shows what PipeCD's application page shows (issue 19): sync state
// with the drift diff, health, the config's pipeline and the live resource tree. The real
// bin/pipectl against a real control plane; the state is reported over the PipedService by a
// registered piped, as a piped reports it.

/** PipeCD's drift text (plugin-kubernetes renderDrift), with its blank and indented lines. */
const DIFF = `Diff between the defined state in Git at commit 0a1b2c3 and actual state in cluster:

--- Actual   (LiveState)
+++ Expected (Git)

# 1. name="web", kind="Deployment", namespace="default", apiVersion="apps/v1"

  #spec.replicas
- replicas: 3
+ replicas: 2

  #spec.template.spec.containers.0.image
- image: ghcr.io/pipe-cd/helloworld:v9.9.9
+ image: ghcr.io/pipe-cd/helloworld:v0.1.0

`;

const STAGES = [
  { id: "stage-0", name: "K8S_CANARY_ROLLOUT", desc: "Deploy the canary with 10% of the pods" },
  { id: "stage-1", name: "WAIT_APPROVAL", desc: "" },
  { id: "stage-2", name: "K8S_PRIMARY_ROLLOUT", desc: "" },
];

const res = (
  id: string,
  kind: string,
  name: string,
  o: { owner?: string; ns?: string; health?: Health; desc?: string; apiVersion?: string } = {},
) => {
  const apiVersion = o.apiVersion ?? "apps/v1";
  const ns = o.ns ?? "default";
  return {
    id,
    ownerIds: o.owner ? [o.owner] : [],
    parentIds: o.owner ? [o.owner] : [],
    name,
    apiVersion,
    kind,
    namespace: ns,
    healthStatus: o.health ?? Health.HEALTHY,
    healthDescription: o.desc ?? "",
    resourceKey: `${apiVersion}:${kind}:${ns}:${name}`,
  };
};

/** Reported out of tree order on purpose: pipectl draws the tree from the owner ids. */
const RESOURCES = [
  res("pod-b", "Pod", "web-7d9c5b8f64-x2kq9", {
    owner: "rs-new",
    apiVersion: "v1",
    health: Health.UNHEALTHY,
    desc: "Container web is waiting: ImagePullBackOff",
  }),
  res("svc", "Service", "web", { apiVersion: "v1" }),
  res("rs-new", "ReplicaSet", "web-7d9c5b8f64", { owner: "dep" }),
  res("role", "ClusterRole", "web-reader", {
    ns: "",
    apiVersion: "rbac.authorization.k8s.io/v1",
  }),
  res("dep", "Deployment", "web", {
    health: Health.OTHER,
    desc: "Waiting for rollout to finish: 1 of 2 updated replicas are available...",
  }),
  res("pod-a", "Pod", "web-7d9c5b8f64-a1b2c", { owner: "rs-new", apiVersion: "v1" }),
  res("rs-old", "ReplicaSet", "web-5f6d7c8b9a", { owner: "dep" }),
];

/**
 * The tree `application get` prints for {@link RESOURCES}: by owner depth; siblings workloads
 * first, then by kind and name.
 */
const TREE = [
  "  KIND          NAMESPACE/NAME                HEALTH     DESCRIPTION",
  "  Deployment    default/web                   OTHER      Waiting for rollout to finish: 1 of 2 updated replicas are available...",
  "    ReplicaSet  default/web-5f6d7c8b9a        HEALTHY",
  "    ReplicaSet  default/web-7d9c5b8f64        HEALTHY",
  "      Pod       default/web-7d9c5b8f64-a1b2c  HEALTHY",
  "      Pod       default/web-7d9c5b8f64-x2kq9  UNHEALTHY  Container web is waiting: ImagePullBackOff",
  "  ClusterRole   web-reader                    HEALTHY",
  "  Service       default/web                   HEALTHY",
].join("\n");

describe("pipectl application get: the application page on the command line", () => {
  let s: Stack;
  let env: Record<string, string>;
  let piped: TestPiped;
  const run = (args: string[]): Promise<Run> => pipectl(args, env);
  const addApp = async (name: string): Promise<string> =>
    (
      await s.admin.call("addApplication", {
        body: { name, pipedId: piped.id, gitPath: { repoId: "repo", path: `apps/${name}` } },
      })
    ).id;
  const reportSyncState = async (
    applicationId: string,
    status: ApplicationSyncStatus,
    shortReason: string,
    reason: string,
  ): Promise<void> => {
    await piped.client.reportApplicationSyncState(
      { applicationId, state: { status, shortReason, reason } },
      piped.opts,
    );
  };

  before(async () => {
    s = await startStack();
    env = { PIPECD_ADDRESS: s.httpUrl, PIPECD_API_KEY: s.adminKey };
    piped = await registerTestPiped(s, "reporting-piped");
  });
  after(async () => {
    piped?.close();
    await s?.close();
  });

  it("before the piped has reported anything: quick sync only, no live state yet, liveState null in JSON", async () => {
    const id = await addApp("fresh");
    const [text, asJson] = await Promise.all([
      run(["application", "get", id]),
      run(["application", "get", id, "-o", "json"]),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Name: +fresh$/m);
    assert.match(text.stdout, /^Sync state: +-$/m);
    assert.match(text.stdout, /^Health: +UNKNOWN$/m);
    assert.match(
      text.stdout,
      /\nPipeline: quick sync only\n\nResources: no live state reported yet\n$/,
    );
    assert.doesNotMatch(text.stdout, /^(Drift|Invalid config):$/m);

    assert.equal(asJson.code, 0, asJson.stderr);
    const body = json<{ application: { id: string; name: string }; liveState: unknown }>(asJson);
    assert.deepEqual(Object.keys(body).sort(), ["application", "liveState"]);
    assert.equal(body.application.id, id);
    assert.equal(body.liveState, null);
  });

  it("OUT_OF_SYNC: sync state, health, pipeline, the resource tree by owner depth and the diff verbatim; -o json is {application, liveState}", async () => {
    const id = await addApp("web");
    await s.admin.call("updateApplication", {
      params: { id },
      body: { labels: { team: "payments", env: "prod" } },
    });
    await piped.client.reportApplicationConfigWarnings(
      { applicationId: id, commitHash: "0a1b2c3d4e5f", warnings: [], stages: STAGES },
      piped.opts,
    );
    await piped.client.reportApplicationLiveState(
      {
        snapshot: {
          applicationId: id,
          healthStatus: Health.UNHEALTHY,
          healthDescription: "Pod default/web-7d9c5b8f64-x2kq9: Container web is waiting",
          kubernetesResources: RESOURCES,
        },
      },
      piped.opts,
    );
    const short = "There are 1 manifests not synced (0 adds, 0 deletes, 1 changes)";
    await reportSyncState(id, ApplicationSyncStatus.OUT_OF_SYNC, short, DIFF);

    const r = await run(["application", "get", id]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, new RegExp(`^ID: +${id}$`, "m"));
    assert.match(out, /^Name: +web$/m);
    assert.match(out, new RegExp(`^Piped: +${piped.id}$`, "m"));
    assert.match(out, /^Repository: +repo$/m);
    assert.match(out, /^Path: +apps\/web$/m);
    assert.match(out, /^Labels: +team=payments, env=prod$/m);
    assert.ok(
      out.includes(`\nSync state:       OUT_OF_SYNC (${short})\n`),
      `sync state line:\n${out}`,
    );
    assert.ok(
      out.includes(
        "\nHealth:           UNHEALTHY (Pod default/web-7d9c5b8f64-x2kq9: Container web is waiting)\n",
      ),
      `health line:\n${out}`,
    );
    assert.ok(
      out.includes(
        [
          "\nPipeline (3 stages):",
          "  #   STAGE                DESCRIPTION",
          "  1.  K8S_CANARY_ROLLOUT   Deploy the canary with 10% of the pods",
          "  2.  WAIT_APPROVAL",
          "  3.  K8S_PRIMARY_ROLLOUT",
          "",
        ].join("\n"),
      ),
      `pipeline:\n${out}`,
    );
    assert.match(out, /\nResources \(7, reported \d+s ago\):\n/);
    assert.ok(out.includes(`):\n${TREE}\n\n`), `the resource tree:\n${out}`);
    assert.ok(out.endsWith(`\n\nDrift:\n${DIFF}`), `the diff, verbatim, last:\n${out}`);

    const j = json<Record<string, unknown>>(await run(["application", "get", id, "-o", "json"]));
    assert.deepEqual(Object.keys(j).sort(), ["application", "liveState"]);
    const [app, live] = await Promise.all([
      s.admin.call("getApplication", { params: { id } }),
      s.admin.call("getApplicationLiveState", { params: { id } }),
    ]);
    assert.deepEqual(j, { application: app.application, liveState: live.liveState });
    const body = j as {
      application: { syncState: { status: string; reason: string }; configStages: unknown };
      liveState: { healthStatus: string; kubernetesResources: { id: string; kind: string }[] };
    };
    assert.equal(body.application.syncState.status, "OUT_OF_SYNC");
    assert.equal(body.application.syncState.reason, DIFF);
    assert.deepEqual(body.application.configStages, STAGES);
    assert.equal(body.liveState.healthStatus, "UNHEALTHY");
    assert.deepEqual(
      body.liveState.kubernetesResources.map((x) => [x.id, x.kind]),
      RESOURCES.map((x) => [x.id, x.kind]),
    );
  });

  it("INVALID_CONFIG prints the config error verbatim; SYNCED prints no reason", async () => {
    const id = await addApp("broken");
    const error =
      "app.pipecd.yaml:7: spec.pipeline.stages[1].name: unknown stage K8S_CANARY_ROLOUT\n" +
      "app.pipecd.yaml:9: spec.trigger.onCommit.paths: must be a list";
    await reportSyncState(
      id,
      ApplicationSyncStatus.INVALID_CONFIG,
      "The application config is invalid",
      error,
    );
    const bad = await run(["application", "get", id]);
    assert.equal(bad.code, 0, bad.stderr);
    assert.match(
      bad.stdout,
      /^Sync state: +INVALID_CONFIG \(The application config is invalid\)$/m,
    );
    assert.ok(
      bad.stdout.endsWith(`Resources: no live state reported yet\n\nInvalid config:\n${error}\n`),
      `the config error, verbatim, last:\n${bad.stdout}`,
    );

    await reportSyncState(id, ApplicationSyncStatus.SYNCED, "", "");
    const ok = await run(["application", "get", id]);
    assert.match(ok.stdout, /^Sync state: +SYNCED$/m);
    assert.doesNotMatch(ok.stdout, /^(Drift|Invalid config):$/m);
  });
});
