import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { withSignedInPage } from "./fixtures.js";
import {
  repoRoot,
  startExporter,
  startPrometheus,
  startStack,
  waitForPrometheusValue,
  type DeploymentJson,
  type MetricsExporter,
  type PrometheusServer,
  type Stack,
} from "@pipecd-ts/testkit";

// ANALYSIS end to end (issue 15): real processes (control plane, piped, kube-sim), a real
// Prometheus (Debian's package) scraping an exporter whose values the test sets per variant, and
// a loopback HTTP server. THRESHOLD passes and then fails the canary, an HTTP check fails on
// 503, and a piped SIGKILLed mid-analysis resumes with the remaining duration.

const manifests = (image: string): Record<string, string> => ({
  "web/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: "ghcr.io/pipe-cd/helloworld:${image}" }]
`,
});

const app = (image: string, analysis: string): Record<string, string> => ({
  ...manifests(image),
  "web/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
      - name: ANALYSIS
        with:
${analysis}      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_CANARY_CLEAN
`,
});

// `threshold` is the unknown key of PipeCD's analysis-with-baseline example: ignored, with a warning.
const threshold = (duration: string, unknownKey = false) => `          duration: ${duration}
${unknownKey ? "          threshold: 2\n" : ""}          metrics:
            - provider: prom
              query: app_error_rate{variant="{{ .Variant.Name }}"}
              interval: 1s
              failureLimit: 1
              expected: { max: 0.5 }
`;

describe("ANALYSIS end to end (real Prometheus, real processes)", () => {
  let prom: PrometheusServer;
  let exporter: MetricsExporter;
  let web: Server;
  let webStatus = 200;
  let s: Stack;
  let appId = "";
  /** The deployments the checks below look at again: a passed and a failed analysis. */
  let passed: DeploymentJson | undefined;
  let failed: DeploymentJson | undefined;

  const setRate = async (v: number): Promise<void> => {
    exporter.set("app_error_rate", { variant: "primary" }, v);
    await waitForPrometheusValue(prom.url, 'app_error_rate{variant="primary"}', v, 10_000);
  };
  const done = (commit: string, what: string): Promise<DeploymentJson> =>
    s.waitDeployment(
      appId,
      (d) =>
        d.trigger?.commit?.hash === commit &&
        (d.status === "DEPLOYMENT_SUCCESS" || d.status === "DEPLOYMENT_FAILURE"),
      60_000,
      what,
    );
  const analysisOf = (d: DeploymentJson) => d.stages?.find((st) => st.name === "ANALYSIS");

  before(async () => {
    exporter = await startExporter();
    exporter.set("app_error_rate", { variant: "primary" }, 0.1);
    prom = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: 500 });
    web = createServer((_req, res) => res.writeHead(webStatus).end());
    await new Promise<void>((ok) => web.listen(0, "127.0.0.1", ok));
    s = await startStack({
      readyDelayMs: 50,
      users: [{ username: "watcher", role: "viewer" }],
      pipedSpec: `  analysisProviders:
    - name: prom
      type: PROMETHEUS
      config: { address: ${prom.url} }
`,
    });
    await s.startPiped();
    await setRate(0.1);
    const first = await s.repo.commit(app("v0.1.0", threshold("2s")), "v0.1.0");
    appId = await s.addApp("web", "web");
    const d = await done(first, "first deployment");
    assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
  });
  after(async () => {
    web?.close();
    await s?.close();
    await prom?.close();
    await exporter?.close();
  });

  it("THRESHOLD within range: the analysis passes and the canary is promoted", async () => {
    const c = await s.repo.commit(app("v0.2.0", threshold("2s", true)), "v0.2.0");
    const d = await done(c, "v0.2.0");
    assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
    assert.equal(analysisOf(d)?.status, "STAGE_SUCCESS");
    passed = d;
  });

  it("an unknown key in a stage's `with` is accepted with a warning on the application and in the plan, gone once the key is", async () => {
    const warning = {
      file: "web/app.pipecd.yaml",
      path: "spec.pipeline.stages[1].with.threshold",
      line: 11,
      message:
        "unknown field, ignored as PipeCD does in pipeline stages (known: duration, restartThreshold, metrics, logs, https, skipOn)",
    };
    assert.deepEqual(passed?.configWarnings, [warning], "the plan's warnings");
    const a = (await s.admin.call("getApplication", { params: { id: appId } })).application;
    assert.deepEqual(a.configWarnings, [warning]);
    assert.equal(a.configCommitHash, passed?.trigger?.commit?.hash);
    const get = await s.pipectl(["application", "get", appId]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok(
      get.stdout.includes(
        `Config warnings at commit ${(a.configCommitHash ?? "").slice(0, 7)} (1):\n` +
          `  web/app.pipecd.yaml:11: spec.pipeline.stages[1].with.threshold: unknown field, ignored as PipeCD does`,
      ),
      get.stdout,
    );
    const logs = await s.pipectl(["deployment", "logs", passed?.id ?? ""]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(
      logs.stdout,
      /^== plan: config warnings \(1\):\n {2}web\/app\.pipecd\.yaml:11: spec\.pipeline\.stages\[1\]\.with\.threshold: unknown field/,
    );
  });

  it("THRESHOLD above max: fails within interval × (failureLimit+1) plus a scrape, rolls back, and says which metric", async () => {
    await setRate(0.9);
    try {
      const c = await s.repo.commit(app("v0.3.0", threshold("60s")), "v0.3.0");
      const d = await done(c, "v0.3.0");
      assert.equal(d.status, "DEPLOYMENT_FAILURE");
      const st = analysisOf(d);
      assert.equal(st?.status, "STAGE_FAILURE");
      assert.match(
        st?.statusReason ?? "",
        /metrics-0 exceeded its failure limit \(1\): app_error_rate\{variant="primary"\} = 0\.9/,
      );
      assert.match(d.statusReason ?? "", /metrics-0 exceeded its failure limit/);
      const started = Number(st?.metadata?.["analysis-start"]);
      const ended = Date.parse(String(st?.completedAt ?? ""));
      assert.ok(ended - started < 2 * 1_000 + 500 + 1_000, `failed after ${ended - started} ms`);
      assert.equal(d.stages?.find((x) => x.name === "ROLLBACK")?.status, "STAGE_SUCCESS");
      failed = d;
      assert.deepEqual(d.configWarnings ?? [], []);
      const a = (await s.admin.call("getApplication", { params: { id: appId } })).application;
      assert.deepEqual(a.configWarnings, [], "the fixed config cleared the application's warnings");
    } finally {
      await setRate(0.1);
    }
  });

  it("HTTP: a check against 503 fails the analysis", async () => {
    webStatus = 503;
    try {
      const port = (web.address() as { port: number }).port;
      const c = await s.repo.commit(
        app(
          "v0.4.0",
          `          duration: 30s
          https:
            - url: http://127.0.0.1:${port}/healthz
              interval: 1s
`,
        ),
        "v0.4.0",
      );
      const d = await done(c, "v0.4.0");
      assert.equal(d.status, "DEPLOYMENT_FAILURE");
      assert.match(analysisOf(d)?.statusReason ?? "", /http-0 .*unexpected status code 503/);
    } finally {
      webStatus = 200;
    }
  });

  it("a piped SIGKILLed mid-analysis resumes: the stage's total time stays within 10% of duration", async () => {
    const c = await s.repo.commit(app("v0.5.0", threshold("8s", true)), "v0.5.0");
    // Two evaluations in (their samples are saved in the control plane), the piped dies.
    await s.waitDeployment(
      appId,
      (d) =>
        d.trigger?.commit?.hash === c &&
        analysisOf(d)?.status === "STAGE_RUNNING" &&
        (JSON.parse(analysisOf(d)?.metadata?.["analysis-samples.metrics-0"] ?? "[]") as unknown[])
          .length >= 2,
      60_000,
      "two evaluations of the analysis",
    );
    await s.piped?.kill();
    await s.startPiped();
    const d = await done(c, "v0.5.0 after the restart");
    assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
    const st = analysisOf(d);
    const started = Number(st?.metadata?.["analysis-start"]);
    const took = Date.parse(String(st?.completedAt ?? "")) - started;
    assert.ok(Math.abs(took - 8_000) <= 800, `the analysis took ${took} ms for a duration of 8 s`);
    const samples = JSON.parse(st?.metadata?.["analysis-samples.metrics-0"] ?? "[]") as unknown[];
    assert.ok(samples.length >= 5, `samples from before and after the restart: ${samples.length}`);
  });

  it("pipectl deployment logs shows each query, its values, the expected range and the verdict", async () => {
    const r = await s.pipectl(["deployment", "logs", failed?.id ?? ""]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /\[metrics-0\] every 1s: THRESHOLD of "app_error_rate\{variant="\{\{ \.Variant\.Name \}\}"\}" on prom \(expected value <= 0\.5\)/,
    );
    assert.match(
      r.stdout,
      /\[metrics-0\] app_error_rate\{variant="primary"\} = 0\.9.*outside the expected range \(value <= 0\.5\) \(failure 1; the limit is 1\)/,
    );
    assert.match(r.stdout, /Analysis failed: metrics-0 exceeded its failure limit \(1\)/);
  });

  it("the deployment page charts each analyzer over the stage's time, with the expected band and the failed points; config warnings show on the deployment and the application", async () => {
    await withSignedInPage(s.httpUrl, "watcher", async (page) => {
      const chartOf = async (d: DeploymentJson | undefined) => {
        await page.goto(`${s.httpUrl}/deployments/${encodeURIComponent(d?.id ?? "")}`);
        await page.locator('li[data-stage="ANALYSIS"] button.stage-head').click();
        const chart = page.locator('figure.analysis-chart[data-analyzer="metrics-0"]');
        await chart.waitFor();
        return chart;
      };
      const ok = await chartOf(passed);
      assert.ok(Number(await ok.getAttribute("data-samples")) >= 2, "a sample per evaluation");
      assert.equal(await ok.getAttribute("data-failed"), "0");
      assert.equal(await ok.locator("rect.band").getAttribute("data-max"), "0.5");
      assert.equal(await ok.locator('polyline[data-series="primary"]').count(), 1);
      const bad = await chartOf(failed);
      assert.equal(await bad.getAttribute("data-failed"), "2");
      assert.equal(await bad.locator("circle.failed-point").count(), 2);
      assert.match(
        (await bad.locator("svg").getAttribute("aria-label")) ?? "",
        /metrics-0: 2 evaluation\(s\), 2 failed, expected −∞ … 0\.5/,
      );
      await page.goto(`${s.httpUrl}/deployments/${encodeURIComponent(passed?.id ?? "")}`);
      const planWarnings = page.locator("details.config-warnings");
      await planWarnings.waitFor();
      assert.match(
        await planWarnings.innerText(),
        /1 config warnings in the plan\s+web\/app\.pipecd\.yaml:11: spec\.pipeline\.stages\[1\]\.with\.threshold: unknown field/,
      );
      await page.goto(`${s.httpUrl}/applications`);
      const appWarnings = page.locator('tr[data-app="web"] details.config-warnings');
      await appWarnings.locator("summary").click();
      assert.match(
        await appWarnings.innerText(),
        /1 config warnings at [0-9a-f]{7}\s+web\/app\.pipecd\.yaml:11: spec\.pipeline\.stages\[1\]\.with\.threshold/,
      );
      const artifacts = join(repoRoot(), "test-artifacts");
      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, "analysis-failed.png") });
    });
  });
});
