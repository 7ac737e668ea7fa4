import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { parseAllDocuments, stringify } from "yaml";
import { parseApplicationConfig, type ApplicationConfig } from "@pipecd-ts/config";
import { createKubeClient, type KubeClient, type KubeObject } from "@pipecd-ts/kube";
import { NEVER_READY_ANNOTATION, startKubeSim, type KubeSim } from "@pipecd-ts/kube-sim";
import { StopSignal, type MetadataScope, type StageInput } from "@pipecd-ts/plugin-sdk";
import { DeploymentSchema, PipelineStageSchema, StageStatus } from "@pipecd-ts/proto";
import { systemClock } from "@pipecd-ts/runtime";
import {
  K8sBaselineCleanExecutor,
  K8sBaselineRolloutExecutor,
  K8sCanaryCleanExecutor,
  K8sCanaryRolloutExecutor,
  K8sPrimaryRolloutExecutor,
  K8sSyncExecutor,
  ManifestSource,
  type K8sExecutorOptions,
} from "../src/index.js";

let tmp: string;
let sim: KubeSim;
let kube: KubeClient;
/** Fresh options per stage run: test directories reuse commit hashes, so no shared cache. */
let opts: () => K8sExecutorOptions;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "k8s-stages-"));
  sim = await startKubeSim({ port: 0, kubeconfigPath: join(tmp, "kc"), readyDelayMs: 100 });
  kube = createKubeClient({
    kubeConfigPath: sim.kubeconfigPath,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
  });
  opts = () => ({ kube, manifests: new ManifestSource(), safety: { rolloutTimeoutMs: 30_000 } });
});

after(async () => {
  await sim.close();
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers: app directories written by the test, a parsed app config, and in-memory collaborators
// of StageInput (metadata store, logger, commands). Executors and the kube client are real.

/** Writes `files` into a fresh directory under the test's temp dir. */
async function appDir(name: string, files: Record<string, unknown[]>): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const [file, docs] of Object.entries(files))
    await writeFile(join(dir, file), docs.map((d) => stringify(d)).join("---\n"));
  return dir;
}

function deploymentDoc(
  app: string,
  image: string,
  o: {
    replicas?: number;
    labels?: boolean;
    annotations?: Record<string, string>;
    extra?: object;
  } = {},
): object {
  const labels = o.labels === false ? { app } : { app, "pipecd.dev/variant": "primary" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: app },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: labels },
      ...o.extra,
      template: {
        metadata: { labels, ...(o.annotations ? { annotations: o.annotations } : {}) },
        spec: {
          containers: [
            {
              name: app,
              image,
              envFrom: [{ configMapRef: { name: `${app}-config` } }],
            },
          ],
        },
      },
    },
  };
}
const configMapDoc = (name: string, data: Record<string, string>): object => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data,
});
const serviceDoc = (app: string): object => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: app },
  spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] },
});
const virtualServiceDoc = (app: string, canaryWeight: number): KubeObject => {
  const host = `${app}.default.svc.cluster.local`;
  return {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "VirtualService",
    metadata: { name: app },
    spec: {
      hosts: [host],
      http: [
        {
          route: [
            { destination: { host, subset: "primary" }, weight: 100 - canaryWeight },
            ...(canaryWeight
              ? [{ destination: { host, subset: "canary" }, weight: canaryWeight }]
              : []),
          ],
        },
      ],
    },
  };
};

function appConfig(yaml: string): ApplicationConfig {
  return parseApplicationConfig("app.pipecd.yaml", yaml);
}

interface Run {
  input: StageInput<never>;
  shared: Record<string, string>;
  logs: string[];
  abort(reason: StopSignal): void;
}

/** A StageInput with real directories and in-memory metadata/logger/commands. */
function stageInput(o: {
  cfg: ApplicationConfig;
  stage: string;
  targetDir: string;
  runningDir?: string;
  shared?: Record<string, string>;
  stageConfig?: unknown;
  targetCommit?: string;
  runningCommit?: string;
  /** Make every metadata put fail (the control plane is unreachable). */
  failPut?: boolean;
}): Run {
  const shared: Record<string, string> = o.shared ?? {};
  const stageMeta = new Map<string, Record<string, string>>();
  const scope = (m: () => Record<string, string>): MetadataScope => ({
    get: (k) => m()[k],
    all: () => ({ ...m() }),
    put: async (v) => {
      if (o.failPut) throw new Error("control plane unreachable");
      Object.assign(m(), v);
    },
  });
  const logs: string[] = [];
  const ac = new AbortController();
  const stageConfig =
    o.stageConfig ?? o.cfg.pipeline.stages.find((s) => s.name === o.stage)?.with ?? undefined;
  const input: StageInput<never> = {
    deployment: create(DeploymentSchema, { id: "deploy-1", applicationId: "app-1" }),
    stage: create(PipelineStageSchema, { id: "stage-0", name: o.stage }),
    // Each executor takes its own stage's options; the test picks them by stage name.
    stageConfig: stageConfig as never,
    appConfig: o.cfg,
    targetDir: o.targetDir,
    runningDir: o.runningDir,
    targetCommit: o.targetCommit ?? "2222222222222222",
    runningCommit: o.runningDir ? (o.runningCommit ?? "1111111111111111") : undefined,
    pipedId: "piped-1",
    signal: ac.signal,
    logger: {
      info: (t) => logs.push(`I ${t}`),
      success: (t) => logs.push(`S ${t}`),
      error: (t) => logs.push(`E ${t}`),
    },
    metadata: {
      shared: scope(() => shared),
      stage: (id) =>
        scope(() => {
          let m = stageMeta.get(id);
          if (!m) stageMeta.set(id, (m = {}));
          return m;
        }),
    },
    commands: {
      next: (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true }),
        ),
      ack: async () => {},
    },
    clock: systemClock,
  };
  return { input, shared, logs, abort: (r) => ac.abort(r) };
}

const ref = (
  kind: string,
  name: string,
  apiVersion = kind === "Deployment" ? "apps/v1" : "v1",
) => ({
  apiVersion,
  kind,
  namespace: "default",
  name,
});
type DeploymentObj = KubeObject & {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { containers: { image: string; envFrom?: { configMapRef: { name: string } }[] }[] };
    };
  };
  status?: { readyReplicas?: number; availableReplicas?: number };
};
async function getDeployment(name: string): Promise<DeploymentObj | undefined> {
  return (await kube.get(ref("Deployment", name))) as DeploymentObj | undefined;
}
const imageOf = (d: DeploymentObj | undefined): string | undefined =>
  d?.spec.template.spec.containers[0]?.image;
const logged = (run: Run, re: RegExp): boolean => run.logs.some((l) => re.test(l));

// ---------------------------------------------------------------------------------------------

describe("canary and baseline stages against kube-sim", () => {
  const CFG = `
apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with:
          replicas: 50%
      - name: K8S_BASELINE_ROLLOUT
        with:
          replicas: 1
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_BASELINE_CLEAN
      - name: K8S_CANARY_CLEAN
`;
  let cfg: ApplicationConfig;
  let v1: string;
  let v2: string;
  let recorded: string;

  before(async () => {
    cfg = appConfig(CFG);
    const files = (image: string, greeting: string) => ({
      "web.yaml": [deploymentDoc("web", image), serviceDoc("web")],
      "config.yaml": [configMapDoc("web-config", { GREETING: greeting })],
    });
    v1 = await appDir("web-v1", files("example/web:v1", "hello"));
    v2 = await appDir("web-v2", files("example/web:v2", "hi"));
    // The running version, deployed as primary (first deployment: nothing to prune or compare).
    const first = stageInput({
      cfg,
      stage: "K8S_PRIMARY_ROLLOUT",
      targetDir: v1,
      targetCommit: "1111111111111111",
    });
    assert.equal(
      await new K8sPrimaryRolloutExecutor(opts()).execute(first.input),
      StageStatus.STAGE_SUCCESS,
      first.logs.join("\n"),
    );
  });

  it("K8S_CANARY_ROLLOUT creates web-canary (1 ready replica, new image and config) and leaves web alone", async () => {
    const run = stageInput({ cfg, stage: "K8S_CANARY_ROLLOUT", targetDir: v2, runningDir: v1 });
    assert.equal(
      await new K8sCanaryRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_SUCCESS,
      run.logs.join("\n"),
    );
    recorded = run.shared["canary-resources"] ?? "";
    assert.equal(
      recorded,
      "v1:ConfigMap:default:web-config-canary,apps/v1:Deployment:default:web-canary",
    );
    const canary = await getDeployment("web-canary");
    assert.equal(canary?.spec.replicas, 1);
    assert.equal(canary?.status?.readyReplicas, 1);
    assert.equal(imageOf(canary), "example/web:v2");
    assert.equal(canary?.spec.selector.matchLabels["pipecd.dev/variant"], "canary");
    assert.equal(canary?.spec.template.metadata.labels["pipecd.dev/variant"], "canary");
    assert.equal(
      canary?.spec.template.spec.containers[0]?.envFrom?.[0]?.configMapRef.name,
      "web-config-canary",
    );
    assert.equal(canary?.metadata.annotations?.["pipecd.dev/variant"], "canary");
    assert.equal(canary?.metadata.annotations?.["pipecd.dev/commit-hash"], "2222222222222222");
    assert.equal(
      canary?.metadata.annotations?.["pipecd.dev/resource-key"],
      "apps/v1:Deployment:default:web-canary",
    );
    const cm = (await kube.get(ref("ConfigMap", "web-config-canary"))) as
      (KubeObject & { data: Record<string, string> }) | undefined;
    assert.deepEqual(cm?.data, { GREETING: "hi" });
    const primary = await getDeployment("web");
    assert.equal(imageOf(primary), "example/web:v1", "the primary keeps the old image");
    assert.equal(primary?.spec.replicas, 2);
    assert.ok(
      logged(run, /^I Canary Deployment web-canary: 1 replica \(50% of 2\)$/),
      run.logs.join("\n"),
    );
    assert.ok(logged(run, /^I Applied Deployment default\/web-canary$/));
    assert.ok(logged(run, /^S Successfully rolled out the CANARY variant: web-canary \(1\)$/));
  });

  it("re-running K8S_CANARY_ROLLOUT converges: same keys, no duplicate, no new generation", async () => {
    const before = await getDeployment("web-canary");
    const run = stageInput({ cfg, stage: "K8S_CANARY_ROLLOUT", targetDir: v2, runningDir: v1 });
    assert.equal(
      await new K8sCanaryRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_SUCCESS,
    );
    assert.equal(run.shared["canary-resources"], recorded);
    const names = (await kube.list("apps/v1", "Deployment", "default"))
      .map((d) => d.metadata.name)
      .filter((n) => n.startsWith("web"))
      .sort();
    assert.deepEqual(names, ["web", "web-canary"]);
    const now = await getDeployment("web-canary");
    assert.equal(now?.metadata.generation, before?.metadata.generation);
    assert.equal(now?.metadata.uid, before?.metadata.uid);
  });

  it("saves canary-resources before applying, so a failed apply can still be cleaned", async () => {
    const fault = sim.faults.add({ verb: "patch", resource: "deployments", status: 500 });
    try {
      const run = stageInput({ cfg, stage: "K8S_CANARY_ROLLOUT", targetDir: v2 });
      assert.equal(
        await new K8sCanaryRolloutExecutor(opts()).execute(run.input),
        StageStatus.STAGE_FAILURE,
      );
      assert.equal(run.shared["canary-resources"], recorded);
      assert.ok(
        logged(run, /^E Failed to apply Deployment default\/web-canary: /),
        run.logs.join("\n"),
      );
      assert.ok(sim.faults.list().find((f) => f.id === fault)!.hits > 0);
    } finally {
      sim.faults.clear();
    }
  });

  it("applies nothing when canary-resources cannot be saved", async () => {
    const run = stageInput({
      cfg,
      stage: "K8S_CANARY_ROLLOUT",
      targetDir: v2,
      stageConfig: { replicas: undefined, suffix: "unsaved", createService: false, patches: [] },
      failPut: true,
    });
    assert.equal(
      await new K8sCanaryRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_FAILURE,
    );
    assert.ok(
      logged(
        run,
        /^E Failed to save the CANARY resources in the deployment metadata: control plane unreachable$/,
      ),
      run.logs.join("\n"),
    );
    assert.equal(await getDeployment("web-unsaved"), undefined);
    assert.equal(await kube.get(ref("ConfigMap", "web-config-unsaved")), undefined);
  });

  it("K8S_BASELINE_ROLLOUT copies the RUNNING version's workloads only, and K8S_BASELINE_CLEAN removes them", async () => {
    const none = stageInput({ cfg, stage: "K8S_BASELINE_ROLLOUT", targetDir: v2 });
    assert.equal(
      await new K8sBaselineRolloutExecutor(opts()).execute(none.input),
      StageStatus.STAGE_FAILURE,
    );
    assert.ok(logged(none, /^E Unable to determine the running commit/));

    const run = stageInput({ cfg, stage: "K8S_BASELINE_ROLLOUT", targetDir: v2, runningDir: v1 });
    assert.equal(
      await new K8sBaselineRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_SUCCESS,
      run.logs.join("\n"),
    );
    assert.equal(run.shared["baseline-resources"], "apps/v1:Deployment:default:web-baseline");
    const b = await getDeployment("web-baseline");
    assert.equal(imageOf(b), "example/web:v1", "the baseline runs the running commit");
    assert.equal(b?.status?.readyReplicas, 1);
    assert.equal(b?.spec.selector.matchLabels["pipecd.dev/variant"], "baseline");
    assert.equal(b?.metadata.annotations?.["pipecd.dev/commit-hash"], "1111111111111111");
    assert.equal(
      b?.spec.template.spec.containers[0]?.envFrom?.[0]?.configMapRef.name,
      "web-config",
      "no config copies for the baseline",
    );
    assert.ok(logged(run, /^I Baseline Deployment web-baseline: 1 replica$/), run.logs.join("\n"));

    const clean = stageInput({
      cfg,
      stage: "K8S_BASELINE_CLEAN",
      targetDir: v2,
      shared: { ...run.shared },
    });
    assert.equal(
      await new K8sBaselineCleanExecutor(opts()).execute(clean.input),
      StageStatus.STAGE_SUCCESS,
    );
    assert.equal(await getDeployment("web-baseline"), undefined);
    assert.ok(await getDeployment("web-canary"), "the canary is not the baseline's to delete");
  });

  it("K8S_CANARY_CLEAN deletes exactly the recorded resources it owns, idempotently", async () => {
    const missing = stageInput({ cfg, stage: "K8S_CANARY_CLEAN", targetDir: v2 });
    assert.equal(
      await new K8sCanaryCleanExecutor(opts()).execute(missing.input),
      StageStatus.STAGE_FAILURE,
    );
    assert.ok(logged(missing, /^E Unable to determine the applied CANARY resources$/));

    // Something recorded that this application does not own is kept.
    await kube.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "foreign" },
      data: { a: "b" },
    });
    const shared = { "canary-resources": `${recorded},v1:ConfigMap:default:foreign` };
    const run = stageInput({ cfg, stage: "K8S_CANARY_CLEAN", targetDir: v2, shared });
    assert.equal(
      await new K8sCanaryCleanExecutor(opts()).execute(run.input),
      StageStatus.STAGE_SUCCESS,
      run.logs.join("\n"),
    );
    assert.equal(await getDeployment("web-canary"), undefined);
    assert.equal(await kube.get(ref("ConfigMap", "web-config-canary")), undefined);
    assert.ok(await kube.get(ref("ConfigMap", "foreign")));
    assert.ok(await getDeployment("web"));
    assert.ok(await kube.get(ref("ConfigMap", "web-config")));
    assert.ok(await kube.get(ref("Service", "web")));
    // Non-workloads first, then workloads.
    const deletions = run.logs.filter((l) => /^I (Deleted|Kept) /.test(l));
    assert.deepEqual(deletions, [
      "I Deleted ConfigMap default/web-config-canary",
      "I Kept ConfigMap foreign: it is not managed by this application",
      "I Deleted Deployment default/web-canary",
    ]);

    const again = stageInput({ cfg, stage: "K8S_CANARY_CLEAN", targetDir: v2, shared });
    assert.equal(
      await new K8sCanaryCleanExecutor(opts()).execute(again.input),
      StageStatus.STAGE_SUCCESS,
    );
  });

  it("K8S_PRIMARY_ROLLOUT (podselector) updates web in place to the new version", async () => {
    const run = stageInput({ cfg, stage: "K8S_PRIMARY_ROLLOUT", targetDir: v2, runningDir: v1 });
    assert.equal(
      await new K8sPrimaryRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_SUCCESS,
      run.logs.join("\n"),
    );
    const web = await getDeployment("web");
    assert.equal(imageOf(web), "example/web:v2");
    assert.equal(web?.status?.availableReplicas, 2);
    assert.equal(web?.metadata.annotations?.["pipecd.dev/variant"], "primary");
    assert.equal(web?.metadata.annotations?.["pipecd.dev/commit-hash"], "2222222222222222");
    const template = web?.spec.template as { metadata: { annotations?: Record<string, string> } };
    assert.match(
      template.metadata.annotations?.["pipecd.dev/config-hash"] ?? "",
      /^[0-9a-f]{16}$/,
      "config hash on the pod template",
    );
  });
});

describe("a canary that never becomes ready fails the stage", () => {
  let cfg: ApplicationConfig;
  let dir: string;
  before(async () => {
    cfg = appConfig(`
apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
`);
    dir = await appDir("slow", {
      "slow.yaml": [
        deploymentDoc("slow", "example/slow:v2", {
          replicas: 1,
          annotations: { [NEVER_READY_ANNOTATION]: "true" },
          extra: { progressDeadlineSeconds: 2 },
        }),
        configMapDoc("slow-config", { A: "1" }),
      ],
    });
  });

  it("on ProgressDeadlineExceeded", async () => {
    const run = stageInput({ cfg, stage: "K8S_CANARY_ROLLOUT", targetDir: dir });
    const t0 = Date.now();
    assert.equal(
      await new K8sCanaryRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_FAILURE,
    );
    assert.ok(Date.now() - t0 < 20_000);
    assert.ok(
      logged(run, /^E Deployment default\/slow-canary is not available: .*progress deadline/i),
      run.logs.join("\n"),
    );
    assert.equal(
      run.shared["canary-resources"],
      "v1:ConfigMap:default:slow-config-canary,apps/v1:Deployment:default:slow-canary",
    );
  });

  it("when the stage deadline aborts the wait", async () => {
    const run = stageInput({
      cfg,
      stage: "K8S_CANARY_ROLLOUT",
      targetDir: dir,
      stageConfig: {
        replicas: { kind: "number", value: 2 },
        suffix: "late",
        createService: false,
        patches: [],
      },
    });
    const timer = setTimeout(() => run.abort(new StopSignal("timeout")), 1_000);
    try {
      const t0 = Date.now();
      assert.equal(
        await new K8sCanaryRolloutExecutor({
          ...opts(),
          safety: { rolloutTimeoutMs: 60_000 },
        }).execute(run.input),
        StageStatus.STAGE_FAILURE,
      );
      assert.ok(Date.now() - t0 < 10_000, "returns promptly after the abort");
    } finally {
      clearTimeout(timer);
    }
    assert.equal((await getDeployment("slow-late"))?.spec.replicas, 2);
  });
});

describe("K8S_PRIMARY_ROLLOUT under Istio and with podselector validation", () => {
  it("applies everything but the VirtualService, keeping the live split, and prunes what Git removed", async () => {
    const crds = parseAllDocuments(
      await readFile(new URL("../../../deploy/examples/istio-crds.yaml", import.meta.url), "utf8"),
    )
      .map((d) => d.toJS() as KubeObject | null)
      .filter((d): d is KubeObject => !!d);
    for (const c of crds) await kube.apply(c);

    const cfg = appConfig(`
apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  trafficRouting:
    method: istio
    istio:
      host: shop.default.svc.cluster.local
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with:
          canary: 20
      - name: K8S_PRIMARY_ROLLOUT
        with:
          prune: true
      - name: K8S_TRAFFIC_ROUTING
        with:
          primary: 100
      - name: K8S_CANARY_CLEAN
`);
    const files = (image: string, legacy: boolean) => ({
      "shop.yaml": [deploymentDoc("shop", image), serviceDoc("shop"), virtualServiceDoc("shop", 0)],
      "config.yaml": [
        configMapDoc("shop-config", { A: "1" }),
        ...(legacy ? [configMapDoc("shop-legacy", { old: "yes" })] : []),
      ],
    });
    const v1 = await appDir("shop-v1", files("example/shop:v1", true));
    const v2 = await appDir("shop-v2", files("example/shop:v2", false));

    const first = stageInput({
      cfg,
      stage: "K8S_PRIMARY_ROLLOUT",
      targetDir: v1,
      targetCommit: "1111111111111111",
    });
    assert.equal(
      await new K8sPrimaryRolloutExecutor(opts()).execute(first.input),
      StageStatus.STAGE_SUCCESS,
      first.logs.join("\n"),
    );
    assert.ok(logged(first, /^I Nothing to prune: no previous deployment$/));
    assert.ok(await kube.get(ref("ConfigMap", "shop-legacy")));
    // The split an earlier K8S_TRAFFIC_ROUTING set.
    await kube.apply(virtualServiceDoc("shop", 20));

    const run = stageInput({ cfg, stage: "K8S_PRIMARY_ROLLOUT", targetDir: v2, runningDir: v1 });
    assert.equal(
      await new K8sPrimaryRolloutExecutor(opts()).execute(run.input),
      StageStatus.STAGE_SUCCESS,
      run.logs.join("\n"),
    );
    const shop = await getDeployment("shop");
    assert.equal(imageOf(shop), "example/shop:v2");
    assert.equal(shop?.status?.availableReplicas, 2);
    const vs = (await kube.get(ref("VirtualService", "shop", "networking.istio.io/v1beta1"))) as
      (KubeObject & { spec: { http: { route: { weight: number }[] }[] } }) | undefined;
    assert.deepEqual(
      vs?.spec.http[0]?.route.map((r) => r.weight),
      [80, 20],
      "the traffic split survives the primary rollout",
    );
    assert.equal(vs?.metadata.annotations?.["pipecd.dev/commit-hash"], undefined);
    assert.ok(logged(run, /^I Not applying VirtualService shop: /));
    assert.equal(await kube.get(ref("ConfigMap", "shop-legacy")), undefined, "pruned");
    assert.ok(await kube.get(ref("ConfigMap", "shop-config")));
    assert.ok(
      logged(run, /^I Pruning 1 resources removed from Git: v1:ConfigMap:default:shop-legacy$/),
    );
    assert.ok(logged(run, /^I Deleted ConfigMap default\/shop-legacy$/));
  });

  it("podselector: fails when workloads lack the primary label, unless addVariantLabelToSelector", async () => {
    const cfg = appConfig(`
apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  service:
    name: blue
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with:
          canary: 100
      - name: K8S_PRIMARY_ROLLOUT
        with:
          createService: true
      - name: K8S_TRAFFIC_ROUTING
        with:
          primary: 100
`);
    const dir = await appDir("blue", {
      "blue.yaml": [
        deploymentDoc("blue", "example/blue:v1", { labels: false, replicas: 1 }),
        serviceDoc("blue"),
        configMapDoc("blue-config", { A: "1" }),
      ],
    });
    const bad = stageInput({ cfg, stage: "K8S_PRIMARY_ROLLOUT", targetDir: dir });
    assert.equal(
      await new K8sPrimaryRolloutExecutor(opts()).execute(bad.input),
      StageStatus.STAGE_FAILURE,
    );
    assert.ok(
      logged(
        bad,
        /Deployment blue: missing pipecd\.dev\/variant key in spec\.selector\.matchLabels/,
      ),
      bad.logs.join("\n"),
    );
    assert.equal(await getDeployment("blue"), undefined, "nothing applied");

    const ok = stageInput({
      cfg,
      stage: "K8S_PRIMARY_ROLLOUT",
      targetDir: dir,
      stageConfig: {
        suffix: "primary",
        createService: true,
        addVariantLabelToSelector: true,
        prune: false,
      },
    });
    assert.equal(
      await new K8sPrimaryRolloutExecutor(opts()).execute(ok.input),
      StageStatus.STAGE_SUCCESS,
      ok.logs.join("\n"),
    );
    const blue = await getDeployment("blue");
    assert.equal(blue?.spec.selector.matchLabels["pipecd.dev/variant"], "primary");
    assert.equal(blue?.spec.template.metadata.labels["pipecd.dev/variant"], "primary");
    const svc = (await kube.get(ref("Service", "blue-primary"))) as
      (KubeObject & { spec: { type: string; selector: Record<string, string> } }) | undefined;
    assert.equal(svc?.spec.type, "ClusterIP");
    assert.deepEqual(svc?.spec.selector, { app: "blue", "pipecd.dev/variant": "primary" });
  });

  it("K8S_SYNC with quickSync.addVariantLabelToSelector labels the workloads primary (PipeCD ensureSync)", async () => {
    const files = { "green.yaml": [deploymentDoc("green", "example/green:v1", { labels: false })] };
    const sync = async (labels: boolean): Promise<void> => {
      const cfg = appConfig(`
apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  quickSync: { addVariantLabelToSelector: ${labels} }
`);
      const run = stageInput({
        cfg,
        stage: "K8S_SYNC",
        targetDir: await appDir(`green-${labels}`, files),
      });
      assert.equal(
        await new K8sSyncExecutor(opts()).execute(run.input),
        StageStatus.STAGE_SUCCESS,
        run.logs.join("\n"),
      );
    };
    await sync(false);
    const plain = await getDeployment("green");
    assert.equal(plain?.spec.selector.matchLabels["pipecd.dev/variant"], undefined);
    await kube.deleteOwned(ref("Deployment", "green"), "apps/v1:Deployment:default:green");
    await sync(true);
    const green = await getDeployment("green");
    assert.equal(green?.spec.selector.matchLabels["pipecd.dev/variant"], "primary");
    assert.equal(green?.spec.template.metadata.labels["pipecd.dev/variant"], "primary");
  });
});
