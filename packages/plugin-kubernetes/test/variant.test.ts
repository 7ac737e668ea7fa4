import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import type {
  ApplicationConfig,
  K8sResourcePatch,
  KubernetesVariantLabel,
  ReplicasSpec,
} from "@pipecd-ts/config";
import {
  IstioTrafficRouter,
  manifestKey,
  type K8sObject,
  type Manifest,
  applyPatches,
  checkVariantSelector,
  ensurePrimaryLabel,
  findWorkloads,
  generatePrimaryService,
  generateVariantManifests,
  parsePatchPath,
  suffixedName,
  type VariantOptions,
} from "../src/index.js";

const LABEL: KubernetesVariantLabel = {
  key: "pipecd.dev/variant",
  primaryValue: "primary",
  canaryValue: "canary",
  baselineValue: "baseline",
};

const m = (o: K8sObject): Manifest => ({ key: manifestKey(o), obj: o });

function deployment(name: string, replicas: number | undefined, podSpec: object = {}): Manifest {
  return m({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { app: name, "pipecd.dev/variant": "primary" } },
      template: {
        metadata: { labels: { app: name, "pipecd.dev/variant": "primary" } },
        spec: { containers: [{ name: "app", image: `${name}:v1` }], ...podSpec },
      },
    },
  });
}
const configMap = (name: string, data: Record<string, string> = { k: "v" }): Manifest =>
  m({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data });
const secret = (name: string): Manifest =>
  m({ apiVersion: "v1", kind: "Secret", metadata: { name }, stringData: { pw: "x" } });
const service = (name: string, spec: object = {}): Manifest =>
  m({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }], ...spec },
  });

const canary = (over: Partial<VariantOptions> = {}): VariantOptions => ({
  variant: "canary",
  suffix: "canary",
  replicas: undefined,
  variantLabel: LABEL,
  copyConfigs: true,
  createService: false,
  ...over,
});

/** The pod spec of a generated Deployment. */
const podSpec = (d: Manifest): Record<string, unknown> =>
  (d.obj.spec as { template: { spec: Record<string, unknown> } }).template.spec;
/** The spec of a generated Deployment or Service (fields of both, as the tests read them). */
interface TestSpec {
  replicas?: number;
  type?: string;
  clusterIP?: string;
  selector: Record<string, unknown> & { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> } };
}
const spec = (d: Manifest): TestSpec => d.obj.spec as TestSpec;

describe("naming and replicas", () => {
  it("suffixes names (an empty suffix keeps the name)", () => {
    assert.equal(suffixedName("web", "canary"), "web-canary");
    assert.equal(suffixedName("web", ""), "web");
  });

  const cases: [string, ReplicasSpec | undefined, number | undefined, number][] = [
    ["unset → 1", undefined, 3, 1],
    ["0 → default 1", { kind: "number", value: 0 }, 3, 1],
    ["absolute 2", { kind: "number", value: 2 }, 10, 2],
    ["50% of 2 → 1", { kind: "percent", value: 50 }, 2, 1],
    ["10% of 10 → 1", { kind: "percent", value: 10 }, 10, 1],
    ["10% of 2 → ceil(0.2) = 1", { kind: "percent", value: 10 }, 2, 1],
    ["50% of 10 → 5", { kind: "percent", value: 50 }, 10, 5],
    ["no spec.replicas → 1", { kind: "percent", value: 50 }, undefined, 1],
  ];
  for (const [name, replicas, total, want] of cases)
    it(`replicas: ${name}`, () => {
      const set = generateVariantManifests([deployment("web", total)], canary({ replicas }));
      const w = set.manifests.find((x) => x.obj.kind === "Deployment");
      assert.ok(w);
      assert.equal(spec(w).replicas, want);
      assert.equal(set.workloads[0]?.replicas, want);
      assert.equal(set.workloads[0]?.sourceReplicas, total);
    });
});

describe("generateVariantManifests", () => {
  it("renames the workload, recomputes its key and overrides the variant label (primary → canary)", () => {
    const src = deployment("web", 2);
    const before = structuredClone(src.obj);
    const set = generateVariantManifests([src], canary());
    const [w] = set.manifests;
    assert.ok(w);
    assert.equal(w.obj.metadata.name, "web-canary");
    assert.equal(w.key, "apps/v1:Deployment:default:web-canary");
    assert.deepEqual(spec(w).selector.matchLabels, {
      app: "web",
      "pipecd.dev/variant": "canary",
    });
    assert.deepEqual(spec(w).template.metadata.labels, {
      app: "web",
      "pipecd.dev/variant": "canary",
    });
    assert.deepEqual(src.obj, before, "the source manifest is untouched");
  });

  it("adds the label where the workload had no selector labels, with custom label values", () => {
    const d = m({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "api", namespace: "shop" },
      spec: { template: { spec: { containers: [] } } },
    });
    const label = { ...LABEL, key: "track", baselineValue: "base" };
    const set = generateVariantManifests([d], {
      ...canary({ variant: "baseline", suffix: "bl", copyConfigs: false }),
      variantLabel: label,
    });
    const [w] = set.manifests;
    assert.ok(w);
    assert.equal(w.key, "apps/v1:Deployment:shop:api-bl");
    assert.deepEqual(spec(w).selector.matchLabels, { track: "base" });
    assert.deepEqual(spec(w).template.metadata.labels, { track: "base" });
  });

  it("copies every ConfigMap and Secret and rewrites all references to them", () => {
    const pod = {
      volumes: [
        { name: "a", configMap: { name: "cfg" } },
        { name: "b", secret: { secretName: "creds" } },
        { name: "c", configMap: { name: "external" } },
        {
          name: "d",
          projected: {
            sources: [{ configMap: { name: "cfg" } }, { secret: { name: "creds" } }],
          },
        },
      ],
      containers: [
        {
          name: "app",
          image: "web:v2",
          env: [
            { name: "A", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } },
            { name: "B", valueFrom: { secretKeyRef: { name: "creds", key: "pw" } } },
            { name: "C", value: "plain" },
          ],
          envFrom: [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "creds" } }],
        },
      ],
      initContainers: [
        {
          name: "init",
          image: "busybox",
          envFrom: [{ configMapRef: { name: "unused" } }],
          env: [{ name: "D", valueFrom: { secretKeyRef: { name: "creds", key: "pw" } } }],
        },
      ],
    };
    const manifests = [
      configMap("cfg"),
      configMap("unused"),
      secret("creds"),
      deployment("web", 2, pod),
      service("web"),
    ];
    const set = generateVariantManifests(manifests, canary());
    assert.deepEqual(
      set.manifests.map((x) => x.key),
      [
        "v1:ConfigMap:default:cfg-canary",
        "v1:ConfigMap:default:unused-canary",
        "v1:Secret:default:creds-canary",
        "apps/v1:Deployment:default:web-canary",
      ],
    );
    const w = set.manifests[3];
    assert.ok(w);
    const ps = podSpec(w);
    assert.deepEqual(ps.volumes, [
      { name: "a", configMap: { name: "cfg-canary" } },
      { name: "b", secret: { secretName: "creds-canary" } },
      { name: "c", configMap: { name: "external" } },
      {
        name: "d",
        projected: {
          sources: [{ configMap: { name: "cfg-canary" } }, { secret: { name: "creds-canary" } }],
        },
      },
    ]);
    const [app] = ps.containers as { env: unknown[]; envFrom: unknown[] }[];
    assert.deepEqual(app?.env, [
      { name: "A", valueFrom: { configMapKeyRef: { name: "cfg-canary", key: "k" } } },
      { name: "B", valueFrom: { secretKeyRef: { name: "creds-canary", key: "pw" } } },
      { name: "C", value: "plain" },
    ]);
    assert.deepEqual(app?.envFrom, [
      { configMapRef: { name: "cfg-canary" } },
      { secretRef: { name: "creds-canary" } },
    ]);
    assert.deepEqual(ps.initContainers, [
      {
        name: "init",
        image: "busybox",
        envFrom: [{ configMapRef: { name: "unused-canary" } }],
        env: [{ name: "D", valueFrom: { secretKeyRef: { name: "creds-canary", key: "pw" } } }],
      },
    ]);
    // The copies keep the data; the originals are untouched.
    assert.deepEqual(set.manifests[0]?.obj.data, { k: "v" });
    assert.equal(manifests[0]?.obj.metadata.name, "cfg");
  });

  it("baseline does not copy configs: its pods keep the original names", () => {
    const pod = { volumes: [{ name: "a", configMap: { name: "cfg" } }] };
    const set = generateVariantManifests(
      [configMap("cfg"), deployment("web", 4, pod)],
      canary({ variant: "baseline", suffix: "baseline", copyConfigs: false }),
    );
    assert.deepEqual(
      set.manifests.map((x) => x.key),
      ["apps/v1:Deployment:default:web-baseline"],
    );
    assert.deepEqual(podSpec(set.manifests[0]!).volumes, [
      { name: "a", configMap: { name: "cfg" } },
    ]);
    assert.equal(
      spec(set.manifests[0]!).template.metadata.labels["pipecd.dev/variant"],
      "baseline",
    );
  });

  it("createService copies the Service as a ClusterIP selecting the variant, clearing cluster-bound fields", () => {
    const svc = service("web", {
      type: "LoadBalancer",
      clusterIP: "10.0.0.7",
      clusterIPs: ["10.0.0.7"],
      externalIPs: ["1.2.3.4"],
      loadBalancerIP: "5.6.7.8",
      loadBalancerSourceRanges: ["0.0.0.0/0"],
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 30999,
      ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
    });
    const set = generateVariantManifests(
      [deployment("web", 2), svc, service("other")],
      canary({ createService: true, serviceRef: { name: "web" } }),
    );
    const copy = set.manifests[0];
    assert.ok(copy);
    assert.equal(copy.key, "v1:Service:default:web-canary");
    assert.deepEqual(copy.obj.spec, {
      type: "ClusterIP",
      selector: { app: "web", "pipecd.dev/variant": "canary" },
      ports: [{ port: 80, targetPort: 8080 }],
    });
    // Without a name every Service is copied; a headless Service stays headless.
    const all = generateVariantManifests(
      [deployment("web", 2), service("web"), service("h", { clusterIP: "None" })],
      canary({ createService: true }),
    );
    assert.deepEqual(
      all.manifests.filter((x) => x.obj.kind === "Service").map((x) => x.obj.metadata.name),
      ["web-canary", "h-canary"],
    );
    assert.equal(spec(all.manifests[1]!).clusterIP, "None");
    assert.throws(
      () =>
        generateVariantManifests(
          [deployment("web", 2)],
          canary({ createService: true, serviceRef: { name: "nope" } }),
        ),
      /unable to find any service for name="nope"/,
    );
  });

  it("uses spec.workloads and rejects kinds other than Deployment", () => {
    const sts = m({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db" },
      spec: {},
    });
    const ms = [deployment("web", 2), deployment("worker", 2), sts];
    assert.deepEqual(
      findWorkloads(ms, [{ kind: "Deployment", name: "worker" }]).map((x) => x.obj.metadata.name),
      ["worker"],
    );
    assert.deepEqual(
      findWorkloads(ms).map((x) => x.obj.metadata.name),
      ["web", "worker"],
    );
    const set = generateVariantManifests(
      ms,
      canary({ workloads: [{ kind: "Deployment", name: "worker" }], copyConfigs: false }),
    );
    assert.deepEqual(
      set.manifests.map((x) => x.obj.metadata.name),
      ["worker-canary"],
    );
    assert.throws(
      () =>
        generateVariantManifests(ms, canary({ workloads: [{ kind: "StatefulSet", name: "" }] })),
      /unsupported workload kind StatefulSet/,
    );
    assert.throws(
      () => generateVariantManifests([configMap("cfg")], canary()),
      /unable to find any workload manifests for the CANARY variant/,
    );
  });
});

describe("primary helpers", () => {
  it("ensurePrimaryLabel adds variant=primary to workload selector and template labels", () => {
    const d = m({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } } },
      },
    });
    assert.equal(
      checkVariantSelector(d.obj, LABEL.key, "primary"),
      "missing pipecd.dev/variant key in spec.selector.matchLabels",
    );
    ensurePrimaryLabel([d, service("web")], LABEL);
    assert.deepEqual(spec(d).selector.matchLabels, { app: "web", "pipecd.dev/variant": "primary" });
    assert.deepEqual(spec(d).template.metadata.labels, {
      app: "web",
      "pipecd.dev/variant": "primary",
    });
    assert.equal(checkVariantSelector(d.obj, LABEL.key, "primary"), undefined);
    spec(d).template.metadata.labels["pipecd.dev/variant"] = "canary";
    assert.equal(
      checkVariantSelector(d.obj, LABEL.key, "primary"),
      'require primary but got "canary" for pipecd.dev/variant key in spec.template.metadata.labels',
    );
  });

  it("generatePrimaryService copies the named Service selecting primary pods", () => {
    const [s] = generatePrimaryService(
      [deployment("web", 1), service("web", { type: "NodePort" })],
      {
        suffix: "primary",
        variantLabel: LABEL,
        serviceRef: { name: "web" },
      },
    );
    assert.equal(s?.key, "v1:Service:default:web-primary");
    assert.ok(s);
    assert.equal(spec(s).type, "ClusterIP");
    assert.deepEqual(spec(s).selector, { app: "web", "pipecd.dev/variant": "primary" });
  });

  it("finds the VirtualService the primary rollout must not apply", () => {
    const vs = (name: string, apiVersion = "networking.istio.io/v1beta1"): Manifest =>
      m({ apiVersion, kind: "VirtualService", metadata: { name } });
    const ms = [deployment("web", 1), vs("x", "example.com/v1"), vs("a"), vs("b")];
    const routed = (name: string) =>
      new IstioTrafficRouter()
        .routedManifests(ms, {
          trafficRouting: { istio: { virtualService: { name } } },
        } as unknown as ApplicationConfig)
        .map((x) => x.obj.metadata.name);
    assert.deepEqual(routed(""), ["a"]);
    assert.deepEqual(routed("b"), ["b"]);
    assert.deepEqual(routed("zzz"), []);
  });
});

describe("applyPatches (yaml-replace)", () => {
  const patch = (
    kind: string,
    name: string,
    ops: [path: string, value: string][],
    documentRoot = "",
  ): K8sResourcePatch => ({
    target: { kind, name, documentRoot },
    ops: ops.map(([path, value]) => ({ op: "yaml-replace", path, value })),
  });

  it("parses JSONPath-like paths", () => {
    assert.deepEqual(parsePatchPath("$.spec.template.spec.containers[0].image"), [
      "spec",
      "template",
      "spec",
      "containers",
      0,
      "image",
    ]);
    assert.deepEqual(parsePatchPath("$.data['app.yaml']"), ["data", "app.yaml"]);
    assert.deepEqual(parsePatchPath('$.data["a b"].x'), ["data", "a b", "x"]);
    assert.deepEqual(parsePatchPath("$.metadata.'x.y'"), ["metadata", "x.y"]);
    assert.deepEqual(parsePatchPath("$"), []);
    assert.throws(() => parsePatchPath("spec.x"), /must start with "\$"/);
    assert.throws(() => parsePatchPath("$.a[x]"), /expected an index/);
  });

  it("replaces values in the manifest itself, keeping the input unchanged", () => {
    const src = [deployment("web", 2), configMap("cfg", { version: "1.19" })];
    const out = applyPatches(src, [
      patch("Deployment", "web", [
        ["$.spec.template.spec.containers[0].image", "web:v3"],
        ["$.spec.replicas", "5"],
      ]),
      patch("ConfigMap", "cfg", [["$.data.version", "1.20"]]),
    ]);
    assert.equal(podSpec(out[0]!).containers instanceof Array, true);
    assert.equal((podSpec(out[0]!).containers as { image: string }[])[0]?.image, "web:v3");
    assert.equal(spec(out[0]!).replicas, 5, "a number stays a number");
    assert.deepEqual(out[1]?.obj.data, { version: "1.20" }, "a string stays a string");
    assert.equal((podSpec(src[0]!).containers as { image: string }[])[0]?.image, "web:v1");
  });

  it("replaces values inside an embedded YAML document (documentRoot), keeping comments", () => {
    const cfg = configMap("cfg", {
      "config.yaml": "# tuning\nlogLevel: info\nfeatures:\n  - name: a\n    enabled: false\n",
    });
    const [out] = applyPatches(
      [cfg],
      [
        patch(
          "ConfigMap",
          "cfg",
          [
            ["$.logLevel", "debug"],
            ["$.features[0].enabled", "true"],
          ],
          "$.data['config.yaml']",
        ),
      ],
    );
    const text = (out?.obj.data as Record<string, string>)["config.yaml"] ?? "";
    assert.match(text, /^# tuning\n/);
    assert.deepEqual(parseYaml(text), {
      logLevel: "debug",
      features: [{ name: "a", enabled: true }],
    });
  });

  it("replaces values inside an embedded JSON document and keeps it JSON", () => {
    const cfg = configMap("cfg", { config: '{"weight": 1, "name": "x"}' });
    const [out] = applyPatches(
      [cfg],
      [
        patch(
          "ConfigMap",
          "cfg",
          [
            ["$.weight", "9"],
            ["$.name", "canary"],
          ],
          "$.data.config",
        ),
      ],
    );
    assert.equal(
      out?.obj.data && (out.obj.data as Record<string, string>).config,
      '{"weight":9,"name":"canary"}',
    );
  });

  it("errors on an unmatched target, a missing path or a non-string documentRoot", () => {
    const ms = [deployment("web", 2), configMap("cfg")];
    assert.throws(
      () => applyPatches(ms, [patch("Deployment", "nope", [["$.spec.replicas", "1"]])]),
      /no manifest matches the given patch: kind=Deployment, name=nope/,
    );
    assert.throws(
      () => applyPatches(ms, [patch("Deployment", "web", [["$.spec.missing.x", "1"]])]),
      /failed to replace value at path: \$\.spec\.missing\.x \(not found\)/,
    );
    assert.throws(
      () => applyPatches(ms, [patch("ConfigMap", "cfg", [["$.x", "1"]], "$.data.k")]),
      /failed to replace value at path: \$\.x/,
    );
    assert.throws(
      () => applyPatches(ms, [patch("Deployment", "web", [["$.a", "1"]], "$.spec")]),
      /must be a string/,
    );
  });
});
