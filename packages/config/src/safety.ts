import type { FieldPath, FieldReader } from "./fields.js";

/**
 * Our improvements over PipeCD (DESIGN §8), all on by default. Each has a switch: in the piped
 * config (`spec.safety`, the default for every app the piped deploys) and in the app config
 * (`spec.safety`, overriding the piped's field by field). PipeCD configs have neither key, so
 * they run unchanged with every improvement on.
 */
export interface SafetySettings {
  /**
   * Canary, baseline, primary, sync and rollback wait until each applied Deployment is rolled
   * out and available, and fail on `ProgressDeadlineExceeded` or {@link rolloutTimeoutMs}.
   * Off: the stage ends when the apply returns (PipeCD's behaviour).
   */
  readonly waitForReady: boolean;
  /** How long a stage waits for its Deployments (`rolloutTimeout`, default 10m). */
  readonly rolloutTimeoutMs: number;
  /**
   * Traffic routing validates the weights before writing (integers ≥ 0, each route sums to
   * 100), refuses to send traffic to a variant with no available pods, and reads the routing
   * resource back after writing (a mismatch fails the stage). Off: written as computed, unchecked.
   */
  readonly verifyTraffic: boolean;
  /**
   * A split keeps the destination's other fields (`port`…) on the variant destinations.
   * Off: variant destinations carry only host and subset (PipeCD drops the port).
   */
  readonly keepDestinationFields: boolean;
  /**
   * Rollback also deletes the resources that only the failed commit added (PipeCD #1972).
   * Off: they are left in place (and the rollback log lists them).
   */
  readonly rollbackPrune: boolean;
  /** The Rollback stage's own deadline (`rollbackTimeout`, default 15m); it survives restarts. */
  readonly rollbackTimeoutMs: number;
}

export const DEFAULT_SAFETY: SafetySettings = Object.freeze({
  waitForReady: true,
  rolloutTimeoutMs: 10 * 60_000,
  verifyTraffic: true,
  keepDestinationFields: true,
  rollbackPrune: true,
  rollbackTimeoutMs: 15 * 60_000,
});

const BOOL_KEYS = [
  "waitForReady",
  "verifyTraffic",
  "keepDestinationFields",
  "rollbackPrune",
] as const;
const DURATION_KEYS = {
  rolloutTimeout: "rolloutTimeoutMs",
  rollbackTimeout: "rollbackTimeoutMs",
} as const;

/** `spec.safety`: only the fields that are set (absent keys inherit). */
export function readSafety(r: FieldReader, p: FieldPath, v: unknown): Partial<SafetySettings> {
  const m = r.map(p, v);
  if (!m) return {};
  r.keys(p, m, [...BOOL_KEYS, ...Object.keys(DURATION_KEYS)]);
  const out: { -readonly [K in keyof SafetySettings]?: SafetySettings[K] } = {};
  for (const k of BOOL_KEYS)
    if (m[k] !== undefined && m[k] !== null) out[k] = r.bool([...p, k], m[k], DEFAULT_SAFETY[k]);
  for (const [k, field] of Object.entries(DURATION_KEYS) as [
    keyof typeof DURATION_KEYS,
    (typeof DURATION_KEYS)[keyof typeof DURATION_KEYS],
  ][]) {
    const ms = r.optionalDurationMs([...p, k], m[k]);
    if (ms !== undefined) out[field] = ms;
  }
  return out;
}

/** The settings one deployment runs with: the app's fields over the piped's over the defaults. */
export function resolveSafety(
  piped: Partial<SafetySettings> | undefined,
  app: Partial<SafetySettings> | undefined,
): SafetySettings {
  return { ...DEFAULT_SAFETY, ...piped, ...app };
}
