import {
  loadAnalysisTemplate,
  type AnalysisHttp,
  type AnalysisMetrics,
  type AnalysisTemplate,
} from "@pipecd-ts/config";
import { StageStatus } from "@pipecd-ts/proto";
import {
  checkoutRoot,
  type MetadataScope,
  type StageExecutor,
  type StageInput,
  type StageOptionsOf,
  type StageResult,
} from "@pipecd-ts/plugin-sdk";
import { formatDuration, sleep } from "@pipecd-ts/runtime";
import { evaluateHttp, evaluateMetrics, expectedText, type Verdict } from "./analyzer.js";
import type { MetricsProvider } from "./types.js";

type Options = StageOptionsOf<"ANALYSIS">;

/** Stage-metadata keys of an analysis (all survive a piped restart). */
export const AnalysisMetadataKey = {
  /** When the stage first started (unix ms): the duration counts from there. */
  START: "analysis-start",
  /** `{ "<id>": failures }`. */
  FAILURES: "analysis-failures",
  /** Prefix of `<prefix><id>`: JSON {@link AnalyzerSpec}. */
  SPEC: "analysis-spec.",
  /** Prefix of `<prefix><id>`: JSON {@link Sample}[] (the latest {@link MAX_SAMPLES}). */
  SAMPLES: "analysis-samples.",
} as const;

/** What the UI needs to draw an analyzer: what it queries and the band it expects. */
export interface AnalyzerSpec {
  readonly id: string;
  readonly kind: "metrics" | "http";
  readonly strategy: string;
  readonly provider: string;
  readonly query: string;
  readonly expected: { readonly min?: number; readonly max?: number };
  readonly intervalMs: number;
  readonly failureLimit: number;
}

/** One evaluation as kept with the stage (small: stage metadata is limited to 256 KB). */
export interface Sample {
  /** When it was evaluated (unix ms). */
  readonly t: number;
  readonly outcome: Verdict["outcome"];
  /** Per series: `[min, mean, max]` of the values seen (a single value is all three). */
  readonly series: Partial<Record<keyof Verdict["series"], [number, number, number]>>;
}

/** Samples kept per analyzer: the latest 4 h at one a minute, about 30 KB. */
export const MAX_SAMPLES = 240;

/** What the ANALYSIS executor is built with (the piped wires it once). */
export interface AnalysisExecutorOptions {
  /** The piped's `analysisProviders`, by name. */
  readonly providers: ReadonlyMap<string, MetricsProvider>;
  /**
   * When this app's last successful analysis started (unix ms), for PREVIOUS; undefined on a
   * first deployment.
   */
  readonly previousAnalysisStart?: (
    appId: string,
    signal: AbortSignal,
  ) => Promise<number | undefined>;
}

interface Analyzer {
  readonly id: string;
  readonly intervalMs: number;
  readonly failureLimit: number;
  readonly spec: AnalyzerSpec;
  evaluate(now: number, signal: AbortSignal): Promise<Verdict>;
}

/**
 * ANALYSIS (PipeCD `executor/analysis`, features §2): runs every `metrics[]` and `https[]`
 * entry every `interval` (the first one interval after the start) until `duration` has passed,
 * counting failures; when an entry's failures exceed its `failureLimit` the stage fails with a
 * reason naming the entry, its query and the value. The start time, failure counts and samples
 * live in stage metadata, so a restarted piped resumes with the remaining duration and the
 * failure budget left; the duration counts from the first start (downtime included).
 */
export class AnalysisExecutor implements StageExecutor<Options> {
  constructor(private readonly o: AnalysisExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageResult> {
    const opts = input.stageConfig;
    const meta = input.metadata.stage(input.stage.id);
    const fail = (reason: string): StageResult => {
      input.logger.error(reason);
      return { status: StageStatus.STAGE_FAILURE, reason };
    };
    let analyzers: Analyzer[];
    try {
      analyzers = await this.analyzers(input);
    } catch (err) {
      return fail(`Unable to start the analysis: ${(err as Error).message}`);
    }
    const now = (): number => input.clock.now().getTime();
    const recorded = Number(meta.get(AnalysisMetadataKey.START));
    const start = Number.isFinite(recorded) && recorded > 0 ? recorded : now();
    const failures: Record<string, number> =
      parseJson(meta.get(AnalysisMetadataKey.FAILURES)) ?? {};
    if (!(recorded > 0))
      await meta.put({
        [AnalysisMetadataKey.START]: String(start),
        [AnalysisMetadataKey.FAILURES]: "{}",
        ...Object.fromEntries(
          analyzers.map((a) => [`${AnalysisMetadataKey.SPEC}${a.id}`, JSON.stringify(a.spec)]),
        ),
      });
    const end = start + opts.durationMs;
    const remaining = end - now();
    if (recorded > 0)
      input.logger.info(
        `Resuming the analysis: ${formatDuration(Math.max(0, remaining))} of ${formatDuration(opts.durationMs)} left` +
          (Object.keys(failures).length
            ? `; failures so far: ${Object.entries(failures)
                .map(([k, n]) => `${k} ${n}`)
                .join(", ")}`
            : ""),
      );
    else
      input.logger.info(
        `Analyzing for ${formatDuration(opts.durationMs)} with ${analyzers.length} analyzer(s)`,
      );
    for (const a of analyzers)
      input.logger.info(
        `[${a.id}] every ${formatDuration(a.intervalMs)}: ${a.spec.kind === "http" ? a.spec.query : `${a.spec.strategy} of "${a.spec.query}" on ${a.spec.provider}`}` +
          (a.spec.strategy === "THRESHOLD" && a.spec.kind === "metrics"
            ? ` (expected ${expectedText({ min: a.spec.expected.min, max: a.spec.expected.max })})`
            : "") +
          `, failure limit ${a.failureLimit}`,
      );

    const ac = new AbortController();
    const stop = (): void => ac.abort(input.signal.reason);
    input.signal.addEventListener("abort", stop, { once: true });
    let failed: string | undefined;
    const samples = new Map<string, Sample[]>(
      analyzers.map((a) => [
        a.id,
        parseJson<Sample[]>(meta.get(`${AnalysisMetadataKey.SAMPLES}${a.id}`)) ?? [],
      ]),
    );
    const runOne = async (a: Analyzer): Promise<void> => {
      for (let k = Math.floor((now() - start) / a.intervalMs) + 1; ; k++) {
        const at = start + k * a.intervalMs;
        if (at > end || ac.signal.aborted) return;
        await sleep(at - now(), ac.signal).catch(() => undefined);
        if (ac.signal.aborted) return;
        const v = await a.evaluate(now(), ac.signal);
        if (ac.signal.aborted) return;
        const n = v.outcome === "fail" ? (failures[a.id] ?? 0) + 1 : (failures[a.id] ?? 0);
        if (v.outcome === "fail") failures[a.id] = n;
        const kept = [
          ...(samples.get(a.id) ?? []),
          { t: now(), outcome: v.outcome, series: summarize(v.series) },
        ].slice(-MAX_SAMPLES);
        samples.set(a.id, kept);
        await persist(meta, input, failures, a.id, kept);
        if (v.outcome === "pass") input.logger.success(`[${a.id}] ${v.detail}`);
        else if (v.outcome === "skip") input.logger.info(`[${a.id}] ${v.detail}`);
        else
          input.logger.error(
            `[${a.id}] ${v.detail} (failure ${n}; the limit is ${a.failureLimit})`,
          );
        if (n > a.failureLimit) {
          failed ??= `Analysis failed: ${a.id} exceeded its failure limit (${a.failureLimit}): ${v.detail}`;
          ac.abort();
          return;
        }
        if (v.done) return;
      }
    };
    try {
      await Promise.all(analyzers.map(runOne));
      if (failed) return fail(failed);
      if (input.signal.aborted) return StageStatus.STAGE_CANCELLED; // the scheduler maps the stop reason
      const left = end - now();
      if (left > 0) await sleep(left, input.signal).catch(() => undefined);
      if (input.signal.aborted) return StageStatus.STAGE_CANCELLED;
      input.logger.success("All analyses were successful");
      return StageStatus.STAGE_SUCCESS;
    } finally {
      input.signal.removeEventListener("abort", stop);
    }
  }

  /** The stage's entries, templates resolved, each bound to its provider. */
  private async analyzers(input: StageInput<Options>): Promise<Analyzer[]> {
    const opts = input.stageConfig;
    const needsTemplate = [...opts.metrics, ...opts.https].some((e) => e.template);
    const template: AnalysisTemplate = needsTemplate
      ? await loadAnalysisTemplate(checkoutRoot(input.targetDir))
      : { metrics: {}, https: {} };
    const cfg = input.appConfig;
    const data = {
      App: { Name: input.deployment.applicationName, Env: "" },
      K8s: { Namespace: cfg.input.namespace || "default" },
    };
    const previousStart = opts.metrics.some(
      (m) => resolved(m, template.metrics, "metrics").strategy === "PREVIOUS",
    )
      ? await this.o.previousAnalysisStart?.(input.deployment.applicationId, input.signal)
      : undefined;
    const stageStart = (): number =>
      Number(input.metadata.stage(input.stage.id).get(AnalysisMetadataKey.START));
    const out: Analyzer[] = [];
    opts.metrics.forEach((entry, i) => {
      const m = resolved(entry, template.metrics, "metrics");
      const provider = this.o.providers.get(m.provider);
      if (!provider)
        throw new Error(
          `metrics-${i}: analysis provider "${m.provider}" is not in this piped's analysisProviders` +
            (this.o.providers.size ? ` (${[...this.o.providers.keys()].join(", ")})` : ""),
        );
      const appArgs = entry.template?.appArgs ?? {};
      out.push({
        id: `metrics-${i}`,
        intervalMs: m.intervalMs,
        failureLimit: m.failureLimit,
        spec: {
          id: `metrics-${i}`,
          kind: "metrics",
          strategy: m.strategy,
          provider: m.provider,
          query: m.query,
          expected: {
            ...(m.expected.min === undefined ? {} : { min: m.expected.min }),
            ...(m.expected.max === undefined ? {} : { max: m.expected.max }),
          },
          intervalMs: m.intervalMs,
          failureLimit: m.failureLimit,
        },
        evaluate: (now, signal) =>
          evaluateMetrics(
            m,
            {
              provider,
              data: { ...data, AppCustomArgs: appArgs },
              signal,
              stageStart: stageStart(),
              previousStart,
            },
            now,
          ),
      });
    });
    opts.https.forEach((entry, i) => {
      const h = resolved(entry, template.https, "https");
      out.push({
        id: `http-${i}`,
        intervalMs: h.intervalMs,
        failureLimit: h.failureLimit,
        spec: {
          id: `http-${i}`,
          kind: "http",
          strategy: "HTTP",
          provider: "",
          query: `${h.method} ${h.url} → ${h.expectedCode}`,
          expected: { min: h.expectedCode, max: h.expectedCode },
          intervalMs: h.intervalMs,
          failureLimit: h.failureLimit,
        },
        evaluate: (_now, signal) => evaluateHttp(h, signal),
      });
    });
    return out;
  }
}

/** A stage entry, or the template entry it names (which replaces it, PipeCD §2.2). */
function resolved<T extends AnalysisMetrics | AnalysisHttp>(
  entry: T,
  templates: Readonly<Record<string, T>>,
  kind: string,
): T {
  if (!entry.template) return entry;
  const t = templates[entry.template.name];
  if (!t)
    throw new Error(
      `analysis template ${entry.template.name} not found in the repository's .pipe/ AnalysisTemplate (${kind})`,
    );
  return t;
}

function summarize(series: Verdict["series"]): Sample["series"] {
  const out: Sample["series"] = {};
  for (const [k, values] of Object.entries(series) as [keyof Verdict["series"], number[]][]) {
    if (values.length === 0) continue;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    out[k] = [Math.min(...values), mean, Math.max(...values)];
  }
  return out;
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * Persists the failure counts (what a restart needs) with the analyzer's samples; when that
 * save fails, the counts alone. A save that still fails is said in the stage log: the next
 * evaluation saves the counts again.
 */
async function persist(
  meta: MetadataScope,
  input: StageInput<Options>,
  failures: Record<string, number>,
  id: string,
  samples: Sample[],
): Promise<void> {
  const counts = { [AnalysisMetadataKey.FAILURES]: JSON.stringify(failures) };
  try {
    await meta.put({ ...counts, [`${AnalysisMetadataKey.SAMPLES}${id}`]: JSON.stringify(samples) });
  } catch {
    try {
      await meta.put(counts);
    } catch (err) {
      if (!input.signal.aborted)
        input.logger.info(
          `Could not save the analysis state (saved again with the next evaluation): ${(err as Error).message}`,
        );
    }
  }
}
