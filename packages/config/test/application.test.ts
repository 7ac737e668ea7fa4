import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  DEFAULT_APP_CONFIG_FILE,
  calculateReplicas,
  goRegExp,
  hasStage,
  isApplicationConfigFile,
  loadAnalysisTemplate,
  loadApplicationConfig,
  parseAnalysisTemplate,
  parseApplicationConfig,
  parseDuration,
  trafficPercentages,
  type ApplicationConfig,
  type PipelineStageConfig,
  type ReplicasSpec,
  type StageConfig,
} from "@pipecd-ts/config";
import { TESTDATA, configError, fixture } from "./helpers.js";

const parseFixture = (name: string): ApplicationConfig =>
  parseApplicationConfig(name, fixture(name));

function stageOf<N extends PipelineStageConfig["name"]>(
  cfg: ApplicationConfig,
  index: number,
  name: N,
): StageConfig<N> {
  const s = cfg.pipeline.stages[index];
  assert.ok(s, `stage ${index} exists`);
  assert.equal(s.name, name);
  return s as StageConfig<N>;
}

describe("application config: the seed mesh-istio-canary example", () => {
  const cfg = parseFixture("app-mesh-istio-canary.yaml");

  it("reads name, labels, description and the six stages with default ids", () => {
    assert.equal(cfg.kind, "KubernetesApp");
    assert.equal(cfg.name, "mesh-istio-canary");
    assert.deepEqual(cfg.labels, { env: "example", team: "product" });
    assert.match(cfg.description, /^This app demonstrates how to deploy/);
    assert.deepEqual(
      cfg.pipeline.stages.map((s) => [s.id, s.name]),
      [
        ["stage-0", "K8S_CANARY_ROLLOUT"],
        ["stage-1", "K8S_TRAFFIC_ROUTING"],
        ["stage-2", "WAIT_APPROVAL"],
        ["stage-3", "K8S_PRIMARY_ROLLOUT"],
        ["stage-4", "K8S_TRAFFIC_ROUTING"],
        ["stage-5", "K8S_CANARY_CLEAN"],
      ],
    );
    assert.ok(hasStage(cfg, "K8S_TRAFFIC_ROUTING"));
    assert.ok(!hasStage(cfg, "ANALYSIS"));
  });

  it("types each stage's options and applies PipeCD's defaults", () => {
    const canary = stageOf(cfg, 0, "K8S_CANARY_ROLLOUT");
    assert.deepEqual(canary.with, {
      replicas: { kind: "percent", value: 10 },
      suffix: "canary",
      createService: false,
      patches: [],
    });
    assert.equal(canary.timeoutMs, undefined);
    assert.equal(calculateReplicas(canary.with.replicas, 2), 1);

    assert.deepEqual(trafficPercentages(stageOf(cfg, 1, "K8S_TRAFFIC_ROUTING").with), {
      primary: 90,
      canary: 10,
      baseline: 0,
    });
    assert.deepEqual(stageOf(cfg, 2, "WAIT_APPROVAL").with, {
      timeoutMs: 6 * 3_600_000,
      approvers: [],
      minApproverNum: 1,
      skipOn: { commitMessagePrefixes: [], paths: [] },
    });
    assert.deepEqual(stageOf(cfg, 3, "K8S_PRIMARY_ROLLOUT").with, {
      suffix: "primary",
      createService: false,
      addVariantLabelToSelector: false,
      prune: false,
    });
    assert.deepEqual(trafficPercentages(stageOf(cfg, 4, "K8S_TRAFFIC_ROUTING").with), {
      primary: 100,
      canary: 0,
      baseline: 0,
    });
    assert.deepEqual(stageOf(cfg, 5, "K8S_CANARY_CLEAN").with, {});
  });

  it("applies the spec-level defaults", () => {
    assert.equal(cfg.timeoutMs, 6 * 3_600_000);
    assert.deepEqual(cfg.planner, { alwaysUsePipeline: false, autoRollback: true });
    assert.deepEqual(cfg.commitMatcher, { quickSync: undefined, pipeline: undefined });
    assert.deepEqual(cfg.trigger, {
      onCommit: { disabled: false, paths: [], ignores: [] },
      onCommand: { disabled: false },
      onOutOfSync: { disabled: true, minWindowMs: 5 * 60_000 },
      onChain: { disabled: true },
    });
    assert.equal(cfg.input.autoRollback, true);
    assert.equal(cfg.input.autoCreateNamespace, false);
    assert.deepEqual(cfg.input.manifests, []);
    assert.deepEqual(cfg.quickSync, { addVariantLabelToSelector: false, prune: false });
    assert.deepEqual(cfg.service, { kind: "Service", name: "" });
    assert.deepEqual(cfg.workloads, []);
    assert.deepEqual(cfg.trafficRouting, {
      method: "istio",
      istio: {
        editableRoutes: [],
        host: "mesh-istio-canary.default.svc.cluster.local",
        virtualService: { kind: "VirtualService", name: "" },
      },
    });
    assert.deepEqual(cfg.variantLabel, {
      key: "pipecd.dev/variant",
      primaryValue: "primary",
      canaryValue: "canary",
      baselineValue: "baseline",
    });
  });

  it("is deeply frozen", () => {
    assert.ok(Object.isFrozen(cfg));
    assert.ok(Object.isFrozen(cfg.pipeline.stages));
    assert.ok(Object.isFrozen(cfg.pipeline.stages[0]?.with));
    assert.ok(Object.isFrozen(cfg.trigger.onCommit.paths));
    assert.throws(() => {
      (cfg.labels as Record<string, string>).env = "prod";
    }, TypeError);
  });

  it("loads the same config from disk", async () => {
    const loaded = await loadApplicationConfig(join(TESTDATA, "app-mesh-istio-canary.yaml"));
    assert.deepEqual(loaded, cfg);
  });
});

describe("application config: other valid configs", () => {
  it("parses the legacy .pipe.yaml of the example (no name, 50/50 split)", () => {
    const cfg = parseFixture("app-legacy-pipe.yaml");
    assert.equal(cfg.name, "");
    assert.equal(cfg.pipeline.stages.length, 6);
    assert.deepEqual(trafficPercentages(stageOf(cfg, 1, "K8S_TRAFFIC_ROUTING").with), {
      primary: 50,
      canary: 50,
      baseline: 0,
    });
    assert.equal(cfg.trafficRouting.istio.host, "mesh-istio-canary");
  });

  it("parses a podselector blue/green pipeline with all: canary / all: primary", () => {
    const cfg = parseFixture("app-bluegreen-podselector.yaml");
    assert.equal(cfg.trafficRouting.method, "podselector");
    const routing = stageOf(cfg, 1, "K8S_TRAFFIC_ROUTING");
    assert.equal(routing.with.all, "canary");
    assert.deepEqual(trafficPercentages(routing.with), { primary: 0, canary: 100, baseline: 0 });
    assert.deepEqual(stageOf(cfg, 2, "WAIT_APPROVAL").with, {
      timeoutMs: 30 * 60_000,
      approvers: ["alice", "bob"],
      minApproverNum: 2,
      skipOn: { commitMessagePrefixes: [], paths: [] },
    });
    assert.equal(calculateReplicas(stageOf(cfg, 0, "K8S_CANARY_ROLLOUT").with.replicas, 3), 3);
    assert.equal(cfg.quickSync.addVariantLabelToSelector, true);
  });

  it("reads every field of a fully specified config", () => {
    const cfg = parseFixture("app-full.yaml");
    assert.deepEqual(cfg.planner, { alwaysUsePipeline: true, autoRollback: false });
    assert.equal(cfg.timeoutMs, 2 * 3_600_000);
    assert.ok(goRegExp(cfg.commitMatcher.quickSync ?? "").test("[QUICK] bump"));
    assert.equal(
      goRegExp(cfg.commitMatcher.pipeline ?? "").exec("release: v12")?.groups?.ver,
      "v12",
    );

    const wait = stageOf(cfg, 0, "WAIT");
    assert.equal(wait.id, "wait-a-bit");
    assert.equal(wait.desc, "let caches warm up");
    assert.equal(wait.timeoutMs, 10 * 60_000);
    assert.deepEqual(wait.with, {
      durationMs: 90_000,
      skipOn: { commitMessagePrefixes: ["[skip-wait]"], paths: ["docs/**"] },
    });
    assert.equal(stageOf(cfg, 1, "K8S_BASELINE_ROLLOUT").id, "stage-1");
    assert.deepEqual(stageOf(cfg, 1, "K8S_BASELINE_ROLLOUT").with, {
      replicas: { kind: "number", value: 2 },
      suffix: "base",
      createService: false,
    });
    const canary = stageOf(cfg, 2, "K8S_CANARY_ROLLOUT");
    assert.deepEqual(canary.with.replicas, { kind: "percent", value: 25 });
    // The suffix defaults to the configured variant label value, not the literal "canary".
    assert.equal(canary.with.suffix, "next");
    assert.deepEqual(canary.with.patches, [
      {
        target: { kind: "ConfigMap", name: "config", documentRoot: "$.data.'config.yaml'" },
        ops: [{ op: "yaml-replace", path: "$.feature.enabled", value: "true" }],
      },
    ]);
    assert.deepEqual(trafficPercentages(stageOf(cfg, 3, "K8S_TRAFFIC_ROUTING").with), {
      primary: 80,
      canary: 10,
      baseline: 10,
    });
    const analysis = stageOf(cfg, 4, "ANALYSIS");
    assert.equal(analysis.with.durationMs, 10 * 60_000);
    assert.equal(analysis.with.metrics.length, 1);
    assert.deepEqual(trafficPercentages(stageOf(cfg, 5, "K8S_TRAFFIC_ROUTING").with), {
      primary: 60,
      canary: 20,
      baseline: 20,
    });
    assert.equal(stageOf(cfg, 6, "K8S_PRIMARY_ROLLOUT").with.suffix, "stable");
    assert.deepEqual(cfg.trigger, {
      onCommit: { disabled: false, paths: ["shared/"], ignores: ["docs/"] },
      onCommand: { disabled: true },
      onOutOfSync: { disabled: false, minWindowMs: 10 * 60_000 },
      onChain: { disabled: false },
    });
    assert.deepEqual(cfg.input, {
      manifests: ["deployment.yaml", "service.yaml"],
      namespace: "prod",
      autoRollback: false,
      autoCreateNamespace: true,
      kubectlVersion: "1.29.0",
      kustomizeVersion: "5.0.0",
      helmVersion: "3.14.0",
      kustomizeOptions: { "load-restrictor": "LoadRestrictionsNone" },
      helmChart: {
        gitRemote: "",
        ref: "",
        path: "charts/full",
        repository: "",
        name: "",
        version: "",
      },
      helmOptions: {
        releaseName: "full",
        valueFiles: ["values-prod.yaml"],
        setValues: {},
        setFiles: {},
        apiVersions: [],
        kubeVersion: "",
      },
    });
    assert.deepEqual(cfg.quickSync, { addVariantLabelToSelector: false, prune: true });
    assert.deepEqual(cfg.service, { kind: "Service", name: "full" });
    assert.deepEqual(cfg.workloads, [
      { kind: "Deployment", name: "full" },
      { kind: "Deployment", name: "full-worker" },
    ]);
    assert.deepEqual(cfg.trafficRouting.istio, {
      editableRoutes: ["main"],
      host: "full.prod.svc.cluster.local",
      virtualService: { kind: "VirtualService", name: "full-vs" },
    });
    assert.deepEqual(cfg.variantLabel, {
      key: "example.com/variant",
      primaryValue: "stable",
      canaryValue: "next",
      baselineValue: "base",
    });
    assert.deepEqual(cfg.resourceRoutes, [
      { provider: { name: "config-cluster", labels: {} }, match: { kind: "Ingress", name: "" } },
      { provider: { name: "", labels: { group: "workload" } }, match: undefined },
    ]);
    assert.deepEqual(cfg.postSync, { chain: [{ name: "downstream", kind: "", labels: {} }] });
    assert.deepEqual(cfg.encryption?.decryptionTargets, ["secret.yaml"]);
    assert.deepEqual(cfg.attachment?.targets, ["deployment.yaml"]);
    assert.ok(cfg.notification);
    assert.equal(cfg.eventWatcher.length, 1);
    assert.deepEqual(cfg.driftDetection.ignoreFields, [
      "apps/v1:Deployment:default:full#spec.replicas",
    ]);
    assert.ok(Object.isFrozen(cfg.eventWatcher[0]));
  });

  it("accepts an empty spec: no pipeline means every deployment is a quick sync", () => {
    const cfg = parseApplicationConfig(
      "app.pipecd.yaml",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n",
    );
    assert.deepEqual(cfg.pipeline.stages, []);
    assert.equal(cfg.trafficRouting.method, "podselector");
  });
});

describe("application config: errors list every problem with path and line", () => {
  const cases: {
    file: string;
    issues: [path: string, line: number, message: RegExp][];
  }[] = [
    {
      file: "app-invalid.yaml",
      issues: [
        ["spec.colour", 6, /unknown field/],
        ["spec.timeout", 7, /must be a duration/],
        ["spec.commitMatcher.quickSync", 9, /Invalid regular expression/],
        ["spec.pipeline.stages[0].name", 12, /K8S_SYNC is a predefined stage/],
        ["spec.pipeline.stages[1].name", 13, /ROLLBACK is a predefined stage/],
        ["spec.pipeline.stages[3].with.duration", 20, /must be a duration/],
        ["spec.pipeline.stages[4].id", 22, /duplicate stage id "same" \(also stage 3\)/],
        ["spec.pipeline.stages[4].with.minApproverNum", 25, /must be at least 1, got 0/],
        ["spec.pipeline.stages[5].with.replicas", 28, /must not be negative/],
        ["spec.pipeline.stages[6].with.replicas", 31, /percentage must be 0-100%/],
        ["spec.pipeline.stages[7].with.canary", 35, /percentage must be 0-100, got 120/],
        ["spec.pipeline.stages[8].with.primary", 38, /must be 100, got 90 \+ 20 \+ 0/],
        ["spec.pipeline.stages[9].with", 41, /canary \(60\) \+ baseline \(50\) exceed 100/],
        ["spec.pipeline.stages[10].with.primary", 47, /primary: 10 contradicts all: canary/],
        ["spec.pipeline.stages[11].timeout", 51, /must be a duration/],
        ["spec.trigger.onOutOfSync.minWindow", 54, /must be a duration/],
        ["spec.trafficRouting.istio.host", 55, /istio routing without a host/],
      ],
    },
    {
      file: "app-invalid-kind.yaml",
      issues: [["kind", 2, /kind "TerraformApp" is not supported: only KubernetesApp/]],
    },
    {
      file: "app-invalid-podselector.yaml",
      issues: [["spec.pipeline.stages[1].with", 8, /podselector routing can only send all/]],
    },
  ];
  for (const c of cases) {
    it(`${c.file}: ${c.issues.length} issue(s)`, () => {
      const err = configError(() => parseFixture(c.file));
      const got = err.issues.map((i) => `${i.path} @${i.line}`);
      assert.deepEqual(
        [...got].sort(),
        c.issues.map(([p, l]) => `${p} @${l}`).sort(),
        "the exact set of issues",
      );
      for (const [path, line, message] of c.issues) {
        const issue = err.issues.find((i) => i.path === path);
        assert.match(issue?.message ?? "", message, path);
        assert.ok(err.message.includes(`${c.file}:${line}: ${path}: `), `${path} in the message`);
      }
    });
  }

  const inline: [name: string, yaml: string, path: string, message: RegExp][] = [
    ["non-mapping root", "- a\n- b\n", "", /must be a mapping/],
    ["wrong apiVersion", "apiVersion: v1\nkind: KubernetesApp\n", "apiVersion", /pipecd\.dev/],
    ["missing kind", "apiVersion: pipecd.dev/v1beta1\nspec: {}\n", "kind", /is required/],
    [
      "v1 plugin-style kind",
      "apiVersion: pipecd.dev/v1beta1\nkind: Application\n",
      "kind",
      /"Application" is not supported/,
    ],
    [
      "unknown top-level key",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nmetadata: {}\n",
      "metadata",
      /unknown field/,
    ],
    [
      "stage without a name",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  pipeline:\n    stages:\n      - with: {}\n",
      "spec.pipeline.stages[0].name",
      /is required/,
    ],
    [
      "ANALYSIS without duration",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  pipeline:\n    stages:\n      - name: ANALYSIS\n",
      "spec.pipeline.stages[0].with.duration",
      /is required/,
    ],
    [
      "numeric duration (PipeCD reads it as nanoseconds)",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  timeout: 3600\n",
      "spec.timeout",
      /with a unit/,
    ],
    [
      "non-string label value",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  labels:\n    version: 1.10\n",
      "spec.labels.version",
      /must be a string \(quote it\)/,
    ],
    [
      "reserved stage id",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  pipeline:\n    stages:\n      - id: Rollback\n        name: WAIT\n",
      "spec.pipeline.stages[0].id",
      /reserved/,
    ],
    [
      "unsupported patch op",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  pipeline:\n    stages:\n      - name: K8S_CANARY_ROLLOUT\n        with:\n          patches:\n            - target: {kind: ConfigMap, name: c}\n              ops:\n                - op: json-replace\n                  path: $.a\n",
      "spec.pipeline.stages[0].with.patches[0].ops[0].op",
      /only yaml-replace/,
    ],
    [
      "smi with a traffic routing stage",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  trafficRouting: {method: smi}\n  pipeline:\n    stages:\n      - name: K8S_TRAFFIC_ROUTING\n        with: {all: primary}\n",
      "spec.trafficRouting.method",
      /smi traffic routing is not supported/,
    ],
    [
      "unknown traffic routing method",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  trafficRouting: {method: linkerd}\n",
      "spec.trafficRouting.method",
      /must be one of podselector, istio, smi/,
    ],
    [
      "duplicate keys",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nkind: KubernetesApp\n",
      "",
      /unique/i,
    ],
  ];
  for (const [name, yaml, path, message] of inline) {
    it(`rejects ${name}`, () => {
      const err = configError(() => parseApplicationConfig("app.pipecd.yaml", yaml));
      const issue = err.issues.find((i) => i.path === path);
      assert.ok(issue, `an issue at "${path}", got ${JSON.stringify(err.issues)}`);
      assert.match(issue.message, message);
    });
  }

  it("reports a missing file as InvalidArgument", async () => {
    await assert.rejects(loadApplicationConfig(join(TESTDATA, "nope.yaml")), /cannot read config/);
  });
});

describe("application config: helmChart and helmOptions", () => {
  const app = (input: string) =>
    `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  input:\n${input}`;

  it("reads every chart source and option of PipeCD's InputHelmChart / InputHelmOptions", () => {
    const cfg = parseApplicationConfig(
      "app.pipecd.yaml",
      app(`    helmChart: { repository: oci://ghcr.io/org, name: chart/web, version: 1.2.3 }
    helmOptions:
      valueFiles: [a.yaml, "https://example.com/v.yaml"]
      setValues: { image.tag: v2 }
      setFiles: { cfg: files/c.txt }
      apiVersions: [monitoring.coreos.com/v1]
      kubeVersion: "1.33.0"
`),
    );
    assert.deepEqual(cfg.input.helmChart, {
      gitRemote: "",
      ref: "",
      path: "",
      repository: "oci://ghcr.io/org",
      name: "chart/web",
      version: "1.2.3",
    });
    assert.deepEqual(cfg.input.helmOptions, {
      releaseName: "",
      valueFiles: ["a.yaml", "https://example.com/v.yaml"],
      setValues: { "image.tag": "v2" },
      setFiles: { cfg: "files/c.txt" },
      apiVersions: ["monitoring.coreos.com/v1"],
      kubeVersion: "1.33.0",
    });
  });

  it("refuses a chart without a source, a repository chart without a name, unknown keys and unquoted numbers", () => {
    const err = configError(() =>
      parseApplicationConfig(
        "app.pipecd.yaml",
        app(`    helmChart: { version: 1.0.0, chart: x }
    helmOptions: { setValues: { replicas: 2 } }
`),
      ),
    );
    assert.match(err.message, /spec\.input\.helmChart\.chart: unknown field/);
    assert.match(err.message, /spec\.input\.helmChart: must set path/);
    assert.match(
      err.message,
      /spec\.input\.helmOptions\.setValues\.replicas: must be a string \(quote it\)/,
    );
    const noName = configError(() =>
      parseApplicationConfig("app.pipecd.yaml", app("    helmChart: { repository: stable }\n")),
    );
    assert.match(noName.message, /spec\.input\.helmChart\.name: is required with repository/);
  });
});

describe("application config: ANALYSIS options (PipeCD AnalysisStageOptions)", () => {
  const analysis = (w: string) =>
    parseApplicationConfig(
      "app.pipecd.yaml",
      `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  pipeline:\n    stages:\n      - name: ANALYSIS\n        with:\n${w}`,
    ).pipeline.stages[0];

  it("reads metrics and https entries with PipeCD's defaults", () => {
    const st = analysis(`          duration: 10m
          metrics:
            - provider: prom
              query: rate(errors{variant="{{ .Variant.Name }}"}[1m])
              interval: 1m
              expected: { max: 0.01 }
            - strategy: CANARY_BASELINE
              provider: prom
              query: latency
              interval: 30s
              failureLimit: 2
              deviation: HIGH
              canaryArgs: { pod: web-canary }
            - template: { name: http_error_rate, appArgs: { job: web } }
          https:
            - url: https://web.example.com/healthz
              interval: 1m
              headers: [{ key: Host, value: web }]
`);
    assert.ok(st?.name === "ANALYSIS");
    assert.equal(st.with.durationMs, 600_000);
    assert.deepEqual(st.with.metrics[0], {
      strategy: "THRESHOLD",
      provider: "prom",
      query: 'rate(errors{variant="{{ .Variant.Name }}"}[1m])',
      expected: { min: undefined, max: 0.01 },
      intervalMs: 60_000,
      failureLimit: 0,
      skipOnNoData: false,
      timeoutMs: 30_000,
      deviation: "EITHER",
      canaryArgs: {},
      baselineArgs: {},
      primaryArgs: {},
      template: undefined,
    });
    assert.equal(st.with.metrics[1]?.deviation, "HIGH");
    assert.deepEqual(st.with.metrics[1]?.canaryArgs, { pod: "web-canary" });
    assert.deepEqual(st.with.metrics[2]?.template, {
      name: "http_error_rate",
      appArgs: { job: "web" },
    });
    assert.deepEqual(st.with.https[0], {
      url: "https://web.example.com/healthz",
      method: "GET",
      headers: [{ key: "Host", value: "web" }],
      expectedCode: 200,
      expectedResponse: "",
      intervalMs: 60_000,
      failureLimit: 0,
      skipOnNoData: false,
      timeoutMs: 30_000,
      insecureSkipVerify: false,
      template: undefined,
    });
  });

  it("loads the repository's .pipe/ AnalysisTemplate: the first one in name order; none → empty", async () => {
    const repo = mkdtempSync(join(tmpdir(), "pipe-template-"));
    try {
      assert.deepEqual(await loadAnalysisTemplate(repo), { metrics: {}, https: {} });
      mkdirSync(join(repo, ".pipe"));
      writeFileSync(
        join(repo, ".pipe", "a-watcher.yaml"),
        "apiVersion: pipecd.dev/v1beta1\nkind: EventWatcher\nspec: {}\n",
      );
      writeFileSync(
        join(repo, ".pipe", "b-analysis.yaml"),
        `apiVersion: pipecd.dev/v1beta1
kind: AnalysisTemplate
spec:
  metrics:
    http_error_rate:
      provider: prom
      query: errors{job="{{ .AppCustomArgs.job }}"}
      interval: 1m
      expected: { max: 0 }
  https:
    healthz: { url: "http://web/healthz", interval: 30s }
`,
      );
      const t = await loadAnalysisTemplate(repo);
      assert.equal(t.metrics.http_error_rate?.query, 'errors{job="{{ .AppCustomArgs.job }}"}');
      assert.equal(t.https.healthz?.intervalMs, 30_000);
      assert.throws(
        () =>
          parseAnalysisTemplate(
            "t.yaml",
            "apiVersion: pipecd.dev/v1beta1\nkind: AnalysisTemplate\nspec:\n  metrics:\n    x: { provider: p, query: q, interval: 1m, template: { name: y } }\n",
          ),
        /spec\.metrics\.x\.template: unknown field/,
      );
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it("refuses logs, a THRESHOLD without bounds, unknown strategies and missing fields, naming each", () => {
    const err = configError(() =>
      analysis(`          duration: 1m
          logs: [{ provider: sd, query: x, interval: 1m }]
          metrics:
            - provider: prom
              query: q
              interval: 1m
            - strategy: MEDIAN
              query: q
          https: [{ url: ftp://x, interval: 1m }]
`),
    );
    assert.match(err.message, /with\.logs: log analysis is not supported/);
    assert.match(
      err.message,
      /metrics\[0\]\.expected: needs min or max for the THRESHOLD strategy/,
    );
    assert.match(
      err.message,
      /metrics\[1\]\.strategy: must be one of THRESHOLD, PREVIOUS, CANARY_BASELINE, CANARY_PRIMARY/,
    );
    assert.match(err.message, /metrics\[1\]\.provider: is required/);
    assert.match(err.message, /metrics\[1\]\.interval: is required/);
    assert.match(err.message, /https\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/);
  });
});

describe("application config: warnings (accepted, and the user is told)", () => {
  const app = (spec: string): string =>
    `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n${spec}`;
  const warningsOf = (text: string): string[] =>
    parseApplicationConfig("app.pipecd.yaml", text).warnings.map(
      (w) => `${w.line}: ${w.path}: ${w.message}`,
    );

  it("PipeCD's analysis-with-baseline example loads, with its unknown `threshold` key a warning", () => {
    const text = app(`  name: analysis-with-baseline
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with:
          replicas: 10%
      - name: K8S_BASELINE_ROLLOUT
        with:
          replicas: 10%
      - name: ANALYSIS
        with:
          duration: 10m
          threshold: 2
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_CANARY_CLEAN
      - name: K8S_BASELINE_CLEAN
`);
    const cfg = parseApplicationConfig("app.pipecd.yaml", text);
    assert.equal(cfg.pipeline.stages.length, 6);
    assert.equal(stageOf(cfg, 2, "ANALYSIS").with.durationMs, 600_000);
    assert.deepEqual(warningsOf(text), [
      "16: spec.pipeline.stages[2].with.threshold: unknown field, ignored as PipeCD does in " +
        "pipeline stages (known: duration, restartThreshold, metrics, logs, https, skipOn)",
    ]);
  });

  it("unknown keys at stage level and anywhere inside `with` are warnings, in file order", () => {
    const text = app(`  pipeline:
    stages:
      - name: WAIT_APPROVAL
        approver: alice
        with:
          duration: 1h
          skipOn:
            branches: [main]
      - name: ANALYSIS
        with:
          duration: 1m
          metrics:
            - provider: prom
              query: up
              interval: 1m
              expected: { max: 1, avg: 0.5 }
              weight: 3
      - name: K8S_CANARY_CLEAN
        with:
          force: true
`);
    assert.deepEqual(
      warningsOf(text).map((w) => w.replace(/ \((known: .*|this takes no options)\)$/, "")),
      [
        "7: spec.pipeline.stages[0].approver: unknown field, ignored as PipeCD does in pipeline stages",
        "9: spec.pipeline.stages[0].with.duration: unknown field, ignored as PipeCD does in pipeline stages",
        "11: spec.pipeline.stages[0].with.skipOn.branches: unknown field, ignored as PipeCD does in pipeline stages",
        "19: spec.pipeline.stages[1].with.metrics[0].expected.avg: unknown field, ignored as PipeCD does in pipeline stages",
        "20: spec.pipeline.stages[1].with.metrics[0].weight: unknown field, ignored as PipeCD does in pipeline stages",
        "23: spec.pipeline.stages[2].with.force: unknown field, ignored as PipeCD does in pipeline stages",
      ],
    );
  });

  it("unknown keys elsewhere in spec stay errors, even beside ignored stage keys", () => {
    const err = configError(() =>
      parseApplicationConfig(
        "app.pipecd.yaml",
        app(`  input:
    manifestz: [a.yaml]
  pipeline:
    stages:
      - name: WAIT
        with: { duration: 1s, until: never }
`),
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => i.path),
      ["spec.input.manifestz"],
    );
  });

  it("fields accepted but not implemented yet warn when set to do something (planner.autoRollback and input.autoCreateNamespace are implemented)", () => {
    const text = app(`  input:
    kubectlVersion: 1.30.0
    autoCreateNamespace: true
  trigger:
    onOutOfSync:
      disabled: false
    onChain:
      disabled: true
  planner:
    autoRollback: false
  eventWatcher:
    - matcher: { name: image }
      handler: { type: GIT_UPDATE, config: { replacements: [{ file: a.yaml, regex: "tag: (.*)" }] } }
  notification:
    mentions: [{ event: DEPLOYMENT_FAILED, slack: [U1] }]
  driftDetection: {}
`);
    assert.deepEqual(warningsOf(text), [
      "5: spec.input.kubectlVersion: is not supported yet and has no effect",
    ]);
  });

  it("eventWatcher: GIT_UPDATE replacements need a file inside the app and exactly one of yamlField and regex (with a group)", () => {
    const err = configError(() =>
      parseApplicationConfig(
        "app.pipecd.yaml",
        app(`  eventWatcher:
    - matcher: { name: image, labels: { env: dev } }
      handler:
        type: GIT_UPDATE
        config:
          replacements:
            - { file: ../x.yaml, yamlField: $.a }
            - { file: a.yaml, yamlField: $.a, regex: "(a)" }
            - { file: a.yaml, regex: "no-group" }
            - { file: a.yaml, jsonField: $.a }
            - { file: a.yaml, yamlField: "spec.image" }
`),
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => i.path),
      [
        "spec.eventWatcher[0].handler.config.replacements[0].file",
        "spec.eventWatcher[0].handler.config.replacements[1]",
        "spec.eventWatcher[0].handler.config.replacements[2].regex",
        "spec.eventWatcher[0].handler.config.replacements[3].jsonField",
        "spec.eventWatcher[0].handler.config.replacements[3]",
        "spec.eventWatcher[0].handler.config.replacements[4].yamlField",
      ],
    );
  });

  it("driftDetection.ignoreFields are read, and a value that is not apiVersion:kind:namespace:name#fieldPath is refused naming it", () => {
    const cfg = parseApplicationConfig(
      "app.pipecd.yaml",
      app(`  driftDetection:
    ignoreFields: ["apps/v1:Deployment:default:web#spec.replicas"]
`),
    );
    assert.deepEqual(cfg.driftDetection.ignoreFields, [
      "apps/v1:Deployment:default:web#spec.replicas",
    ]);
    const err = configError(() =>
      parseApplicationConfig(
        "app.pipecd.yaml",
        app(`  driftDetection:
    ignoreFields: ["apps/v1:Deployment:web#spec.replicas", "v1:Service:default:web"]
    ignorFields: []
`),
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => i.path),
      [
        "spec.driftDetection.ignoreFields[0]",
        "spec.driftDetection.ignoreFields[1]",
        "spec.driftDetection.ignorFields",
      ],
    );
    assert.match(err.message, /apiVersion:kind:namespace:name#fieldPath/);
  });

  it("the seed examples have no warnings; the every-field fixture warns once per unimplemented field", () => {
    for (const f of ["app-mesh-istio-canary.yaml", "app-bluegreen-podselector.yaml"])
      assert.deepEqual(parseFixture(f).warnings, [], f);
    assert.deepEqual(
      parseFixture("app-full.yaml").warnings.map((w) => w.path),
      ["spec.input.kubectlVersion", "spec.resourceRoutes"],
    );
  });
});

describe("application config: encryption and attachment (PipeCD §3.4)", () => {
  const app = (spec: string) =>
    parseApplicationConfig(
      "app.pipecd.yaml",
      `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n${spec}`,
    );

  it("reads secrets and targets, sources and targets", () => {
    const cfg = app(`  encryption:
    encryptedSecrets: { password: AQCl }
    decryptionTargets: [secret.yaml]
  attachment:
    sources: { config: config.yaml }
    targets: [deployment.yaml]
`);
    assert.deepEqual(cfg.encryption, {
      encryptedSecrets: { password: "AQCl" },
      decryptionTargets: ["secret.yaml"],
    });
    assert.deepEqual(cfg.attachment, {
      sources: { config: "config.yaml" },
      targets: ["deployment.yaml"],
    });
  });

  it("refuses no targets, absolute targets, empty values and unknown keys, naming each", () => {
    const err = configError(() =>
      app(`  encryption:
    encryptedSecrets: { password: "" }
    decryptionTargets: []
    targets: [x]
  attachment:
    sources: { config: config.yaml }
    targets: [/etc/passwd]
`),
    );
    assert.deepEqual(
      err.issues.map((i) => `${i.path}: ${i.message}`),
      [
        "spec.encryption.encryptedSecrets.password: needs a name and a ciphertext",
        "spec.encryption.decryptionTargets: must list at least one file",
        "spec.encryption.targets: unknown field (known: encryptedSecrets, decryptionTargets)",
        "spec.attachment.targets[0]: must be a path relative to the app directory",
      ],
    );
  });
});

describe("replicas and traffic calculations", () => {
  const pct = (value: number): ReplicasSpec => ({ kind: "percent", value });
  const num = (value: number): ReplicasSpec => ({ kind: "number", value });
  const table: [spec: ReplicasSpec | undefined, total: number | undefined, want: number][] = [
    [pct(10), 2, 1],
    [pct(50), 10, 5],
    [pct(20), 3, 1],
    [pct(100), 3, 3],
    [pct(30), 10, 3],
    [pct(34), 10, 4],
    [undefined, 10, 1],
    [num(0), 10, 1],
    [pct(0), 10, 1],
    [num(3), 10, 3],
    [num(3), undefined, 1],
  ];
  for (const [spec, total, want] of table) {
    it(`${spec ? `${spec.value}${spec.kind === "percent" ? "%" : ""}` : "unset"} of ${total} → ${want}`, () => {
      assert.equal(calculateReplicas(spec, total), want);
    });
  }

  it("uses the given default for an unset spec", () => {
    assert.equal(calculateReplicas(undefined, 10, 2), 2);
  });

  it("parses replicas written as YAML int, 'N%' and quoted 'N'", () => {
    const yaml = (v: string): ApplicationConfig =>
      parseApplicationConfig(
        "app.pipecd.yaml",
        `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  pipeline:\n    stages:\n      - name: K8S_CANARY_ROLLOUT\n        with:\n          replicas: ${v}\n`,
      );
    const replicas = (v: string): ReplicasSpec | undefined =>
      stageOf(yaml(v), 0, "K8S_CANARY_ROLLOUT").with.replicas;
    assert.deepEqual(replicas("3"), { kind: "number", value: 3 });
    assert.deepEqual(replicas("'3'"), { kind: "number", value: 3 });
    assert.deepEqual(replicas("10%"), { kind: "percent", value: 10 });
    assert.deepEqual(replicas('"10%"'), { kind: "percent", value: 10 });
    assert.throws(() => yaml("1.5"), ConfigError);
    assert.throws(() => yaml("ten"), ConfigError);
  });

  it("fills traffic gaps: omitted primary takes the remainder, nothing set is primary 100", () => {
    const t = (o: Partial<Parameters<typeof trafficPercentages>[0]>) =>
      trafficPercentages({
        all: undefined,
        primary: undefined,
        canary: undefined,
        baseline: undefined,
        ...o,
      });
    assert.deepEqual(t({}), { primary: 100, canary: 0, baseline: 0 });
    assert.deepEqual(t({ canary: 10 }), { primary: 90, canary: 10, baseline: 0 });
    assert.deepEqual(t({ canary: 20, baseline: 20 }), { primary: 60, canary: 20, baseline: 20 });
    assert.deepEqual(t({ primary: 90, canary: 10 }), { primary: 90, canary: 10, baseline: 0 });
    assert.deepEqual(t({ all: "baseline" }), { primary: 0, canary: 0, baseline: 100 });
  });
});

describe("durations", () => {
  it("accepts every Go duration unit and fractions, compiled to whole ms", () => {
    assert.equal(parseDuration("1.5h"), 5_400_000);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("2500us"), 3);
    assert.equal(parseDuration("2000000ns"), 2);
    assert.equal(parseDuration("1h-5m"), undefined);
  });

  it("treats a zero duration like an absent one, as PipeCD's defaults do", () => {
    const cfg = parseApplicationConfig(
      "app.pipecd.yaml",
      "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  timeout: 0s\n  pipeline:\n    stages:\n      - name: WAIT\n        with: {duration: 0s}\n",
    );
    assert.equal(cfg.timeoutMs, 6 * 3_600_000);
    assert.equal(stageOf(cfg, 0, "WAIT").with.durationMs, 60_000);
  });
});

describe("application config file names", () => {
  const table: [string, boolean][] = [
    [DEFAULT_APP_CONFIG_FILE, true],
    ["app.pipecd.yaml", true],
    [".pipe.yaml", true],
    ["canary.pipecd.yaml", true],
    ["apps/web/app.pipecd.yaml", true],
    ["apps/web/.pipe.yaml", true],
    ["app.pipecd.yml", false],
    ["pipe.yaml", false],
    ["deployment.yaml", false],
    ["app.pipecd.yaml.bak", false],
  ];
  for (const [name, want] of table) {
    it(`${name} → ${want}`, () => assert.equal(isApplicationConfigFile(name), want));
  }
});
