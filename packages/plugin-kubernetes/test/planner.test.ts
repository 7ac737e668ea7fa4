import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseApplicationConfig } from "@pipecd-ts/config";
import {
  addConfigHash,
  decideStrategy,
  ManifestSource,
  pipelineStages,
  quickSyncStages,
  type Manifest,
} from "../src/index.js";

const cfg = parseApplicationConfig(
  "app.pipecd.yaml",
  `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  pipeline:
    stages:
      - name: WAIT_APPROVAL
        with: { approvers: [alice, bob], minApproverNum: 2 }
      - name: WAIT
        with: { duration: 5s }
`,
);

/** The manifests of a plain app directory, rendered afresh (no commit, so no cache). */
const loadManifests = (
  dir: string,
  input: { manifests: readonly string[]; namespace: string },
): Promise<Manifest[]> =>
  new ManifestSource().render(
    { id: "app", name: "app", dir, input: { ...cfg.input, ...input } },
    "",
    new AbortController().signal,
  );

const deployment = (image: string, replicas = 2, extra = ""): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: helloworld
          image: ghcr.io/pipe-cd/helloworld:${image}
          envFrom: [{ configMapRef: { name: cfg } }]
${extra}`;

async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "k8s-plan-"));
  for (const [n, c] of Object.entries(files)) await writeFile(join(dir, n), c);
  return dir;
}

describe("Kubernetes planner", () => {
  it("decides like PipeCD: image change → pipeline, replicas-only → quick sync, config change → pipeline, other → quick sync", async () => {
    const dirs: string[] = [];
    const load = async (files: Record<string, string>) => {
      const d = await dirWith({ "app.pipecd.yaml": "ignored", ...files });
      dirs.push(d);
      return loadManifests(d, cfg.input);
    };
    try {
      const cm = (v: string) =>
        `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cfg }\ndata: { a: "${v}" }\n`;
      const base = await load({
        "d.yaml": deployment("v1"),
        "cm.yaml": cm("1"),
        "svc.yaml":
          "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: 80 }] }\n",
      });
      const image = decideStrategy(
        cfg,
        base,
        await load({ "d.yaml": deployment("v2"), "cm.yaml": cm("1") }),
      );
      assert.deepEqual(image, {
        strategy: "PIPELINE",
        summary: "Sync progressively because of updating image helloworld from v1 to v2",
      });
      const scale = decideStrategy(
        cfg,
        base,
        await load({
          "d.yaml": deployment("v1", 4),
          "cm.yaml": cm("1"),
          "svc.yaml":
            "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: 80 }] }\n",
        }),
      );
      assert.deepEqual(scale, {
        strategy: "QUICK_SYNC",
        summary: "Quick sync to scale Deployment/web from 2 to 4",
      });
      const config = decideStrategy(
        cfg,
        base,
        await load({
          "d.yaml": deployment("v1"),
          "cm.yaml": cm("2"),
          "svc.yaml":
            "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: 80 }] }\n",
        }),
      );
      assert.equal(config.strategy, "PIPELINE");
      assert.match(config.summary, /ConfigMap cfg was updated/);
      const svc = decideStrategy(
        cfg,
        base,
        await load({
          "d.yaml": deployment("v1"),
          "cm.yaml": cm("1"),
          "svc.yaml":
            "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: 8080 }] }\n",
        }),
      );
      assert.deepEqual(svc, {
        strategy: "QUICK_SYNC",
        summary: "Quick sync by applying all manifests",
      });
    } finally {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
  });

  it("builds PipeCD's stages: ids, requires, approvers metadata and authorized operators, hidden Rollback", () => {
    const stages = pipelineStages(cfg);
    assert.deepEqual(
      stages.map((s) => [s.id, s.name, s.visible, s.rollback]),
      [
        ["stage-0", "WAIT_APPROVAL", true, false],
        ["stage-1", "WAIT", true, false],
        ["Rollback", "ROLLBACK", false, true],
      ],
    );
    assert.deepEqual(stages[1]?.requires, ["stage-0"]);
    assert.equal(stages[0]?.metadata.Approvers, "alice,bob");
    assert.equal(stages[0]?.metadata.MinApproverNum, "2", "the quorum, for the UI");
    assert.deepEqual(stages[0]?.authorizedOperators, ["alice", "bob"]);
    assert.deepEqual(
      quickSyncStages(cfg).map((s) => s.id),
      ["K8sSync", "Rollback"],
    );
  });

  it("after the hidden Rollback, one SCRIPT_RUN_ROLLBACK per SCRIPT_RUN (own ids, PipeCD's metadata); either autoRollback: false drops them all", () => {
    const app = (extra: string) =>
      parseApplicationConfig(
        "app.pipecd.yaml",
        `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
${extra}  pipeline:
    stages:
      - id: migrate
        name: SCRIPT_RUN
        with: { run: ./migrate.sh, onRollback: ./unmigrate.sh, env: { DB: main }, timeout: 5m }
      - name: K8S_PRIMARY_ROLLOUT
      - id: notify
        name: SCRIPT_RUN
        with: { run: echo done }
`,
      );
    const stages = pipelineStages(app(""));
    assert.deepEqual(
      stages.map((s) => [s.id, s.name, s.visible, s.rollback]),
      [
        ["migrate", "SCRIPT_RUN", true, false],
        ["stage-1", "K8S_PRIMARY_ROLLOUT", true, false],
        ["notify", "SCRIPT_RUN", true, false],
        ["Rollback", "ROLLBACK", false, true],
        ["ScriptRunRollback-migrate", "SCRIPT_RUN_ROLLBACK", false, true],
        ["ScriptRunRollback-notify", "SCRIPT_RUN_ROLLBACK", false, true],
      ],
    );
    assert.deepEqual(stages[4]?.metadata, {
      baseStageID: "migrate",
      onRollback: "./unmigrate.sh",
      env: '{"DB":"main"}',
      timeoutMs: "300000",
    });
    for (const off of [
      "  planner: { autoRollback: false }\n",
      "  input: { autoRollback: false }\n",
    ])
      assert.deepEqual(
        pipelineStages(app(off)).map((s) => s.id),
        ["migrate", "stage-1", "notify"],
        off,
      );
  });

  it("loads only manifests (not app configs, not subdirectories), honours pipecd.dev/order and adds the config hash", async () => {
    const dir = await dirWith({
      "app.pipecd.yaml": "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec: {}\n",
      "a.yaml": deployment("v1"),
      "b.yaml":
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  annotations: { pipecd.dev/order: "-1" }\ndata: { a: "1" }\n---\n',
      "notes.txt": "not yaml",
    });
    try {
      const ms = await loadManifests(dir, { manifests: [], namespace: "" });
      assert.deepEqual(
        ms.map((m) => m.key),
        ["v1:ConfigMap:default:cfg", "apps/v1:Deployment:default:web"],
      );
      addConfigHash(ms);
      const hash1 = (
        ms[1]?.obj.spec as { template: { metadata: { annotations: Record<string, string> } } }
      ).template.metadata.annotations["pipecd.dev/config-hash"];
      assert.match(hash1 ?? "", /^[0-9a-f]{16}$/);
      (ms[0]?.obj as unknown as { data: Record<string, string> }).data.a = "2";
      const again = await loadManifests(dir, { manifests: [], namespace: "ns1" });
      (again[0]?.obj as unknown as { data: Record<string, string> }).data.a = "2";
      addConfigHash(again);
      const hash2 = (
        again[1]?.obj.spec as { template: { metadata: { annotations: Record<string, string> } } }
      ).template.metadata.annotations["pipecd.dev/config-hash"];
      assert.notEqual(hash2, hash1, "a ConfigMap change changes the hash (pods roll)");
      assert.equal(again[1]?.key, "apps/v1:Deployment:ns1:web", "input.namespace overrides");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
