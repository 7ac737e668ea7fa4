import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { parseApplicationConfig } from "@pipecd-ts/config";
import type { MetadataScope, StageInput, StageResult } from "@pipecd-ts/plugin-sdk";
import { DeploymentSchema, PipelineStageSchema, StageStatus } from "@pipecd-ts/proto";
import { systemClock } from "@pipecd-ts/runtime";
import {
  startExporter,
  startPrometheus,
  waitForPrometheusValue,
  type MetricsExporter,
  type PrometheusServer,
} from "@pipecd-ts/testkit";
import {
  AnalysisExecutor,
  AnalysisMetadataKey,
  PrometheusProvider,
  type Sample,
} from "../src/index.js";

// The ANALYSIS executor against a real Prometheus (Debian's package) scraping an exporter whose
// values the test sets, and a loopback HTTP server: verdicts, failure limits, the reason naming
// the metric, samples kept in stage metadata, and a resumed analysis.

/** An app config whose one ANALYSIS stage has `with` (YAML, 8-space indented). */
const analysisConfig = (withYaml: string) =>
  parseApplicationConfig(
    "app.pipecd.yaml",
    `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  pipeline:
    stages:
      - name: ANALYSIS
        with:
${withYaml}`,
  );

interface Run {
  result: StageResult;
  logs: string[];
  meta: Record<string, string>;
  ms: number;
}

describe("ANALYSIS against a real Prometheus", () => {
  let prom: PrometheusServer;
  let exporter: MetricsExporter;
  let web: Server;
  let webStatus = 200;
  let executor: AnalysisExecutor;

  /** Runs the stage of `withYaml` with stage metadata `meta` (a resumed run when it has a start). */
  const analyze = async (
    withYaml: string,
    meta: Record<string, string> = {},
    targetDir = process.cwd(),
  ): Promise<Run> => {
    const cfg = analysisConfig(withYaml);
    const stage = cfg.pipeline.stages[0];
    assert.ok(stage?.name === "ANALYSIS");
    const logs: string[] = [];
    const scope: MetadataScope = {
      get: (k) => meta[k],
      all: () => ({ ...meta }),
      put: async (v) => {
        Object.assign(meta, v);
      },
    };
    const input: StageInput<typeof stage.with> = {
      deployment: create(DeploymentSchema, {
        id: "d1",
        applicationId: "app-1",
        applicationName: "web",
      }),
      stage: create(PipelineStageSchema, { id: "analysis", name: "ANALYSIS" }),
      stageConfig: stage.with,
      appConfig: cfg,
      targetDir,
      runningDir: undefined,
      targetCommit: "c2",
      runningCommit: "c1",
      pipedId: "p",
      signal: new AbortController().signal,
      logger: {
        info: (t) => logs.push(`I ${t}`),
        success: (t) => logs.push(`S ${t}`),
        error: (t) => logs.push(`E ${t}`),
      },
      metadata: { shared: scope, stage: () => scope },
      commands: {
        next: () => Promise.reject(new Error("no commands here")),
        ack: async () => {},
      },
      clock: systemClock,
    };
    const t0 = Date.now();
    const result = await executor.execute(input);
    return { result, logs, meta, ms: Date.now() - t0 };
  };
  /** A JSON value of the stage metadata. */
  const metaJson = <T>(r: Run, key: string): T => JSON.parse(r.meta[key] ?? "null") as T;
  const statusOf = (r: StageResult) => (typeof r === "number" ? r : r.status);
  const reasonOf = (r: StageResult) => (typeof r === "number" ? "" : r.reason);

  /** Five pods per variant: `app_error_rate{variant,pod}`. */
  const setRates = (rates: Record<string, number>) => {
    for (const [variant, v] of Object.entries(rates))
      for (let pod = 0; pod < 5; pod++)
        exporter.set("app_error_rate", { variant, pod: `p${pod}` }, v + pod / 1000);
  };

  before(async () => {
    exporter = await startExporter();
    setRates({ primary: 0.1, canary: 0.1, baseline: 0.1 });
    prom = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: 500 });
    web = createServer((_req, res) =>
      res.writeHead(webStatus).end(webStatus === 200 ? "ok: ready" : "down"),
    );
    await new Promise<void>((ok) => web.listen(0, "127.0.0.1", ok));
    executor = new AnalysisExecutor({
      providers: new Map([["prom", new PrometheusProvider({ address: prom.url })]]),
    });
    await waitForPrometheusValue(
      prom.url,
      'app_error_rate{variant="primary",pod="p0"}',
      0.1,
      20_000,
    );
  });
  after(async () => {
    web?.close();
    await prom?.close();
    await exporter?.close();
  });

  const threshold = (failureLimit: number) => `          duration: 2s
          metrics:
            - provider: prom
              query: app_error_rate{variant="{{ .Variant.Name }}"}
              interval: 1s
              failureLimit: ${failureLimit}
              expected: { max: 0.5 }
`;

  it("THRESHOLD: in range for the whole duration → SUCCESS, with each query, value and verdict logged and kept", async () => {
    const r = await analyze(threshold(0));
    assert.equal(statusOf(r.result), StageStatus.STAGE_SUCCESS, r.logs.join("\n"));
    assert.ok(r.ms >= 1_900 && r.ms < 3_500, `took ${r.ms} ms for a 2 s analysis`);
    assert.ok(
      r.logs.some((l) =>
        /^S \[metrics-0\] app_error_rate\{variant="primary"\} = 0\.1, .*0\.101, .*within the expected range \(value <= 0\.5\)/.test(
          l,
        ),
      ),
      r.logs.join("\n"),
    );
    assert.ok(r.logs.includes("S All analyses were successful"));
    const samples = JSON.parse(
      r.meta[`${AnalysisMetadataKey.SAMPLES}metrics-0`] ?? "[]",
    ) as Sample[];
    assert.equal(samples.length, 2, "one sample a second");
    assert.ok(samples.every((s) => s.outcome === "pass"));
    const [min, , max] = samples[0]?.series.primary ?? [];
    assert.equal(min, 0.1);
    assert.ok(Math.abs((max ?? 0) - 0.104) < 1e-9, `max ${max}`);
    assert.deepEqual(
      metaJson<{ expected: unknown }>(r, `${AnalysisMetadataKey.SPEC}metrics-0`).expected,
      {
        max: 0.5,
      },
    );
  });

  it("THRESHOLD: above max fails within interval × (failureLimit+1) plus a scrape, naming the metric and the value", async () => {
    setRates({ primary: 0.9 });
    await waitForPrometheusValue(
      prom.url,
      'app_error_rate{variant="primary",pod="p0"}',
      0.9,
      10_000,
    );
    try {
      const r = await analyze(threshold(1).replace("duration: 2s", "duration: 30s"));
      assert.equal(statusOf(r.result), StageStatus.STAGE_FAILURE);
      assert.ok(r.ms < 2 * 1_000 + 1_500, `failed after ${r.ms} ms`);
      assert.match(
        reasonOf(r.result),
        /^Analysis failed: metrics-0 exceeded its failure limit \(1\): app_error_rate\{variant="primary"\} = 0\.9.*\(value 0\.9\) is outside the expected range \(value <= 0\.5\)/,
      );
      assert.equal(
        metaJson<Record<string, number>>(r, AnalysisMetadataKey.FAILURES)["metrics-0"],
        2,
      );
    } finally {
      setRates({ primary: 0.1 });
    }
  });

  const canaryBaseline = `          duration: 2s
          metrics:
            - strategy: CANARY_BASELINE
              provider: prom
              query: app_error_rate{variant="{{ .Variant.Name }}"}
              interval: 1s
              deviation: HIGH
`;

  it("CANARY_BASELINE: a canary equal to the baseline passes, a clearly worse one fails (Mann-Whitney U)", async () => {
    const same = await analyze(canaryBaseline);
    assert.equal(statusOf(same.result), StageStatus.STAGE_SUCCESS, same.logs.join("\n"));
    setRates({ canary: 0.6 });
    await waitForPrometheusValue(
      prom.url,
      'app_error_rate{variant="canary",pod="p0"}',
      0.6,
      10_000,
    );
    try {
      const worse = await analyze(canaryBaseline);
      assert.equal(statusOf(worse.result), StageStatus.STAGE_FAILURE, worse.logs.join("\n"));
      assert.match(
        reasonOf(worse.result),
        /statistically significant \(deviation HIGH: Mann-Whitney U test p-value/,
      );
      const samples = JSON.parse(
        worse.meta[`${AnalysisMetadataKey.SAMPLES}metrics-0`] ?? "[]",
      ) as Sample[];
      assert.ok(
        (samples[0]?.series.canary?.[0] ?? 0) >= 0.6 && samples[0]?.series.baseline?.[0] === 0.1,
      );
    } finally {
      setRates({ canary: 0.1 });
    }
  });

  it("HTTP: passes against 200 (and the expected text), fails against 503", async () => {
    const http = (port: number) => `          duration: 2s
          https:
            - url: http://127.0.0.1:${port}/healthz
              interval: 1s
              expectedResponse: ready
`;
    const port = (web.address() as { port: number }).port;
    const ok = await analyze(http(port));
    assert.equal(statusOf(ok.result), StageStatus.STAGE_SUCCESS, ok.logs.join("\n"));
    webStatus = 503;
    try {
      const bad = await analyze(http(port));
      assert.equal(statusOf(bad.result), StageStatus.STAGE_FAILURE);
      assert.match(
        reasonOf(bad.result),
        /http-0 .*GET http:\/\/127\.0\.0\.1:\d+\/healthz: unexpected status code 503/,
      );
    } finally {
      webStatus = 200;
    }
  });

  it("resumes: the remaining duration and the failure budget survive a restart", async () => {
    const started = Date.now() - 2_500;
    const r = await analyze(threshold(1).replace("duration: 2s", "duration: 4s"), {
      [AnalysisMetadataKey.START]: String(started),
      [AnalysisMetadataKey.FAILURES]: JSON.stringify({ "metrics-0": 1 }),
    });
    assert.equal(statusOf(r.result), StageStatus.STAGE_SUCCESS, r.logs.join("\n"));
    assert.ok(r.ms < 2_200, `resumed with 1.5 s left, took ${r.ms} ms`);
    assert.match(
      r.logs[0] ?? "",
      /^I Resuming the analysis: 1\.5s of 4s left; failures so far: metrics-0 1$/,
    );
    assert.equal(metaJson<Record<string, number>>(r, AnalysisMetadataKey.FAILURES)["metrics-0"], 1);
  });

  it("uses the repository's .pipe/ AnalysisTemplate, with its appArgs in the query", async () => {
    const repo = await mkdtemp(join(tmpdir(), "analysis-template-"));
    try {
      await mkdir(join(repo, ".git"));
      await mkdir(join(repo, ".pipe"));
      await mkdir(join(repo, "app"));
      await writeFile(
        join(repo, ".pipe", "analysis.yaml"),
        `apiVersion: pipecd.dev/v1beta1
kind: AnalysisTemplate
spec:
  metrics:
    error_rate:
      provider: prom
      query: app_error_rate{variant="{{ .Variant.Name }}",pod="{{ .AppCustomArgs.pod }}"}
      interval: 1s
      expected: { max: 0.5 }
`,
      );
      const r = await analyze(
        `          duration: 1s
          metrics:
            - template: { name: error_rate, appArgs: { pod: p3 } }
`,
        {},
        join(repo, "app"),
      );
      assert.equal(statusOf(r.result), StageStatus.STAGE_SUCCESS, r.logs.join("\n"));
      assert.ok(
        r.logs.some((l) =>
          l.startsWith('S [metrics-0] app_error_rate{variant="primary",pod="p3"} = 0.103'),
        ),
        r.logs.join("\n"),
      );
      const missing = await analyze(
        `          duration: 1s
          metrics:
            - template: { name: nope }
`,
        {},
        join(repo, "app"),
      );
      assert.match(reasonOf(missing.result), /analysis template nope not found/);
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });

  it("PREVIOUS: a first deployment passes at once; later it compares with the same span of the last analysis", async () => {
    const previous = `          duration: 2s
          metrics:
            - strategy: PREVIOUS
              provider: prom
              query: app_error_rate{variant="{{ .Variant.Name }}"}
              interval: 1s
`;
    const first = await analyze(previous);
    assert.equal(statusOf(first.result), StageStatus.STAGE_SUCCESS, first.logs.join("\n"));
    assert.ok(first.logs.some((l) => /this seems to be the first deployment/.test(l)));
    const asked: string[] = [];
    const withHistory = new AnalysisExecutor({
      providers: new Map([["prom", new PrometheusProvider({ address: prom.url })]]),
      previousAnalysisStart: async (appId) => {
        asked.push(appId);
        return Date.now() - 4_000; // the same values were scraped then
      },
    });
    const saved = executor;
    executor = withHistory;
    try {
      const again = await analyze(previous);
      assert.equal(statusOf(again.result), StageStatus.STAGE_SUCCESS, again.logs.join("\n"));
      assert.deepEqual(asked, ["app-1"]);
      assert.ok(
        again.logs.some((l) =>
          /vs previous deployment app_error_rate.*no significant EITHER deviation/.test(l),
        ),
        again.logs.join("\n"),
      );
    } finally {
      executor = saved;
    }
  });

  it("refuses a provider the piped does not have, naming it", async () => {
    const r = await analyze(threshold(0).replace("provider: prom", "provider: nope"));
    assert.equal(statusOf(r.result), StageStatus.STAGE_FAILURE);
    assert.match(
      reasonOf(r.result),
      /analysis provider "nope" is not in this piped's analysisProviders \(prom\)/,
    );
  });
});
