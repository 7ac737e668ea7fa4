import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { repoRoot, startStack, type Stack } from "@pipecd-ts/testkit";
import { parse as parseYaml } from "yaml";
import { applyIstioCrds, files } from "../e2e/fixtures.js";
import {
  chartDir,
  find,
  render,
  runHelm,
  runKubectl,
  toStream,
  valuesFile,
  type Manifest,
} from "./harness.js";

// The piped chart's RBAC is sufficient and minimal: the chart is installed with real
// `helm install` into kube-sim, which enforces RBAC (its optional mode) for the chart's
// ServiceAccount; a piped running in-cluster with that ServiceAccount's token,
// the chart's own config Secret and the chart's container args runs the seed-shaped Istio canary
// (plus a ConfigMap and a Secret the canary copies) to SUCCESS, with the ClusterRole and with
// rbac.scope=namespace; with any one deploying rule of the ClusterRole removed, the same run ends
// in FAILURE, and the rules that only serve the live state (list and watch of what Deployments
// create) put those objects in the application's live state. And no verb is granted for nothing: every verb of every rule was called by the full
// variants (kube-sim records each ServiceAccount's requests) or is in UNEXERCISED below, with
// the code path that needs it. All variants run at once, one piped each.

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
/** One piped install: the chart as rendered, minus one ClusterRole rule, or namespace-scoped. */
type Variant = { drop?: number; namespaceScope?: boolean };
type Deployment = Awaited<ReturnType<Stack["deployments"]>>[number];

const PIPED_NS = "pipecd";

/**
 * Granted verbs the seed canary does not call, each with the code path that does
 * (`verb group/resource`, as kube-sim records requests). Anything else granted and not called
 * fails the test: a superfluous verb must be removed from the chart, not added here.
 */
const UNEXERCISED: Record<string, string> = {
  "get /services":
    "owner check (pipecd.dev/resource-key) before deleting a pruned or rolled-back Service",
  "delete /services":
    "prune of a Service removed from Git; rollback deleting what the commit added",
  "get networking.istio.io/destinationrules": "owner check before a prune/rollback delete",
  "delete networking.istio.io/destinationrules": "prune; rollback deleting what the commit added",
  "get networking.istio.io/gateways": "owner check before a prune/rollback delete",
  "delete networking.istio.io/gateways": "prune; rollback deleting what the commit added",
  "delete networking.istio.io/virtualservices": "prune; rollback deleting what the commit added",
};

/**
 * Granted verbs the seed canary calls or not depending on timing, each with why: neither
 * required to be called nor flagged when called.
 */
const TIMING_DEPENDENT: Record<string, string> = {
  "watch apps/deployments":
    "the rollout waiter watches only when its first GET finds the rollout unfinished (packages/kube rollout-wait.ts); a piped slowed by a loaded machine finds it done",
};

/** The seed app (with a ConfigMap and Secret it uses) in directory `dir`, deployed to `ns`. */
function appFiles(dir: string, ns: string, image: string): Record<string, string> {
  const seed = files(image, {
    "canary-app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: canary-app
  labels: { app: canary-app }
spec:
  replicas: 2
  selector:
    matchLabels: { app: canary-app, pipecd.dev/variant: primary }
  template:
    metadata:
      labels: { app: canary-app, pipecd.dev/variant: primary }
    spec:
      containers:
        - name: helloworld
          image: ghcr.io/pipe-cd/helloworld:${image}
          args: [server]
          ports: [{ containerPort: 9085 }]
          envFrom:
            - configMapRef: { name: canary-app-config }
            - secretRef: { name: canary-app-secret }
`,
    "canary-app/config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: canary-app-config }
data: { GREETING: "hello ${image}" }
`,
    "canary-app/secret.yaml": `apiVersion: v1
kind: Secret
metadata: { name: canary-app-secret }
type: Opaque
data: { TOKEN: ${Buffer.from(`token-${image}`).toString("base64")} }
`,
  });
  const out: Record<string, string> = {};
  for (const [path, text] of Object.entries(seed))
    out[path.replace(/^canary-app\//, `${dir}/`)] = path.endsWith("app.pipecd.yaml")
      ? text.replace(
          "spec:\n  name: canary-app\n",
          `spec:\n  name: canary-app\n  input:\n    namespace: ${ns}\n`,
        )
      : text;
  return out;
}

describe("piped chart RBAC: sufficient and minimal for the seed canary", () => {
  let s: Stack;
  let grpcAddress = "";
  let caPem = "";
  const procs: ChildProcess[] = [];
  const admin = (args: string[], input?: string) =>
    runKubectl(s.sim.kubeconfigPath, args, input).then((r) => {
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    });
  const simAdmin = (method: string, path: string, body?: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const req = request(
        `${s.sim.url}${path}`,
        {
          method,
          ca: caPem,
          headers: { authorization: `Bearer ${simToken}`, "content-type": "application/json" },
          timeout: 10_000,
        },
        (res) => {
          let out = "";
          res.on("data", (d: Buffer) => (out += d.toString()));
          res.on("end", () =>
            (res.statusCode ?? 0) === 200
              ? resolve(JSON.parse(out))
              : reject(new Error(`${path}: ${res.statusCode}: ${out}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  let simToken = "";

  before(async () => {
    s = await startStack({ readyDelayMs: 100, syncInterval: "1s" });
    const kcYaml = parseYaml(await readFile(s.sim.kubeconfigPath, "utf8")) as {
      clusters: { cluster: { "certificate-authority-data": string } }[];
      users: { user: { token: string } }[];
    };
    simToken = kcYaml.users[0]?.user.token ?? "";
    caPem = Buffer.from(
      kcYaml.clusters[0]?.cluster["certificate-authority-data"] ?? "",
      "base64",
    ).toString();
    const pipedYaml = parseYaml(await readFile(join(s.dir, "piped.yaml"), "utf8")) as {
      spec: { apiAddress: string };
    };
    grpcAddress = pipedYaml.spec.apiAddress;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.sim.kubeconfigPath);
    await applyIstioCrds(kc);
    await admin(
      ["apply", "-f", "-"],
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${PIPED_NS} }\n`,
    );
    await simAdmin("PUT", "/kube-sim/authorization", { mode: "RBAC" });
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await s?.close();
  });

  /**
   * Installs the chart's objects for release `v<i>` and starts its piped in-cluster: with the
   * ClusterRole minus rule `drop`, or with `rbac.scope=namespace` (a Role in the app's namespace).
   */
  async function startVariant(
    i: number,
    { drop, namespaceScope }: Variant,
  ): Promise<{ pipedId: string; rules: Rule[]; proc: ChildProcess; output: () => string }> {
    const reg = await s.admin.call("registerPiped", { body: { name: `rbac-v${i}` } });
    const values = {
      controlPlane: { address: grpcAddress, insecure: true },
      pipedId: reg.id,
      pipedKey: { value: reg.key },
      repositories: [{ repoId: "repo", remote: s.repo.bare, branch: "main" }],
      syncInterval: "1s",
      ...(namespaceScope ? { rbac: { scope: "namespace", namespaces: [`app-v${i}`] } } : {}),
    };
    const ms = await render("piped", values, `v${i}`, PIPED_NS);
    const role = find(ms, namespaceScope ? "Role" : "ClusterRole") as Manifest & { rules: Rule[] };
    const rules = role.rules;
    await admin(
      ["apply", "-f", "-"],
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: app-v${i} }\n`,
    );
    // The chart goes in as users install it: `helm install` into kube-sim (protobuf writes,
    // release Secret and all). The ServiceAccount's RBAC is then what the chart made.
    const installed = await runHelm([
      "install",
      `v${i}`,
      chartDir("piped"),
      "--kubeconfig",
      s.sim.kubeconfigPath,
      "--namespace",
      PIPED_NS,
      "-f",
      await valuesFile(values),
    ]);
    assert.equal(installed.code, 0, `helm install v${i}:\n${installed.stderr}`);
    assert.match(installed.stdout, /^STATUS: deployed$/m);
    if (drop !== undefined) {
      role.rules = rules.filter((_, j) => j !== drop);
      await admin(["replace", "-f", "-"], toStream([role]));
    }
    // What the kubelet mounts: the ServiceAccount token, the cluster CA and the namespace.
    const sa = find(ms, "ServiceAccount").metadata.name;
    const dir = join(s.dir, `v${i}`);
    const saDir = join(dir, "serviceaccount");
    await mkdir(saDir, { recursive: true });
    await writeFile(
      join(saDir, "token"),
      (await admin(["create", "token", sa, "-n", PIPED_NS])).trim(),
    );
    await writeFile(join(saDir, "ca.crt"), caPem);
    await writeFile(join(saDir, "namespace"), PIPED_NS);
    // The chart's config Secret, mounted at /etc/piped, and the chart's container args.
    const secret = find(ms, "Secret") as Manifest & { data: Record<string, string> };
    const configDir = join(dir, "etc-piped");
    await mkdir(configDir, { recursive: true });
    for (const [k, v] of Object.entries(secret.data))
      await writeFile(join(configDir, k), Buffer.from(v, "base64"));
    const container = (
      find(ms, "Deployment") as Manifest & {
        spec: { template: { spec: { containers: { args: string[] }[] } } };
      }
    ).spec.template.spec.containers[0];
    const args = (container?.args ?? []).map((a) =>
      a
        .replace("/etc/piped/", `${configDir}/`)
        .replace("=/var/lib/piped", `=${join(dir, "work")}`)
        .replace(/^--grace-period=\d+$/, "--grace-period=2000"),
    );
    const url = new URL(s.sim.url);
    const proc = spawn(
      join(repoRoot(), "bin", "piped"),
      [...args, "--service-account-dir", saDir],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          KUBERNETES_SERVICE_HOST: url.hostname,
          KUBERNETES_SERVICE_PORT: url.port,
        },
      },
    );
    procs.push(proc);
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    return { pipedId: reg.id, rules, proc, output: () => out };
  }

  /** The text of every failed stage's log of a deployment. */
  async function stageLogs(d: Deployment | undefined): Promise<string> {
    let text = "";
    for (const st of d?.stages ?? [])
      if (st.status === "STAGE_FAILURE" && d?.id && st.id) {
        const logs = await s.admin.call("getStageLogs", {
          params: { id: d.id, stageId: st.id },
          query: {},
        });
        text += logs.blocks.map((b) => b.log ?? "").join("\n");
      }
    return text;
  }

  it("the canary completes with the chart's rules and fails without any single one of them", async (t) => {
    const started = Date.now();
    const full = await render("piped", {
      controlPlane: { address: "x:1", insecure: true },
      pipedId: "x",
      pipedKey: { value: "x" },
    });
    const all = (find(full, "ClusterRole") as Manifest & { rules: Rule[] }).rules;
    // Rules that only read (list, watch) serve the live state, not the deployment.
    const liveOnly = all.filter((r) => r.verbs.every((v) => v === "list" || v === "watch"));
    const rules = all.filter((r) => !liveOnly.includes(r));
    // v0: the chart as is; v1: rbac.scope=namespace; v2…: one deploying rule removed each.
    const variants: Variant[] = [
      {},
      { namespaceScope: true },
      ...rules.map((r) => ({ drop: all.indexOf(r) })),
    ];
    const pipeds = await Promise.all(variants.map((v, i) => startVariant(i, v)));
    await s.repo.commit(
      Object.assign(
        {},
        ...variants.map((_, i) => appFiles(`v${i}`, `app-v${i}`, "v0.1.0")),
      ) as Record<string, string>,
      "canary-app v0.1.0 for every variant",
    );
    const appIds: string[] = [];
    for (const [i, p] of pipeds.entries()) {
      const res = await s.admin.call("addApplication", {
        body: {
          name: `canary-v${i}`,
          pipedId: p.pipedId,
          gitPath: { repoId: "repo", path: `v${i}` },
        },
      });
      appIds.push(res.id);
    }
    const terminal = (d: Deployment): boolean =>
      d.status === "DEPLOYMENT_SUCCESS" ||
      d.status === "DEPLOYMENT_FAILURE" ||
      d.status === "DEPLOYMENT_CANCELLED";
    /** Polls every variant's app until `pick` returns a terminal deployment; approves waiting stages. */
    const waitAll = async (
      pick: (ds: Deployment[]) => Deployment | undefined,
      what: string,
    ): Promise<(Deployment | undefined)[]> => {
      const done: (Deployment | undefined)[] = variants.map(() => undefined);
      const deadline = Date.now() + 90_000;
      const approved = new Set<string>();
      for (;;) {
        for (const [i, appId] of appIds.entries()) {
          if (done[i]) continue;
          const ds = await s.deployments(appId);
          const d = pick(ds);
          if (d && terminal(d)) done[i] = d;
          const waiting = d?.stages?.find(
            (st) => st.name === "WAIT_APPROVAL" && st.status === "STAGE_RUNNING",
          );
          if (d?.id && waiting?.id && !approved.has(d.id)) {
            approved.add(d.id);
            await s.admin.call("approveStage", { params: { id: d.id, stageId: waiting.id } });
          }
        }
        if (done.every(Boolean)) return done;
        if (Date.now() > deadline)
          throw new Error(
            `${what}: variants ${done
              .map((d, i) => (d ? "" : i))
              .filter((x) => x !== "")
              .join(
                ",",
              )} did not finish:\n${pipeds.map((p) => p.output().slice(-1500)).join("\n----\n")}`,
          );
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const first = await waitAll((ds) => ds[ds.length - 1], "first sync");
    await s.repo.commit(
      Object.assign(
        {},
        ...variants.map((_, i) => appFiles(`v${i}`, `app-v${i}`, "v0.2.0")),
      ) as Record<string, string>,
      "bump to v0.2.0",
    );
    const second = await waitAll(
      (ds) => ds.find((d) => d.trigger?.commit?.message === "bump to v0.2.0"),
      "pipeline",
    );
    const seen = (await simAdmin("GET", "/kube-sim/authorization")) as {
      requests: Record<string, string[]>;
    };
    t.diagnostic(
      `requests of the full variant: ${JSON.stringify(seen.requests[`system:serviceaccount:${PIPED_NS}:v0-piped`])}`,
    );
    t.diagnostic(`${variants.length} variants in ${Date.now() - started} ms`);
    const outcome = (i: number): string =>
      first[i]?.status !== "DEPLOYMENT_SUCCESS"
        ? `first sync ${first[i]?.status}`
        : `pipeline ${second[i]?.status}`;
    for (const [j, rule] of rules.entries())
      t.diagnostic(`without ${JSON.stringify(rule)}: ${outcome(j + 2)}`);
    // What the two full variants (ClusterRole, namespace-scoped Role) called, allowed or not.
    const called = new Set(
      ["v0", "v1"].flatMap(
        (v) => seen.requests[`system:serviceaccount:${PIPED_NS}:${v}-piped`] ?? [],
      ),
    );
    const granted = all.flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`)),
      ),
    );
    t.diagnostic(
      `granted, not called, allowlisted: ${granted.filter((g) => !called.has(g)).join("; ")}`,
    );
    for (const [i, scope] of ["ClusterRole", "namespace-scoped Role"].entries()) {
      assert.equal(
        first[i]?.status,
        "DEPLOYMENT_SUCCESS",
        `${scope}: first sync\n${pipeds[i]?.output().slice(-3000)}`,
      );
      assert.equal(
        second[i]?.status,
        "DEPLOYMENT_SUCCESS",
        `${scope}: pipeline\n${pipeds[i]?.output().slice(-3000)}`,
      );
    }
    // The read-only rules are what puts a Deployment's ReplicaSets and Pods in the live state.
    for (const [i, scope] of ["ClusterRole", "namespace-scoped Role"].entries()) {
      const kinds = await s.eventually(
        async () => {
          const live = await s.admin
            .call("getApplicationLiveState", { params: { id: appIds[i] ?? "" } })
            .catch(() => undefined);
          const k = new Set((live?.liveState.kubernetesResources ?? []).map((r) => r.kind));
          return k.has("ReplicaSet") && k.has("Pod") ? k : undefined;
        },
        15_000,
        `${scope}: ReplicaSets and Pods in the live state`,
      );
      for (const r of liveOnly)
        for (const res of r.resources)
          assert.ok(
            kinds.has(res === "pods" ? "Pod" : "ReplicaSet"),
            `${scope}: ${res} (${r.verbs.join(", ")}) shows in the live state`,
          );
    }
    for (const [j, rule] of rules.entries()) {
      assert.match(
        outcome(j + 2),
        /FAILURE/,
        `without rule ${JSON.stringify(rule)} the canary must fail, got ${outcome(j + 2)}`,
      );
      // ...because of that rule: its stage log shows the 403, not some other failure.
      const d = first[j + 2]?.status === "DEPLOYMENT_SUCCESS" ? second[j + 2] : first[j + 2];
      assert.match(
        await stageLogs(d),
        new RegExp(`cannot \\w+ resource "${rule.resources[0] ?? ""}"`),
        `the failure without ${JSON.stringify(rule)} is its 403`,
      );
    }
    // Minimal per verb: every granted verb was called or is allowlisted with its reason...
    const superfluous = granted.filter(
      (g) => !called.has(g) && !(g in UNEXERCISED) && !(g in TIMING_DEPENDENT),
    );
    assert.deepEqual(
      superfluous,
      [],
      "granted but never called by the piped: drop them from the chart",
    );
    // ...the allowlist names only granted verbs the run did not call (no stale entries)...
    for (const g of Object.keys(TIMING_DEPENDENT))
      assert.ok(granted.includes(g), `TIMING_DEPENDENT lists ${g}, which the chart does not grant`);
    for (const g of Object.keys(UNEXERCISED)) {
      assert.ok(granted.includes(g), `UNEXERCISED lists ${g}, which the chart does not grant`);
      assert.ok(!called.has(g), `UNEXERCISED lists ${g}, but the run called it: remove it there`);
    }
    // ...and everything the piped called is granted (the full variants succeeded without a 403).
    assert.ok(called.size > 0, "kube-sim recorded the pipeds' requests");
    assert.deepEqual(
      [...called].filter((c) => !granted.includes(c)),
      [],
      "called but not granted",
    );
  });
});
