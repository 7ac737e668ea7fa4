import type { AnalysisHttp, AnalysisMetrics } from "@pipecd-ts/config";
import { compare } from "./compare.js";
import { httpCheck } from "./providers/http.js";
import { renderQuery, type QueryData } from "./query.js";
import { NoDataError, type DataPoint, type MetricsProvider, type QueryRange } from "./types.js";

/** A variant whose series a metrics query reads (`{{ .Variant.Name }}`). */
export type SeriesName = "primary" | "canary" | "baseline" | "previous";

/** What one evaluation saw and decided. */
export interface Verdict {
  /** pass, fail (counts as a failure), or skip (no data with `skipOnNoData`: not counted). */
  readonly outcome: "pass" | "fail" | "skip";
  /** One line for the stage log and, on failure, the stage's reason. */
  readonly detail: string;
  /** The values seen, per series (for the stage's samples and the UI chart). */
  readonly series: Partial<Record<SeriesName, number[]>>;
  /** PREVIOUS on a first deployment: nothing to compare, the analyzer is done. */
  readonly done?: boolean;
}

/** What evaluating a metrics entry needs besides the entry. */
export interface MetricsContext {
  readonly provider: MetricsProvider;
  /** The template data without the variant (App, K8s, AppCustomArgs). */
  readonly data: Omit<QueryData, "Variant" | "VariantCustomArgs">;
  readonly signal: AbortSignal;
  /** When the stage started (PREVIOUS shifts the window by the time since then). */
  readonly stageStart: number;
  /** When the app's last successful analysis started; undefined on a first deployment. */
  readonly previousStart: number | undefined;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : String(+v.toPrecision(6)));
const list = (ps: readonly DataPoint[]): string =>
  ps.length > 6
    ? `${ps
        .slice(0, 6)
        .map((p) => fmt(p.value))
        .join(", ")}, … (${ps.length} points)`
    : ps.map((p) => fmt(p.value)).join(", ");

/** The range text of `expected`, e.g. `0 <= value <= 0.2`. */
export function expectedText(e: AnalysisMetrics["expected"]): string {
  if (e.min !== undefined && e.max !== undefined) return `${e.min} <= value <= ${e.max}`;
  if (e.min !== undefined) return `value >= ${e.min}`;
  return `value <= ${e.max ?? ""}`;
}

/**
 * One evaluation of a `metrics[]` entry over the window `[now − interval, now]` (PipeCD
 * `metricsAnalyzer`, features §2.5). No data is a failure unless `skipOnNoData`; a provider
 * error is a failure; THRESHOLD passes on zero points, else every point must be in range;
 * the comparisons use the Mann-Whitney U test.
 */
export async function evaluateMetrics(
  m: AnalysisMetrics,
  ctx: MetricsContext,
  now: number,
): Promise<Verdict> {
  const window: QueryRange = { from: new Date(now - m.intervalMs), to: new Date(now) };
  const args = { primary: m.primaryArgs, canary: m.canaryArgs, baseline: m.baselineArgs };
  const series: Partial<Record<SeriesName, number[]>> = {};
  const run = async (
    variant: "primary" | "canary" | "baseline",
    as: SeriesName,
    range: QueryRange = window,
  ): Promise<{ query: string; points: DataPoint[] }> => {
    const query = renderQuery(m.query, {
      ...ctx.data,
      Variant: { Name: variant },
      VariantCustomArgs: args[variant],
    });
    const points = await ctx.provider.query(query, range, {
      signal: ctx.signal,
      timeoutMs: m.timeoutMs,
    });
    series[as] = points.map((p) => p.value);
    return { query, points };
  };
  try {
    switch (m.strategy) {
      case "THRESHOLD": {
        const { query, points } = await run("primary", "primary");
        if (points.length === 0)
          return {
            outcome: "pass",
            detail: `${query}: no data points, nothing to compare (expected ${expectedText(m.expected)})`,
            series,
          };
        const { min, max } = m.expected;
        const bad = points.find(
          (p) => (min !== undefined && p.value < min) || (max !== undefined && p.value > max),
        );
        if (bad)
          return {
            outcome: "fail",
            detail:
              `${query} = ${list(points)}: the point at ${new Date(bad.timestamp).toISOString()} ` +
              `(value ${fmt(bad.value)}) is outside the expected range (${expectedText(m.expected)})`,
            series,
          };
        return {
          outcome: "pass",
          detail: `${query} = ${list(points)}: within the expected range (${expectedText(m.expected)})`,
          series,
        };
      }
      case "PREVIOUS": {
        const current = await run("primary", "primary");
        if (ctx.previousStart === undefined)
          return {
            outcome: "pass",
            done: true,
            detail:
              "PREVIOUS cannot compare with anything: this seems to be the first deployment " +
              "with an analysis, so it is considered a success",
            series,
          };
        const to = ctx.previousStart + (now - ctx.stageStart);
        const previous = await run("primary", "previous", {
          from: new Date(to - m.intervalMs),
          to: new Date(to),
        });
        return comparison(m, series, current, previous, "previous deployment");
      }
      case "CANARY_BASELINE":
      case "CANARY_PRIMARY": {
        const control = m.strategy === "CANARY_BASELINE" ? "baseline" : "primary";
        const canary = await run("canary", "canary");
        const other = await run(control, control);
        return comparison(m, series, canary, other, control);
      }
    }
  } catch (err) {
    if (err instanceof NoDataError)
      return m.skipOnNoData
        ? { outcome: "skip", detail: `no data (${err.message}); skipped (skipOnNoData)`, series }
        : { outcome: "fail", detail: `no data: ${err.message}`, series };
    return { outcome: "fail", detail: `query failed: ${(err as Error).message}`, series };
  }
}

function comparison(
  m: AnalysisMetrics,
  series: Verdict["series"],
  experiment: { query: string; points: DataPoint[] },
  control: { query: string; points: DataPoint[] },
  controlName: string,
): Verdict {
  const r = compare(experiment.points, control.points, m.deviation);
  const seen =
    `${experiment.query} = ${list(experiment.points) || "(no points)"} vs ${controlName} ` +
    `${control.query} = ${list(control.points) || "(no points)"}`;
  return r.ok
    ? { outcome: "pass", detail: `${seen}: no significant ${m.deviation} deviation`, series }
    : { outcome: "fail", detail: `${seen}: ${r.reason}`, series };
}

/** One evaluation of an `https[]` entry. */
export async function evaluateHttp(h: AnalysisHttp, signal: AbortSignal): Promise<Verdict> {
  const r = await httpCheck({
    url: h.url,
    method: h.method,
    headers: h.headers,
    expectedCode: h.expectedCode,
    timeoutMs: h.timeoutMs,
    insecureSkipVerify: h.insecureSkipVerify,
    expectedResponse: h.expectedResponse,
    signal,
  });
  const series = r.status === undefined ? {} : { primary: [r.status] };
  return r.ok
    ? { outcome: "pass", detail: `${h.method} ${h.url}: ${r.reason}`, series }
    : { outcome: "fail", detail: `${h.method} ${h.url}: ${r.reason}`, series };
}
