// The Mann-Whitney U test as PipeCD's ANALYSIS stage runs it (`executor/analysis/mannwhitney`,
// a copy of Go's golang.org/x/perf/internal/stats). Reimplemented from the published methods,
// keeping Go's choices of statistic, exact/normal switch-over and tail conventions, so a p-value
// here is the p-value PipeCD would compute.
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/**
 * The alternative hypothesis about the location of the first sample: it differs from the
 * second (two-tailed), or is less / greater than it (one-tailed).
 */
export type LocationHypothesis = "two-sided" | "less" | "greater";

/** The outcome of {@link mannWhitneyUTest}: U₁ of the first sample and the p-value. */
export interface MannWhitneyResult {
  /** Pairs with the first sample's value greater, plus half the tied pairs; in `[0, n₁n₂]`. */
  readonly u: number;
  readonly p: number;
}

/**
 * Thrown by {@link mannWhitneyUTest} when every value of both samples is the same, so the test
 * is meaningless (Go `ErrSamplesEqual`; PipeCD's `compare` treats it as a pass).
 */
export class SamplesEqualError extends Error {
  constructor() {
    super("all samples are equal");
    this.name = "SamplesEqualError";
  }
}

/** Largest sample size for the exact distribution when there are no ties (Go `MannWhitneyExactLimit`). */
const EXACT_LIMIT = 50;
/** Largest sample size for the exact distribution when there are ties (Go `MannWhitneyTiesExactLimit`). */
const TIES_EXACT_LIMIT = 25;

/**
 * Mann-Whitney U test of `x` against `y`. Uses the exact distribution of U (with ties, Klotz's)
 * while both samples are small (≤ 50 values each without ties, ≤ 25 with), otherwise the normal
 * approximation with tie and continuity corrections. Throws {@link SamplesEqualError} when all
 * values are equal, and `InvalidArgumentError` for an empty sample or a NaN.
 */
export function mannWhitneyUTest(
  x: readonly number[],
  y: readonly number[],
  alt: LocationHypothesis,
): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new InvalidArgumentError("sample is too small");
  if (x.some(Number.isNaN) || y.some(Number.isNaN)) {
    // Go sorts NaNs first and never ties them; a NaN metric is garbage either way.
    throw new InvalidArgumentError("sample contains NaN");
  }

  const { u1, ties } = rankSum(x, y);
  if (ties.length === 1) throw new SamplesEqualError();
  const hasTies = ties.some((t) => t > 1);
  const limit = hasTies ? TIES_EXACT_LIMIT : EXACT_LIMIT;
  const u2 = n1 * n2 - u1;

  if (n1 <= limit && n2 <= limit) {
    const dist = uDistribution(n1, n2, ties);
    switch (alt) {
      case "two-sided":
        // Go doubles CDF(min(U₁, U₂)); with asymmetric ties that can pass 1, so cap it.
        // U₁ = U₂ is the centre: doubling would count its mass twice, the honest answer is 1.
        return { u: u1, p: u1 === u2 ? 1 : Math.min(1, 2 * dist.cdf(Math.min(u1, u2))) };
      case "less":
        return { u: u1, p: dist.cdf(u1) };
      case "greater":
        // Go: 1 − CDF(U₁ − 1). Summing the upper tail directly avoids the cancellation.
        return { u: u1, p: dist.sf(u1 - 1) };
    }
  }

  const n = n1 + n2;
  const tieTerm = ties.reduce((s, t) => s + (t * t * t - t), 0);
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt((n1 * n2 * (n + 1 - tieTerm / (n * (n - 1)))) / 12);
  if (sd === 0) throw new SamplesEqualError();
  const d = u1 - mean;
  switch (alt) {
    case "two-sided":
      return { u: u1, p: 2 * normalCdf(-Math.abs(d - Math.sign(d) * 0.5) / sd) };
    case "less":
      return { u: u1, p: normalCdf((d + 0.5) / sd) };
    case "greater":
      return { u: u1, p: normalCdf(-(d - 0.5) / sd) };
  }
}

/** U₁ from average ranks, and the sizes of the groups of equal values in ascending order. */
function rankSum(x: readonly number[], y: readonly number[]): { u1: number; ties: number[] } {
  const all = [...x.map((v) => ({ v, first: true })), ...y.map((v) => ({ v, first: false }))].sort(
    (a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0),
  );
  let r1 = 0;
  const ties: number[] = [];
  for (let i = 0; i < all.length;) {
    const start = i;
    const v = all[i]!.v;
    let inFirst = 0;
    for (; i < all.length && all[i]!.v === v; i++) if (all[i]!.first) inFirst++;
    // Ranks start+1 … i share their average.
    r1 += (inFirst * (start + 1 + i)) / 2;
    ties.push(i - start);
  }
  return { u1: r1 - (x.length * (x.length + 1)) / 2, ties };
}

/** The exact null distribution of U₁ for fixed sample sizes and tie groups. */
export interface UDistribution {
  /** P(U₁ = u); `u` is a multiple of 0.5. */
  pmf(u: number): number;
  /** P(U₁ ≤ u), with `u` rounded down to a multiple of 0.5 (Go `UDist.CDF`). */
  cdf(u: number): number;
  /** P(U₁ > u) = 1 − cdf(u), summed directly. */
  sf(u: number): number;
}

/**
 * The exact distribution of U₁ when a sample of `n1` and one of `n2` are drawn without
 * replacement from values whose equal-value groups have sizes `ties` (ascending order; omitted
 * means no ties). Used for small samples by {@link mannWhitneyUTest}.
 */
export function uDistribution(
  n1: number,
  n2: number,
  ties: readonly number[] = Array.from({ length: n1 + n2 }, () => 1),
): UDistribution {
  if (ties.reduce((s, t) => s + t, 0) !== n1 + n2 || ties.some((t) => !(t >= 1))) {
    throw new InvalidArgumentError(`tie groups ${JSON.stringify(ties)} do not sum to ${n1 + n2}`);
  }
  const counts = tieCounts(n1, n2, ties);
  const total = counts.reduce((s, c) => s + c, 0);
  const max = counts.length - 1; // 2·n₁n₂
  const below = (twoU: number): number => {
    let s = 0;
    for (let v = 0; v <= twoU; v++) s += counts[v]!;
    return s;
  };
  const above = (twoU: number): number => {
    let s = 0;
    for (let v = max; v > twoU; v--) s += counts[v]!;
    return s;
  };
  return {
    pmf: (u) => {
      const twoU = 2 * u;
      return Number.isInteger(twoU) && twoU >= 0 && twoU <= max ? counts[twoU]! / total : 0;
    },
    cdf: (u) => (u < 0 ? 0 : u >= n1 * n2 ? 1 : below(Math.floor(2 * u)) / total),
    sf: (u) => (u < 0 ? 1 : u >= n1 * n2 ? 0 : above(Math.floor(2 * u)) / total),
  };
}

/**
 * counts[2U] = how many of the C(n₁+n₂, n₁) ways to pick the first sample's ranks give U₁ = U.
 *
 * This is the recurrence of Klotz (1966), "The Wilcoxon, Ties, and the Computer", which
 * Cheung & Klotz (1997) evaluate top-down with linked lists and Go with maps: walk the tie
 * groups in ascending order; choosing r of a group of t for the first sample, when j first-sample
 * values lie below it among s values, adds r·(s − j) pairs won outright and r·(t − r) tied pairs
 * (half each), in C(t, r) ways. Here it runs bottom-up over every (j, 2U) state, which for Go's
 * size limits (n ≤ 25 with ties, ≤ 50 without) is a few million additions. Without ties the
 * recurrence reduces to Mann & Whitney's (1947).
 */
function tieCounts(n1: number, n2: number, ties: readonly number[]): number[] {
  // Without ties every 2U is even: index by U and halve the work.
  const step = ties.every((t) => t === 1) ? 2 : 1;
  const size = (2 * n1 * n2) / step + 1;
  // table[j][2U / step]: ways to place j first-sample values among the groups seen so far.
  // Updated in place, j descending, so each row still holds its old value when read.
  const table = Array.from({ length: n1 + 1 }, () => new Float64Array(size));
  table[0]![0] = 1;
  let seen = 0;
  for (const t of ties) {
    for (let j = Math.min(n1, seen + t); j >= 1; j--) {
      const out = table[j]!;
      for (let r = 1; r <= Math.min(t, j); r++) {
        const src = j - r; // first-sample values below this group
        if (src > seen) continue;
        const row = table[src]!;
        const ways = binomial(t, r);
        // r values beat the seen − src earlier second-sample values and tie the t − r others.
        const shift = (r * (2 * (seen - src) + (t - r))) / step;
        // 2U so far is at most 2·src·(seen − src).
        const hi = (2 * src * (seen - src)) / step;
        for (let v = 0; v <= hi; v++) out[v + shift]! += row[v]! * ways;
      }
    }
    seen += t;
  }
  const counts = new Array<number>(2 * n1 * n2 + 1).fill(0);
  table[n1]!.forEach((c, k) => (counts[k * step] = c));
  return counts;
}

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/** Φ(z), the standard normal CDF (Go `StdNormal.CDF` = erfc(−z/√2)/2). */
function normalCdf(z: number): number {
  return erfc(-z / Math.SQRT2) / 2;
}

/**
 * erfc to about 1e-15 relative: the all-positive series for erf below 2 (no cancellation, the
 * subtraction 1 − erf costs at most ~1e-14 relative there), the Laplace continued fraction above.
 */
function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // erf(x) = 2/√π · e^(−x²) · Σ (2x²)ⁿ x / (1·3·…·(2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; term > sum * 1e-17; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  if (x > 27) return 0; // e^(−729) underflows
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated backwards.
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
