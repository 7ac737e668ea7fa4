import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "@pipecd-ts/kube";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import {
  diffLiveAndGit,
  diffObjects,
  hashSecretData,
  parseIgnoreField,
  renderDiffList,
  renderDiffNodes,
  renderDrift,
  type DiffNode,
} from "../src/drift/diff.js";

const docs = (text: string): KubeObject[] =>
  parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
const pair = (text: string): [KubeObject, KubeObject] => {
  const [a, b] = docs(text);
  assert.ok(a && b);
  return [a, b];
};
const paths = (nodes: readonly DiffNode[]): string[] => nodes.map((n) => n.path);
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const COMMIT = "0123456789abcdef0123";
const HEADER =
  "Diff between the defined state in Git at commit 0123456 and actual state in cluster:\n\n" +
  "--- Actual   (LiveState)\n+++ Expected (Git)\n\n";
const DRIFT = { ignoreAddingMapKeys: true, equateEmpty: true, compareNumberAndNumericString: true };

// PipeCD pkg/diff/testdata/has_diff.yaml (first = live/old, second = Git/new).
const HAS_DIFF = `
apiVersion: apps/v1
kind: Foo
metadata:
  name: simple
  labels:
    app: simple
    pipecd.dev/managed-by: piped
spec:
  replicas: 2
  selector:
    matchLabels:
      app: simple
  template:
    metadata:
      labels:
        app: simple
        component: foo
    spec:
      containers:
      - name: helloworld
        image: gcr.io/pipecd/helloworld:v1.0.0
        args:
          - hi
          - hello
        ports:
        - containerPort: 9085
      - name: bar
        image: gcr.io/pipecd/helloworld:v2.0.0
      - name: helloword2
        image: ""
---
apiVersion: apps/v1
kind: Foo
metadata:
  name: simple
  labels:
    pipecd.dev/managed-by: piped
    app: simple
spec:
  replicas: 3
  selector:
    matchLabels:
      app: simple
  template:
    metadata:
      labels:
        app: simple2
    spec:
      strategy:
        rollingUpdate:
          maxSurge: 25%
          maxUnavailable: 25%
        type: RollingUpdate
      containers:
      - name: helloworld
        image: gcr.io/pipecd/helloworld:v1.0.0
        args:
          - hi
        ports:
        - containerPort: 9085
      - name: bar
        image: gcr.io/pipecd/helloworld:v2.1.0
      - name: helloword2
      - name: foo
        image: new-image
        livenessProbe:
          exec:
            command:
            - cat
            - /tmp/healthy
          initialDelaySeconds: 5
`;

describe("diffObjects and renderDiffNodes (PipeCD pkg/diff vectors)", () => {
  it("renders every difference of has_diff.yaml exactly as PipeCD", () => {
    const [x, y] = pair(HAS_DIFF);
    const nodes = diffObjects(x, y, {});
    assert.equal(nodes.length, 8);
    assert.equal(
      renderDiffNodes(nodes),
      `  spec:
    #spec.replicas
-   replicas: 2
+   replicas: 3

    template:
      metadata:
        labels:
          #spec.template.metadata.labels.app
-         app: simple
+         app: simple2

          #spec.template.metadata.labels.component
-         component: foo

      spec:
        containers:
          - args:
              #spec.template.spec.containers.0.args.1
-             - hello

          -
            #spec.template.spec.containers.1.image
-           image: gcr.io/pipecd/helloworld:v2.0.0
+           image: gcr.io/pipecd/helloworld:v2.1.0

          -
            #spec.template.spec.containers.2.image
-           image: 

          #spec.template.spec.containers.3
+         - image: new-image
+           livenessProbe:
+             exec:
+               command:
+                 - cat
+                 - /tmp/healthy
+             initialDelaySeconds: 5
+           name: foo

        #spec.template.spec.strategy
+       strategy:
+         rollingUpdate:
+           maxSurge: 25%
+           maxUnavailable: 25%
+         type: RollingUpdate

`,
    );
  });

  it("ignore paths hide a node and prune ignored fields from rendered values", () => {
    const [x, y] = pair(HAS_DIFF);
    const nodes = diffObjects(x, y, {
      ignorePaths: [
        "spec.replicas",
        "spec.template.spec.containers.0.args.1",
        "spec.template.spec.strategy.rollingUpdate.maxSurge",
        "spec.template.spec.containers.3.livenessProbe.initialDelaySeconds",
      ],
    });
    assert.equal(nodes.length, 6);
    assert.equal(
      renderDiffNodes(nodes),
      `  spec:
    template:
      metadata:
        labels:
          #spec.template.metadata.labels.app
-         app: simple
+         app: simple2

          #spec.template.metadata.labels.component
-         component: foo

      spec:
        containers:
          -
            #spec.template.spec.containers.1.image
-           image: gcr.io/pipecd/helloworld:v2.0.0
+           image: gcr.io/pipecd/helloworld:v2.1.0

          -
            #spec.template.spec.containers.2.image
-           image: 

          #spec.template.spec.containers.3
+         - image: new-image
+           livenessProbe:
+             exec:
+               command:
+                 - cat
+                 - /tmp/healthy
+           name: foo

        #spec.template.spec.strategy
+       strategy:
+         rollingUpdate:
+           maxUnavailable: 25%
+         type: RollingUpdate

`,
    );
  });

  it("keys only the live side has (status, PipeCD labels, new fields) are ignored with ignoreAddingMapKeys", () => {
    // PipeCD pkg/diff/testdata/ignore_adding_map_keys.yaml.
    const [x, y] = pair(`
apiVersion: apps/v1
kind: Foo
metadata:
  name: simple
  labels:
    app: simple
    pipecd.dev/managed-by: piped
    pipecd.dev/resource-key: apps/v1:Foo:default:simple
    pipecd.dev/variant: primary
spec:
  replicas: 2
  template:
    spec:
      newSliceFields: [a, b]
      containers:
      - name: helloworld
        args: [hi, hello]
status:
  desc: ok
---
apiVersion: apps/v1
kind: Foo
metadata:
  name: simple
  labels:
    pipecd.dev/managed-by: piped
    app: simple
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: helloworld
        args: [hi, hello]
`);
    assert.deepEqual(diffObjects(x, y, { ignoreAddingMapKeys: true }), []);
    assert.deepEqual(paths(diffObjects(x, y, {})), [
      "metadata.labels.pipecd.dev/resource-key",
      "metadata.labels.pipecd.dev/variant",
      "spec.template.spec.newSliceFields",
      "status",
    ]);
  });

  it('equates nil, missing, zero and empty values and 1 with 1.0 and "1" (no_diff.yaml)', () => {
    const [x, y] = pair(`
apiVersion: apps/v1
kind: Foo
metadata:
  name: simple
  labels: {app: simple, zeroBool1: false, zeroString1: "", zeroInt1: 0, zeroFloat1: 0.0}
spec:
  replicas: 2
  number: 1
  template:
    spec:
      containers:
      - name: helloworld
        emptyList: []
        emptyMap: {}
        resources:
          limits: {cpu: 1, memory: 1Gi}
---
apiVersion: apps/v1
kind: Foo
metadata:
  name: simple
  labels: {app: simple, zeroBool2: false, zeroString2: "", zeroInt2: 0, zeroFloat2: 0.0}
spec:
  replicas: 2
  number: 1.0
  template:
    spec:
      containers:
      - name: helloworld
        emptyList2: []
        ports:
        resources:
          limits: {cpu: "1", memory: 1Gi}
`);
    assert.deepEqual(diffObjects(x, y, DRIFT), []);
    // Without equateEmpty a Git-only empty value is a difference; without the numeric option 1 != "1".
    assert.deepEqual(paths(diffObjects(x, y, { ignoreAddingMapKeys: true })), [
      "metadata.labels.zeroBool2",
      "metadata.labels.zeroFloat2",
      "metadata.labels.zeroInt2",
      "metadata.labels.zeroString2",
      "spec.template.spec.containers.0.emptyList2",
      "spec.template.spec.containers.0.ports",
      "spec.template.spec.containers.0.resources.limits.cpu",
    ]);
  });

  it("reports the parsed number when a numeric string differs from a number", () => {
    const nodes = diffObjects({ cpu: "2.50" }, { cpu: 1 }, DRIFT);
    assert.deepEqual(nodes, [{ path: "cpu", before: 2.5, after: 1, steps: ["cpu"] }]);
    assert.equal(renderDiffNodes(nodes), "  #cpu\n- cpu: 2.5\n+ cpu: 1\n\n");
    assert.deepEqual(paths(diffObjects({ cpu: "500m" }, { cpu: 0.5 }, DRIFT)), ["cpu"]);
  });

  it("compares lists by index: an extra live element is a difference even when ignoring live-only keys", () => {
    const nodes = diffObjects({ args: ["a", "b"] }, { args: ["a"] }, DRIFT);
    assert.deepEqual(nodes, [
      { path: "args.1", before: "b", after: undefined, steps: ["args", 1] },
    ]);
  });
});

function liveDeployment(): KubeObject {
  // What the API server returns: defaults, status and PipeCD's annotations on top of Git's fields.
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "simple",
      namespace: "default",
      uid: "c0ffee",
      resourceVersion: "42",
      generation: 3,
      annotations: {
        "pipecd.dev/managed-by": "piped",
        "pipecd.dev/commit-hash": COMMIT,
        "deployment.kubernetes.io/revision": "3",
      },
      labels: { app: "simple" },
    },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: { app: "simple" } },
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
      },
      template: {
        metadata: { creationTimestamp: null, labels: { app: "simple" } },
        spec: {
          containers: [
            {
              name: "helloworld",
              image: "gcr.io/pipecd/helloworld:v1",
              args: ["server"],
              ports: [{ containerPort: 9085, protocol: "TCP" }],
              resources: { limits: { cpu: "1", memory: "1Gi" } },
              imagePullPolicy: "IfNotPresent",
              terminationMessagePath: "/dev/termination-log",
            },
          ],
          restartPolicy: "Always",
          dnsPolicy: "ClusterFirst",
        },
      },
    },
    status: { replicas: 2, readyReplicas: 2, observedGeneration: 3 },
  };
}

function gitDeployment(replicas = 2, image = "gcr.io/pipecd/helloworld:v1"): KubeObject {
  const [d] = docs(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: simple
  labels:
    app: simple
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: simple
  template:
    metadata:
      labels:
        app: simple
    spec:
      containers:
      - name: helloworld
        image: ${image}
        args: [server]
        ports:
        - containerPort: 9085
        resources:
          limits:
            cpu: 1
            memory: 1Gi
`);
  assert.ok(d);
  return d;
}

const NO_IGNORE = { ignoreFields: [] };

describe("diffLiveAndGit and renderDrift", () => {
  it("is SYNCED with empty reasons when live only adds defaults, status and annotations", () => {
    const r = diffLiveAndGit([liveDeployment()], [gitDeployment()], NO_IGNORE);
    assert.deepEqual(r, { adds: [], deletes: [], changes: [] });
    assert.deepEqual(renderDrift(r, COMMIT), { status: "SYNCED", shortReason: "", reason: "" });
  });

  it("a changed replica count is OUT_OF_SYNC and names spec.replicas", () => {
    const r = diffLiveAndGit([liveDeployment()], [gitDeployment(3)], NO_IGNORE);
    assert.equal(r.changes.length, 1);
    assert.equal(r.changes[0]?.key, "apps/v1:Deployment:default:simple");
    assert.deepEqual(r.changes[0]?.nodes, [
      { path: "spec.replicas", before: 2, after: 3, steps: ["spec", "replicas"] },
    ]);
    assert.deepEqual(renderDrift(r, COMMIT), {
      status: "OUT_OF_SYNC",
      shortReason: "There are 1 manifests not synced (0 adds, 0 deletes, 1 changes)",
      reason:
        HEADER +
        `# 1. name="simple", kind="Deployment", namespace="default", apiVersion="apps/v1"

  spec:
    #spec.replicas
-   replicas: 2
+   replicas: 3


`,
    });
  });

  it("a changed image names spec.template.spec.containers.0.image", () => {
    const r = diffLiveAndGit(
      [liveDeployment()],
      [gitDeployment(2, "gcr.io/pipecd/helloworld:v2")],
      NO_IGNORE,
    );
    assert.deepEqual(paths(r.changes[0]?.nodes ?? []), ["spec.template.spec.containers.0.image"]);
    assert.equal(
      renderDrift(r, COMMIT).reason,
      HEADER +
        `# 1. name="simple", kind="Deployment", namespace="default", apiVersion="apps/v1"

  spec:
    template:
      spec:
        containers:
          -
            #spec.template.spec.containers.0.image
-           image: gcr.io/pipecd/helloworld:v1
+           image: gcr.io/pipecd/helloworld:v2


`,
    );
  });

  it('a live cpu "1" equals a Git cpu 1, but "2" does not', () => {
    const live = liveDeployment();
    assert.deepEqual(diffLiveAndGit([live], [gitDeployment()], NO_IGNORE).changes, []);
    const spec = live.spec as {
      template: { spec: { containers: { resources: { limits: { cpu: string } } }[] } };
    };
    const c = spec.template.spec.containers[0];
    assert.ok(c);
    c.resources.limits.cpu = "2";
    const r = diffLiveAndGit([live], [gitDeployment()], NO_IGNORE);
    assert.deepEqual(
      r.changes[0]?.nodes.map((n) => [n.path, n.before, n.after]),
      [["spec.template.spec.containers.0.resources.limits.cpu", 2, 1]],
    );
  });

  it("ignoreFields hides the field path and its subtree for the live key only", () => {
    const git = gitDeployment(3, "gcr.io/pipecd/helloworld:v2");
    const ignored = (f: string[]): string[] =>
      paths(diffLiveAndGit([liveDeployment()], [git], { ignoreFields: f }).changes[0]?.nodes ?? []);
    assert.deepEqual(ignored(["apps/v1:Deployment:default:simple#spec.template"]), [
      "spec.replicas",
    ]);
    assert.deepEqual(ignored(["apps/v1:Deployment:default:simple#spec.replicas"]), [
      "spec.template.spec.containers.0.image",
    ]);
    // Prefix means whole path steps: "spec.rep" is not "spec.replicas"; another namespace is another key.
    assert.deepEqual(ignored(["apps/v1:Deployment:default:simple#spec.rep"]).length, 2);
    assert.deepEqual(ignored(["apps/v1:Deployment:prod:simple#spec"]).length, 2);
    assert.deepEqual(
      diffLiveAndGit([liveDeployment()], [git], {
        ignoreFields: [
          "apps/v1:Deployment:default:simple#spec.replicas",
          "apps/v1:Deployment:default:simple#spec.template.spec.containers.0",
        ],
      }).changes,
      [],
    );
  });

  it("a malformed ignoreFields entry is refused with InvalidArgument naming it", () => {
    for (const bad of [
      "apps/v1:Deployment:default:simple",
      "apps/v1:Deployment:default:simple#spec#replicas",
      "Deployment:simple#spec.replicas",
      "apps/v1:Deployment:default:simple#",
    ])
      assert.throws(
        () => diffLiveAndGit([liveDeployment()], [gitDeployment()], { ignoreFields: [bad] }),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.message.includes(JSON.stringify(bad)),
      );
    assert.deepEqual(
      parseIgnoreField("rbac.authorization.k8s.io/v1:ClusterRole::system:foo#rules"),
      {
        key: "rbac.authorization.k8s.io/v1:ClusterRole::system:foo",
        path: "rules",
      },
    );
  });

  it("pairs by apiVersion, kind and name ignoring namespace, and renders deletes then adds", () => {
    const live = liveDeployment();
    live.metadata.namespace = "prod";
    const canary = liveDeployment();
    canary.metadata.name = "simple-canary";
    const service: KubeObject = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "simple" },
      spec: { ports: [{ port: 80 }] },
    };
    const r = diffLiveAndGit([canary, live], [service, gitDeployment()], NO_IGNORE);
    assert.deepEqual(r.adds, [service]);
    assert.deepEqual(r.deletes, [canary]);
    assert.deepEqual(r.changes, []);
    assert.deepEqual(diffLiveAndGit([], [service], NO_IGNORE).adds, [service]);
    assert.deepEqual(diffLiveAndGit([canary], [], NO_IGNORE).deletes, [canary]);
    assert.deepEqual(renderDrift(r, "abc"), {
      status: "OUT_OF_SYNC",
      shortReason: "There are 2 manifests not synced (1 adds, 1 deletes, 0 changes)",
      reason:
        "Diff between the defined state in Git at commit abc and actual state in cluster:\n\n" +
        "--- Actual   (LiveState)\n+++ Expected (Git)\n\n" +
        '- 1. name="simple-canary", kind="Deployment", namespace="default", apiVersion="apps/v1"\n\n' +
        '+ 2. name="simple", kind="Service", namespace="default", apiVersion="v1"\n\n',
    });
  });

  it("drops objects annotated pipecd.dev/ignore-drift-detection on both sides", () => {
    const ignore = { "pipecd.dev/ignore-drift-detection": "true" };
    const live = liveDeployment();
    live.metadata.annotations = { ...live.metadata.annotations, ...ignore };
    const cm: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", annotations: ignore },
    };
    const r = diffLiveAndGit([live], [gitDeployment(5), cm], NO_IGNORE);
    assert.deepEqual(
      r.adds.map((a) => a.kind),
      ["Deployment"],
    );
    assert.deepEqual(r.deletes, []);
  });

  it("shows at most three changed manifests, masks ConfigMap data, and counts the rest", () => {
    const cm = (name: string, v: string): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name },
      data: { key: v },
    });
    const names = ["a", "b", "c", "d"];
    const r = diffLiveAndGit(
      names.map((n) => cm(n, "old-value")),
      names.map((n) => cm(n, "new-value")),
      NO_IGNORE,
    );
    const s = renderDrift(r, COMMIT);
    assert.equal(s.shortReason, "There are 4 manifests not synced (0 adds, 0 deletes, 4 changes)");
    const one = (i: number, n: string): string =>
      `# ${i}. name="${n}", kind="ConfigMap", namespace="default", apiVersion="v1"\n\n` +
      "  data:\n    #data.key\n-   key: *****\n+   key: *****\n\n\n";
    assert.equal(
      s.reason,
      HEADER + one(1, "a") + one(2, "b") + one(3, "c") + "... (omitted 1 other changed manifests\n",
    );
    // PipeCD pipedv1 provider/diff_test.go "with max changed manifests", in v0's words.
    assert.equal(
      renderDiffList(
        { ...r, changes: r.changes.slice(0, 2) },
        { maskConfigMap: true, maxChangedManifests: 1 },
      ),
      one(1, "a") + "... (omitted 1 other changed manifests\n",
    );
  });
});

describe("Secrets", () => {
  const secret = (fields: Partial<KubeObject>): KubeObject => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "creds" },
    type: "Opaque",
    ...fields,
  });
  const BAR = "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9";

  it("hashSecretData hashes decoded data and stringData (which wins), drops stringData, and is idempotent", () => {
    const hashed = hashSecretData(
      secret({
        metadata: {
          name: "creds",
          annotations: {
            "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"foo":"YmFy"}}',
            a: "b",
          },
        },
        data: { foo: b64("bar"), password: b64("overridden") },
        stringData: { password: "bar" },
      }),
    );
    assert.deepEqual(
      hashed,
      secret({
        metadata: { name: "creds", annotations: { a: "b" } },
        data: { foo: BAR, password: BAR },
      }),
    );
    assert.deepEqual(hashSecretData(hashed), hashed);
    const cm: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { foo: "bar" },
    };
    assert.equal(hashSecretData(cm), cm);
  });

  it("a changed secret value is detected without any value in the reason", () => {
    const live = secret({ data: { password: b64("old-pass"), user: b64("admin") } });
    const git = secret({ stringData: { password: "new-pass", user: "admin" } });
    const r = diffLiveAndGit([live], [git], NO_IGNORE);
    assert.deepEqual(paths(r.changes[0]?.nodes ?? []), ["data.password"]);
    const { reason } = renderDrift(r, COMMIT);
    assert.equal(
      reason,
      HEADER +
        `# 1. name="creds", kind="Secret", namespace="default", apiVersion="v1"

  data:
    #data.password
-   password: *****
+   password: *****


`,
    );
    for (const clear of ["old-pass", "new-pass", b64("old-pass"), "sha256:"])
      assert.ok(!reason.includes(clear), clear);
    assert.ok(
      !JSON.stringify(r).includes("new-pass") && !JSON.stringify(r).includes(b64("old-pass")),
    );
  });

  it('live data equal to Git stringData is in sync (PipeCD "Secret no diff with merge")', () => {
    const live = secret({ data: { password: "hoge", foo: "YmFy" } });
    const git = secret({ data: { password: "hoge" }, stringData: { foo: "bar" } });
    assert.deepEqual(diffLiveAndGit([live], [git], NO_IGNORE).changes, []);
    // PipeCD reports a false positive when Git's data and stringData disagree; the API server
    // stores stringData, so we do not.
    const both = secret({ data: { password: "hoge", foo: "Zm9v" }, stringData: { foo: "bar" } });
    assert.deepEqual(diffLiveAndGit([live], [both], NO_IGNORE).changes, []);
  });
});
