// PipeCD's `metricsAnalyzer.compare`: is the experiment (canary, or this deployment) off the
// control (baseline, primary, or the previous deployment) in the direction the user cares about?
import { type LocationHypothesis, SamplesEqualError, mannWhitneyUTest } from "./mannwhitney.js";
import type { DataPoint } from "./types.js";

/** Which deviation of the experiment fails the analysis (`deviation` of AnalysisMetrics). */
export type Deviation = "LOW" | "HIGH" | "EITHER";

/** Whether the comparison passed; a failure says why and, when a test ran, its p-value. */
export type CompareResult = { ok: true } | { ok: false; reason: string; p?: number };

/** The significance level: the comparison fails when p ≤ ALPHA. */
export const ALPHA = 0.05;

/**
 * Compares two metric samples with the Mann-Whitney U test. Passes when both are empty, when all
 * values are equal, or when p > 0.05 for the hypothesis that the experiment is lower (`LOW`),
 * higher (`HIGH`) or different (`EITHER`); fails when only one sample is empty.
 */
export function compare(
  experiment: readonly DataPoint[],
  control: readonly DataPoint[],
  deviation: Deviation,
): CompareResult {
  // PipeCD logs "skipped since there was no data point to compare" here and passes.
  if (experiment.length === 0 && control.length === 0) return { ok: true };
  if (experiment.length === 0) return { ok: false, reason: "no data points of Experiment found" };
  if (control.length === 0) return { ok: false, reason: "no data points of Control found" };

  let alt: LocationHypothesis;
  switch (deviation) {
    case "EITHER":
      alt = "two-sided";
      break;
    case "LOW":
      alt = "less";
      break;
    case "HIGH":
      alt = "greater";
      break;
    default:
      // Unreachable for typed callers; config validation rejects other values.
      return { ok: false, reason: `unknown deviation ${JSON.stringify(deviation)} given` };
  }

  let p: number;
  try {
    p = mannWhitneyUTest(
      experiment.map((d) => d.value),
      control.map((d) => d.value),
      alt,
    ).p;
  } catch (err) {
    if (err instanceof SamplesEqualError) return { ok: true };
    return {
      ok: false,
      reason: `failed to perform the Mann-Whitney U test: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (p > ALPHA) return { ok: true };
  return {
    ok: false,
    reason:
      `the difference between Experiment and Control is statistically significant ` +
      `(deviation ${deviation}: Mann-Whitney U test p-value ${formatP(p)} <= ${ALPHA})`,
    p,
  };
}

function formatP(p: number): string {
  return String(Number(p.toPrecision(4)));
}
