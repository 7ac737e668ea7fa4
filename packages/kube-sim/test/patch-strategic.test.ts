import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  applyStrategicMergePatch,
  builtinSmpSchema,
  PatchError,
  type Json,
  type SmpSchema,
} from "../src/patch/index.js";

function schemaOf(apiVersion: string, kind: string): SmpSchema {
  const s = builtinSmpSchema(apiVersion, kind);
  assert.ok(s, `${apiVersion} ${kind} has a built-in SMP schema`);
  return s;
}

const DEPLOYMENT = schemaOf("apps/v1", "Deployment");

const liveDeployment = (): Json => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default", finalizers: ["a", "b"] },
  spec: {
    replicas: 2,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
    template: {
      metadata: { labels: { app: "web", tier: "front" } },
      spec: {
        containers: [
          {
            name: "web",
            image: "nginx:1.25",
            args: ["--a", "--b"],
            env: [
              { name: "A", value: "1" },
              { name: "B", value: "2" },
            ],
            ports: [{ containerPort: 80, protocol: "TCP" }],
          },
          { name: "sidecar", image: "envoy:1.30" },
        ],
        volumes: [{ name: "data", emptyDir: {} }],
      },
    },
  },
});

type Case = {
  name: string;
  patch: Json;
  expect: (out: Json) => void;
  target?: () => Json;
  schema?: SmpSchema;
};

const cases: Case[] = [
  {
    name: "kubectl apply's patch ($setElementOrder + image change) updates one container and keeps the other",
    patch: {
      metadata: {
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}\n',
        },
      },
      spec: {
        replicas: 3,
        template: {
          spec: {
            "$setElementOrder/containers": [{ name: "web" }, { name: "sidecar" }],
            containers: [{ image: "nginx:1.26", name: "web" }],
          },
        },
      },
    },
    expect: (out) => {
      assert.equal(at(out, "spec.replicas"), 3);
      const containers = at(out, "spec.template.spec.containers") as Json[];
      assert.deepEqual(
        containers.map((c) => at(c, "name")),
        ["web", "sidecar"],
      );
      assert.equal(at(containers[0], "image"), "nginx:1.26");
      assert.deepEqual(at(containers[0], "env"), [
        { name: "A", value: "1" },
        { name: "B", value: "2" },
      ]);
      assert.equal(at(containers[1], "image"), "envoy:1.30");
      assert.ok(
        !JSON.stringify(out).includes("$setElementOrder"),
        "directives never reach the object",
      );
    },
  },
  {
    name: "$setElementOrder reorders containers the patch does not otherwise touch",
    patch: {
      spec: {
        template: {
          spec: { "$setElementOrder/containers": [{ name: "sidecar" }, { name: "web" }] },
        },
      },
    },
    expect: (out) => assert.deepEqual(containerNames(out), ["sidecar", "web"]),
  },
  {
    name: "env merges by name: changed vars update, new vars are added, others stay",
    patch: {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "web",
                env: [
                  { name: "B", value: "20" },
                  { name: "C", value: "3" },
                ],
              },
            ],
          },
        },
      },
    },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.template.spec.containers.0.env"), [
        { name: "A", value: "1" },
        { name: "B", value: "20" },
        { name: "C", value: "3" },
      ]),
  },
  {
    name: "a container new to the list goes first (strategicpatch mergeSortedSlice) and the others stay",
    patch: { spec: { template: { spec: { containers: [{ name: "debug", image: "busybox" }] } } } },
    expect: (out) => assert.deepEqual(containerNames(out), ["debug", "web", "sidecar"]),
  },
  {
    name: "$patch: delete removes one container by name",
    patch: {
      spec: { template: { spec: { containers: [{ name: "sidecar", $patch: "delete" }] } } },
    },
    expect: (out) => assert.deepEqual(containerNames(out), ["web"]),
  },
  {
    name: "$patch: replace as a list element replaces the whole list",
    patch: {
      spec: {
        template: { spec: { containers: [{ $patch: "replace" }, { name: "only", image: "x" }] } },
      },
    },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.template.spec.containers"), [{ name: "only", image: "x" }]),
  },
  {
    name: "$patch: replace in a map replaces the map",
    patch: { spec: { template: { metadata: { labels: { $patch: "replace", app: "api" } } } } },
    expect: (out) => assert.deepEqual(at(out, "spec.template.metadata.labels"), { app: "api" }),
  },
  {
    name: "$patch: delete on a map removes it",
    patch: { spec: { template: { metadata: { labels: { $patch: "delete" } } } } },
    expect: (out) => assert.equal(at(out, "spec.template.metadata.labels"), undefined),
  },
  {
    name: "$patch: merge is the default and changes nothing about merging",
    patch: { spec: { template: { metadata: { labels: { $patch: "merge", env: "prod" } } } } },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.template.metadata.labels"), {
        app: "web",
        tier: "front",
        env: "prod",
      }),
  },
  {
    name: "null deletes a key",
    patch: { spec: { template: { metadata: { labels: { tier: null } } } } },
    expect: (out) => assert.deepEqual(at(out, "spec.template.metadata.labels"), { app: "web" }),
  },
  {
    name: "lists without a merge strategy (args) are replaced",
    patch: { spec: { template: { spec: { containers: [{ name: "web", args: ["--c"] }] } } } },
    expect: (out) => assert.deepEqual(at(out, "spec.template.spec.containers.0.args"), ["--c"]),
  },
  {
    name: "container ports merge by containerPort",
    patch: {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "web",
                ports: [{ containerPort: 80, name: "http" }, { containerPort: 9090 }],
              },
            ],
          },
        },
      },
    },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.template.spec.containers.0.ports"), [
        { containerPort: 80, protocol: "TCP", name: "http" },
        { containerPort: 9090 },
      ]),
  },
  {
    name: "finalizers merge as a union",
    patch: { metadata: { finalizers: ["b", "c"] } },
    expect: (out) => assert.deepEqual(at(out, "metadata.finalizers"), ["a", "b", "c"]),
  },
  {
    name: "a finalizer new to the list goes first, as on a real server",
    patch: { metadata: { finalizers: ["z"] } },
    expect: (out) => assert.deepEqual(at(out, "metadata.finalizers"), ["z", "a", "b"]),
  },
  {
    name: "$deleteFromPrimitiveList removes finalizers",
    patch: { metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] } },
    expect: (out) => assert.deepEqual(at(out, "metadata.finalizers"), ["b"]),
  },
  {
    name: "$retainKeys switches the strategy to Recreate and drops rollingUpdate",
    patch: { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } },
    expect: (out) => assert.deepEqual(at(out, "spec.strategy"), { type: "Recreate" }),
  },
  {
    name: "$retainKeys inside a volume keeps only the named source",
    patch: {
      spec: {
        template: {
          spec: {
            volumes: [
              { name: "data", $retainKeys: ["configMap", "name"], configMap: { name: "cfg" } },
            ],
          },
        },
      },
    },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.template.spec.volumes"), [
        { name: "data", configMap: { name: "cfg" } },
      ]),
  },
  {
    name: "ownerReferences merge by uid",
    target: () => ({ metadata: { name: "rs", ownerReferences: [{ uid: "1", name: "a" }] } }),
    patch: {
      metadata: {
        ownerReferences: [
          { uid: "2", name: "b" },
          { uid: "1", controller: true },
        ],
      },
    },
    expect: (out) =>
      assert.deepEqual(at(out, "metadata.ownerReferences"), [
        { uid: "2", name: "b" },
        { uid: "1", name: "a", controller: true },
      ]),
  },
  {
    name: "status.conditions merge by type",
    target: () => ({
      status: {
        conditions: [
          { type: "Available", status: "True" },
          { type: "Progressing", status: "True" },
        ],
      },
    }),
    patch: { status: { conditions: [{ type: "Available", status: "False" }] } },
    expect: (out) =>
      assert.deepEqual(at(out, "status.conditions"), [
        { type: "Available", status: "False" },
        { type: "Progressing", status: "True" },
      ]),
  },
  {
    name: "Service ports merge by port",
    schema: schemaOf("v1", "Service"),
    target: () => ({
      spec: {
        ports: [
          { name: "http", port: 80, targetPort: 8080 },
          { name: "https", port: 443, targetPort: 8443 },
        ],
      },
    }),
    patch: { spec: { ports: [{ port: 80, targetPort: 9090 }] } },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.ports"), [
        { name: "http", port: 80, targetPort: 9090 },
        { name: "https", port: 443, targetPort: 8443 },
      ]),
  },
  {
    name: "Pod containers merge by name at spec.containers",
    schema: schemaOf("v1", "Pod"),
    target: () => ({
      spec: {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "1" },
        ],
      },
    }),
    patch: { spec: { containers: [{ name: "b", image: "2" }] } },
    expect: (out) =>
      assert.deepEqual(at(out, "spec.containers"), [
        { name: "a", image: "1" },
        { name: "b", image: "2" },
      ]),
  },
  {
    name: "RBAC rules are atomic",
    schema: schemaOf("rbac.authorization.k8s.io/v1", "Role"),
    target: () => ({ rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] }),
    patch: { rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["list"] }] },
    expect: (out) =>
      assert.deepEqual(at(out, "rules"), [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list"] },
      ]),
  },
];

describe("strategic merge patch", () => {
  for (const c of cases) {
    it(c.name, () => {
      const target = (c.target ?? liveDeployment)();
      const before = JSON.stringify(target);
      const patchBefore = JSON.stringify(c.patch);
      c.expect(applyStrategicMergePatch(target, c.patch, c.schema ?? DEPLOYMENT));
      assert.equal(JSON.stringify(target), before, "the target is not mutated");
      assert.equal(JSON.stringify(c.patch), patchBefore, "the patch is not mutated");
    });
  }

  const failures: Array<{ name: string; patch: Json; code: number }> = [
    { name: "a list body is a 400", patch: [{ op: "replace" }], code: 400 },
    {
      name: "$patch: delete without the merge key is a 400",
      patch: { spec: { template: { spec: { containers: [{ $patch: "delete", image: "x" }] } } } },
      code: 400,
    },
    {
      name: "a merge-list element without its merge key is a 400",
      patch: { spec: { template: { spec: { containers: [{ image: "x" }] } } } },
      code: 400,
    },
    {
      name: "a field outside $retainKeys is a 400",
      patch: { spec: { strategy: { $retainKeys: ["type"], type: "Recreate", rollingUpdate: {} } } },
      code: 400,
    },
    { name: "an unknown $patch value is a 400", patch: { spec: { $patch: "explode" } }, code: 400 },
  ];
  for (const f of failures) {
    it(f.name, () => {
      assert.throws(
        () => applyStrategicMergePatch(liveDeployment(), f.patch, DEPLOYMENT),
        (e: unknown) => e instanceof PatchError && e.code === f.code,
      );
    });
  }
});

describe("builtinSmpSchema", () => {
  it("knows the built-in kinds kube-sim serves and nothing else", () => {
    for (const [apiVersion, kind] of [
      ["v1", "Pod"],
      ["apps/v1", "ReplicaSet"],
      ["apps/v1", "StatefulSet"],
      ["apps/v1", "DaemonSet"],
      ["v1", "ConfigMap"],
      ["v1", "Secret"],
      ["v1", "Namespace"],
      ["v1", "ServiceAccount"],
      ["v1", "Event"],
      ["rbac.authorization.k8s.io/v1", "ClusterRoleBinding"],
      ["apiextensions.k8s.io/v1", "CustomResourceDefinition"],
    ] as const) {
      assert.ok(builtinSmpSchema(apiVersion, kind), `${apiVersion} ${kind}`);
    }
    assert.equal(builtinSmpSchema("networking.istio.io/v1", "VirtualService"), undefined);
    assert.equal(builtinSmpSchema("apps/v1beta1", "Deployment"), undefined);
  });

  it("reports the merge keys of the pod template per §3.3", () => {
    const pod = ["spec", "template", "spec"];
    const table: Array<[string[], unknown]> = [
      [[...pod, "containers"], { kind: "merge", key: "name" }],
      [[...pod, "initContainers", "[]", "env"], { kind: "merge", key: "name" }],
      [[...pod, "containers", "[]", "ports"], { kind: "merge", key: "containerPort" }],
      [[...pod, "containers", "[]", "volumeMounts"], { kind: "merge", key: "mountPath" }],
      [[...pod, "containers", "[]", "volumeDevices"], { kind: "merge", key: "devicePath" }],
      [[...pod, "hostAliases"], { kind: "merge", key: "ip" }],
      [[...pod, "topologySpreadConstraints"], { kind: "merge", key: "topologyKey" }],
      [[...pod, "imagePullSecrets"], { kind: "merge", key: "name" }],
      [[...pod, "tolerations"], { kind: "replace" }],
      [[...pod, "containers", "[]", "envFrom"], { kind: "replace" }],
      [["spec", "template", "metadata", "finalizers"], { kind: "set" }],
    ];
    for (const [path, expected] of table)
      assert.deepEqual(DEPLOYMENT.listStrategy(path), expected, path.join("."));
    assert.equal(DEPLOYMENT.retainKeys?.(["spec", "strategy"]), true);
    assert.equal(DEPLOYMENT.retainKeys?.([...pod, "volumes", "[]"]), true);
    assert.equal(DEPLOYMENT.retainKeys?.(["spec"]), false);
  });
});

function at(v: Json | undefined, path: string): Json | undefined {
  let cur = v;
  for (const p of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur) ? cur[Number(p)] : cur[p];
  }
  return cur;
}

function containerNames(out: Json): Json[] {
  return ((at(out, "spec.template.spec.containers") as Json[]) ?? []).map(
    (c) => at(c, "name") ?? null,
  );
}
