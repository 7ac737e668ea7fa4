import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import {
  ensureK8sTools,
  git,
  runCommand,
  startStack,
  type DeploymentJson,
  type Stack,
} from "@pipecd-ts/testkit";

// Issue 14 end to end: Helm and Kustomize apps through real processes (control plane, piped,
// kube-sim) and the real helm v4 / kubectl-kustomize binaries. The cluster is compared with
// what this test renders itself with helm and kubectl for the same commit.

const PIPELINE = `  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_CANARY_CLEAN
`;

/** A chart whose Deployment reads a ConfigMap; `extra` is added to templates/. */
function chart(name: string, version: string, extra: Record<string, string> = {}) {
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: { app: {{ .Release.Name }} }
spec:
  replicas: {{ .Values.replicas }}
  selector: { matchLabels: { app: {{ .Release.Name }} } }
  template:
    metadata: { labels: { app: {{ .Release.Name }} } }
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          env:
            - name: MESSAGE
              valueFrom: { configMapKeyRef: { name: {{ .Release.Name }}-config, key: message } }
`;
  return {
    "Chart.yaml": `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
    "values.yaml":
      "image: { repository: ghcr.io/pipe-cd/helloworld, tag: v0.1.0 }\nreplicas: 2\nmessage: hello\n",
    "templates/deployment.yaml": deployment,
    "templates/service.yaml": `apiVersion: v1
kind: Service
metadata: { name: {{ .Release.Name }} }
spec:
  selector: { app: {{ .Release.Name }} }
  ports: [{ port: 80, targetPort: 9085 }]
`,
    "templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: {{ .Release.Name }}-config }
data: { message: {{ .Values.message | quote }} }
`,
    ...Object.fromEntries(Object.entries(extra).map(([f, t]) => [`templates/${f}`, t])),
  };
}

const prefixed = (dir: string, files: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(files).map(([f, t]) => [`${dir}/${f}`, t]));

const appConfig = (name: string, input: string, more = ""): string =>
  `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: ${name}
  input:
${input}${more}`;

/** The kustomize base (elsewhere in the repo) and the overlay app that uses it. */
const kustomizeFiles = (tag: string): Record<string, string> => ({
  "bases/web/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
  "bases/web/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: ghcr.io/pipe-cd/helloworld:v0.1.0 }]
`,
  "bases/web/service.yaml":
    "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web }, ports: [{ port: 80 }] }\n",
  "kustomize-app/kustomization.yaml": `resources: [../bases/web]
namePrefix: prod-
images: [{ name: ghcr.io/pipe-cd/helloworld, newTag: ${tag} }]
`,
  "kustomize-app/app.pipecd.yaml": appConfig(
    "kustomize-app",
    "    kustomizeVersion: 5.6.0\n    kustomizeOptions: { load_restrictor: LoadRestrictionsNone }\n",
    `  trigger: { onCommit: { paths: ["bases/web/**"] } }\n${PIPELINE}`,
  ),
});

/** The local-chart app: the chart lives outside the app directory, as in PipeCD's examples. */
const helmLocalFiles = (tag: string): Record<string, string> => ({
  ...prefixed("charts/web", chart("web", "0.1.0")),
  "helm-local/values-prod.yaml": `image: { tag: ${tag} }\n`,
  "helm-local/app.pipecd.yaml": appConfig(
    "helm-local",
    `    helmChart: { path: ../charts/web }
    helmOptions:
      valueFiles: [values-prod.yaml]
      setValues: { message: from-set-values }
`,
    `  trigger: { onCommit: { paths: ["charts/web/**"] } }\n${PIPELINE}`,
  ),
});

/** A `KubernetesObjectApi` reading objects as plain JSON. */
type Live = (o: { apiVersion: string; kind: string; name: string }) => Promise<unknown>;

/** Whether every field of `want` is in `got` with the same value (live objects carry more). */
function missing(want: unknown, got: unknown, at = ""): string | undefined {
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return `${at}: ${JSON.stringify(got)}`;
    for (const [i, w] of want.entries()) {
      const m = missing(w, got[i], `${at}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (typeof want === "object" && want !== null) {
    if (typeof got !== "object" || got === null) return `${at}: ${JSON.stringify(got)}`;
    for (const [k, w] of Object.entries(want)) {
      const m = missing(w, (got as Record<string, unknown>)[k], `${at}.${k}`);
      if (m) return m;
    }
    return undefined;
  }
  return want === got
    ? undefined
    : `${at}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
}

/** Asserts the cluster holds every object of `rendered` as rendered. */
async function assertLiveMatches(live: Live, rendered: string, what: string): Promise<number> {
  let n = 0;
  for (const doc of parseAllDocuments(rendered)) {
    const o = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string } } | null;
    if (!o) continue;
    const got = await live({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name });
    assert.ok(got, `${what}: ${o.kind} ${o.metadata.name} is not in the cluster`);
    const diff = missing(o, got);
    assert.equal(diff, undefined, `${what}: ${o.kind} ${o.metadata.name} differs at ${diff}`);
    n++;
  }
  return n;
}

/** Writes `files` under `dir`. */
async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [f, t] of Object.entries(files)) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await writeFile(join(dir, f), t);
  }
}

describe("Helm and Kustomize applications end to end (real helm, kubectl kustomize)", () => {
  let s: Stack;
  let dir: string;
  let helm = "";
  let kubectl = "";
  let live: Live;
  let apps: k8s.AppsV1Api;
  let repoServer: Server;
  const requests: { auth: string; url: string }[] = [];
  const ids: Record<string, string> = {};

  /** Renders `appDir` of the app repository at `commit` with a command of this test's own. */
  const renderAt = async (commit: string, appDir: string, args: string[], tool: string) => {
    const checkout = join(dir, `checkout-${commit.slice(0, 8)}`);
    await rm(checkout, { recursive: true, force: true });
    await git(dir, ["clone", "--quiet", s.repo.bare, checkout]);
    await git(checkout, ["checkout", "--quiet", commit]);
    const r = await runCommand(tool, args, { cwd: join(checkout, appDir), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const renderHelmLocal = (commit: string) =>
    renderAt(
      commit,
      "helm-local",
      [
        "template",
        "--no-hooks",
        "--include-crds",
        "helm-local",
        "../charts/web",
        "-f",
        "values-prod.yaml",
        "--set",
        "message=from-set-values",
      ],
      helm,
    );
  const renderKustomize = (commit: string) =>
    renderAt(
      commit,
      "kustomize-app",
      ["kustomize", ".", "--load-restrictor", "LoadRestrictionsNone"],
      kubectl,
    );
  const success = (appId: string, commit: string, what: string): Promise<DeploymentJson> =>
    s.waitDeployment(
      appId,
      (d) =>
        d.trigger?.commit?.hash === commit &&
        (d.status === "DEPLOYMENT_SUCCESS" || d.status === "DEPLOYMENT_FAILURE"),
      60_000,
      what,
    );
  const canaries = async (): Promise<string[]> =>
    (await apps.listNamespacedDeployment({ namespace: "default" })).items
      .map((d) => d.metadata?.name ?? "")
      .filter((n) => n.endsWith("-canary"));
  /** Renders the piped ran, per "app commit", from its operator log. */
  const renders = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const line of (s.piped?.output() ?? "").split("\n")) {
      if (!line.includes('"rendered manifests"')) continue;
      const e = JSON.parse(line) as { app: string; commit: string };
      const k = `${e.app} ${e.commit}`;
      out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  };
  let first = "";
  const stageLog = async (d: DeploymentJson, stageName: string): Promise<string> =>
    (
      await s.admin.call("getStageLogs", {
        params: { id: d.id ?? "", stageId: d.stages?.find((x) => x.name === stageName)?.id ?? "" },
      })
    ).blocks
      .map((b) => b.log ?? "")
      .join("\n");

  before(async () => {
    const tools = await ensureK8sTools();
    helm = tools.helm;
    kubectl = tools.kubectl;
    dir = await mkdtemp(join(tmpdir(), "helm-kustomize-"));
    // A Helm repository on loopback with basic auth: `helm package` + `helm repo index`.
    const repoDir = join(dir, "helm-repo");
    await writeTree(join(dir, "src/hello"), chart("hello", "0.1.0"));
    let r = await runCommand(helm, ["package", join(dir, "src/hello"), "-d", repoDir]);
    assert.equal(r.code, 0, r.stderr);
    repoServer = createServer((req, res) => {
      const auth = req.headers.authorization ?? "";
      requests.push({ auth, url: req.url ?? "" });
      if (auth !== `Basic ${Buffer.from("charts:s3cret").toString("base64")}`) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="charts"' }).end();
        return;
      }
      readFile(join(repoDir, (req.url ?? "/").split("?")[0] ?? "")).then(
        (b) => res.writeHead(200).end(b),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((ok) => repoServer.listen(0, "127.0.0.1", ok));
    const port = (repoServer.address() as { port: number }).port;
    r = await runCommand(helm, ["repo", "index", repoDir, "--url", `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 0, r.stderr);
    // Another git remote holding a chart (a local bare repository).
    const chartsBare = join(dir, "charts.git");
    const chartsWork = join(dir, "charts-work");
    await mkdir(chartsBare);
    await git(chartsBare, ["init", "--quiet", "--bare", "--initial-branch=main"]);
    await writeTree(chartsWork, prefixed("charts/from-git", chart("from-git", "0.2.0")));
    await git(chartsWork, ["init", "--quiet", "--initial-branch=main"]);
    await git(chartsWork, ["add", "-A"]);
    await git(chartsWork, ["commit", "-qm", "chart"]);
    await git(chartsWork, ["tag", "v0.2.0"]);
    await git(chartsWork, ["push", "--quiet", chartsBare, "main", "v0.2.0"]);

    s = await startStack({
      readyDelayMs: 50,
      toolsDir: dirname(helm),
      pipedSpec: `  chartRepositories:
    - name: loopback
      address: http://127.0.0.1:${port}
      username: charts
      password: s3cret
`,
    });
    await s.startPiped();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.sim.kubeconfigPath);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    live = (o) =>
      objects
        .read({
          apiVersion: o.apiVersion,
          kind: o.kind,
          metadata: { name: o.name, namespace: "default" },
        })
        .then(
          (x) => x as unknown,
          () => undefined,
        );
    first = await s.repo.commit(
      {
        ...helmLocalFiles("v0.1.0"),
        ...kustomizeFiles("v0.1.0"),
        "helm-repo/app.pipecd.yaml": appConfig(
          "helm-repo",
          "    helmChart: { repository: loopback, name: hello, version: 0.1.0 }\n",
        ),
        "helm-git/app.pipecd.yaml": appConfig(
          "helm-git",
          `    helmChart: { gitRemote: ${chartsBare}, ref: v0.2.0, path: charts/from-git }\n`,
        ),
        // Bad input, one app each: nothing may be applied for any of them.
        ...prefixed(
          "charts/broken",
          chart("broken", "0.1.0", { "fail.yaml": '{{ fail "boom: replicas must be set" }}\n' }),
        ),
        "bad-missing/app.pipecd.yaml": appConfig(
          "bad-missing",
          "    helmChart: { path: ../charts/nope }\n",
        ),
        "bad-template/app.pipecd.yaml": appConfig(
          "bad-template",
          "    helmChart: { path: ../charts/broken }\n",
        ),
        "bad-unreachable/app.pipecd.yaml": appConfig(
          "bad-unreachable",
          "    helmChart: { repository: oci://127.0.0.1:9/charts, name: hello, version: 0.1.0 }\n",
        ),
        "bad-escape/app.pipecd.yaml": appConfig(
          "bad-escape",
          "    helmChart: { path: ../charts/web }\n    helmOptions: { valueFiles: [../../../etc/passwd] }\n",
        ),
      },
      "helm and kustomize apps",
    );
    for (const name of [
      "helm-local",
      "kustomize-app",
      "helm-repo",
      "helm-git",
      "bad-missing",
      "bad-template",
      "bad-unreachable",
      "bad-escape",
    ])
      ids[name] = await s.addApp(name, name);
    // Every first deployment ends before any test commits again (a later commit would be deployed instead).
    await Promise.all(
      Object.entries(ids).map(([n, id]) => success(id, first, `${n} first deployment`)),
    );
  });
  after(async () => {
    if (process.env.E2E_DEBUG) process.stderr.write(s?.piped?.output() ?? "");
    await s?.close();
    repoServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The first deployment (a quick sync) of `name`, then an image bump through the pipeline. */
  const quickSyncThenPipeline = async (
    name: string,
    render: (commit: string) => Promise<string>,
    objects: number,
    bump: Record<string, string>,
  ): Promise<void> => {
    const appId = ids[name] ?? "";
    const d = await success(appId, first, `${name} first deployment`);
    assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
    assert.deepEqual(
      d.stages?.filter((st) => st.visible).map((st) => st.name),
      ["K8S_SYNC"],
      "the first deployment is a quick sync",
    );
    assert.equal(await assertLiveMatches(live, await render(first), `${name} v0.1.0`), objects);
    const next = await s.repo.commit(bump, `${name} v0.2.0`);
    const d2 = await success(appId, next, `${name} image bump`);
    assert.equal(d2.status, "DEPLOYMENT_SUCCESS", d2.statusReason);
    assert.match(d2.summary ?? "", /updating image helloworld from v0.1.0 to v0.2.0/);
    assert.deepEqual(
      d2.stages?.filter((st) => st.visible).map((st) => `${st.name} ${st.status}`),
      [
        "K8S_CANARY_ROLLOUT STAGE_SUCCESS",
        "K8S_PRIMARY_ROLLOUT STAGE_SUCCESS",
        "K8S_CANARY_CLEAN STAGE_SUCCESS",
      ],
    );
    const rendered = await render(next);
    assert.match(rendered, /helloworld:v0\.2\.0/);
    assert.equal(await assertLiveMatches(live, rendered, `${name} v0.2.0`), objects);
    assert.deepEqual(await canaries(), [], "no canary is left");
  };

  it("a local chart (valueFiles + setValues) quick-syncs, then an image bump runs canary → primary → clean", async () => {
    await quickSyncThenPipeline("helm-local", renderHelmLocal, 3, {
      "helm-local/values-prod.yaml": "image: { tag: v0.2.0 }\n",
    });
    const dep = await live({ apiVersion: "v1", kind: "ConfigMap", name: "helm-local-config" });
    assert.deepEqual((dep as { data: unknown }).data, { message: "from-set-values" });
  });

  it("a kustomize overlay over a base elsewhere in the repo quick-syncs, then runs canary → primary → clean", async () => {
    await quickSyncThenPipeline("kustomize-app", renderKustomize, 2, {
      "kustomize-app/kustomization.yaml":
        kustomizeFiles("v0.2.0")["kustomize-app/kustomization.yaml"] ?? "",
    });
    const d = await success(ids["kustomize-app"] ?? "", first, "kustomize first deployment");
    const log = await stageLog(d, "K8S_SYNC");
    assert.match(
      log,
      /kustomizeVersion 5\.6\.0 is not installed/,
      "the pinned version is not ignored silently",
    );
  });

  it("a change under the chart outside the app directory triggers through trigger.onCommit.paths", async () => {
    const commit = await s.repo.commit(
      {
        "charts/web/values.yaml": chart("web", "0.1.0")["values.yaml"].replace(
          "replicas: 2",
          "replicas: 3",
        ),
      },
      "chart default replicas 3",
    );
    const d = await success(ids["helm-local"] ?? "", commit, "chart change deployment");
    assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
    assert.match(d.summary ?? "", /Quick sync to scale Deployment\/helm-local from 2 to 3/);
    const dep = await apps.readNamespacedDeployment({ name: "helm-local", namespace: "default" });
    assert.equal(dep.spec?.replicas, 3);
  });

  it("a chart from a Helm repository on loopback (basic auth) and one from another git remote both deploy", async () => {
    const repo = await success(ids["helm-repo"] ?? "", first, "helm-repo deployment");
    assert.equal(repo.status, "DEPLOYMENT_SUCCESS", repo.statusReason);
    const git = await success(ids["helm-git"] ?? "", first, "helm-git deployment");
    assert.equal(git.status, "DEPLOYMENT_SUCCESS", git.statusReason);
    for (const name of ["helm-repo", "helm-git"]) {
      const dep = await apps.readNamespacedDeployment({ name, namespace: "default" });
      assert.equal(
        dep.spec?.template.spec?.containers[0]?.image,
        "ghcr.io/pipe-cd/helloworld:v0.1.0",
      );
    }
    const good = `Basic ${Buffer.from("charts:s3cret").toString("base64")}`;
    assert.ok(requests.some((r) => r.url.startsWith("/hello-0.1.0.tgz") && r.auth === good));
    assert.ok(
      requests.every((r) => r.auth === good),
      "every request carried the credentials",
    );
    const log = s.piped?.output() ?? "";
    assert.doesNotMatch(log, /s3cret/, "the repository password is never logged");
  });

  const refused = async (name: string, reason: RegExp): Promise<void> => {
    const d = await success(ids[name] ?? "", first, `${name} deployment`);
    assert.equal(d.status, "DEPLOYMENT_FAILURE");
    assert.match(d.statusReason ?? "", /^Unable to plan the deployment/);
    assert.match(d.statusReason ?? "", reason);
    const names = (await apps.listNamespacedDeployment({ namespace: "default" })).items.map(
      (x) => x.metadata?.name,
    );
    assert.ok(!names.some((n) => n?.startsWith(name)), `nothing was applied for ${name}`);
  };

  it("a missing chart is refused with helm's message", async () => {
    await refused("bad-missing", /charts\/nope.*not found|not found.*charts\/nope/);
  });

  it("a chart template error is refused with helm's message", async () => {
    await refused("bad-template", /unable to run helm template: .*boom: replicas must be set/);
  });

  it("an unreachable chart repository is refused with helm's message", async () => {
    await refused("bad-unreachable", /127\.0\.0\.1:9.*(connection refused|connect)/);
  });

  it("a value file escaping the repository (../../../etc/passwd) is refused before helm runs", async () => {
    await refused("bad-escape", /values file \.\.\/\.\.\/\.\.\/etc\/passwd references outside/);
  });

  it("one deployment renders each commit once (the piped's render log)", async () => {
    const counts = renders();
    assert.ok(counts.size > 0, "renders were logged");
    for (const [key, n] of counts) assert.equal(n, 1, `${key} was rendered ${n} times`);
    // The pipeline deployment of helm-local rendered its target once and reused the running commit.
    assert.equal(counts.get(`${ids["helm-local"]} ${first}`), 1);
  });
});
