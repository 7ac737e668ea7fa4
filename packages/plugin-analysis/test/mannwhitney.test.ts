import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { compare } from "../src/compare.js";
import {
  type LocationHypothesis,
  SamplesEqualError,
  mannWhitneyUTest,
  uDistribution,
} from "../src/mannwhitney.js";
import type { DataPoint } from "../src/types.js";

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: got ${actual}, want ${expected} (±${tol})`,
  );
}

/** Checks U₁ and the p-value of all three alternatives, in Go perf's `check3` order. */
function check3(
  x: number[],
  y: number[],
  u: number,
  [pLess, pTwoSided, pGreater]: [number, number, number],
  tol: number,
): void {
  const want: [LocationHypothesis, number][] = [
    ["less", pLess],
    ["two-sided", pTwoSided],
    ["greater", pGreater],
  ];
  for (const [alt, p] of want) {
    const got = mannWhitneyUTest(x, y, alt);
    assert.equal(got.u, u, `U for ${alt}`);
    assertClose(got.p, p, tol, `p for ${alt}`);
  }
}

const range = (n: number, f: (i: number) => number): number[] =>
  Array.from({ length: n }, (_, i) => f(i));

describe("mannWhitneyUTest on Go perf's own test vectors (golang.org/x/perf stats, copied by PipeCD)", () => {
  const s1 = [2, 1, 3, 5];
  const s2 = [12, 11, 13, 15];
  const s3 = [0, 4, 6, 7]; // interleaved with s1, no ties
  const s4 = [2, 2, 2, 2];
  const s5 = [1, 1, 1, 1, 1];

  it("gives exact p-values for small samples without ties", () => {
    check3(s1, s2, 0, [0.014285714285714289, 0.028571428571428577, 1], 1e-12);
    check3(s2, s1, 16, [1, 0.028571428571428577, 0.014285714285714289], 1e-12);
    check3(s1, s3, 5, [0.24285714285714288, 0.48571428571428577, 0.8285714285714285], 1e-12);
  });

  it("gives exact p-values for small samples with ties, Go's quirks included", () => {
    check3(s1, s1, 8, [0.6285714285714286, 1, 0.6285714285714286], 1e-12);
    check3(s1, s4, 10, [0.8571428571428571, 0.7142857142857143, 0.3571428571428571], 1e-12);
    // Two-sided doubles CDF(min(U₁, U₂)) = CDF(2.5), which the tie structure makes 0.
    check3(s1, s5, 17.5, [1, 0, 0.04761904761904767], 1e-12);
  });

  it("uses the normal approximation with tie and continuity correction for large samples", () => {
    const l1 = range(500, (i) => i * 2);
    const l2 = range(600, (i) => i * 2 - 41);
    const l3 = [...l2];
    for (let i = 0; i < 30; i++) l3[i] = l1[i]!;
    check3(
      l1,
      l2,
      135250,
      [0.0024667680407086112, 0.0049335360814172224, 0.9975346930458906],
      1e-12,
    );
    check3(l1, l1, 125000, [0.5000436801680628, 1, 0.5000436801680628], 1e-12);
    check3(
      l1,
      l3,
      134845,
      [0.0019351907119808942, 0.0038703814239617884, 0.9980659818257166],
      1e-12,
    );
  });

  it("refuses samples whose values are all equal", () => {
    assert.throws(() => mannWhitneyUTest(s4, s4, "two-sided"), SamplesEqualError);
  });
});

describe("mannWhitneyUTest against R's wilcox.test and scipy", () => {
  it("matches R's exact example (Hollander & Wolfe 1973, p. 69: W = 35, p = 0.1272 for 'greater')", () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    // Exact values: scipy mannwhitneyu(method="exact") and an exact rational enumeration agree.
    check3(x, y, 35, [0.8967698967698968, 0.2544122544122544, 0.1272061272061272], 1e-12);
  });

  it("stays exact without ties up to 50 values per sample", () => {
    const x = range(50, (i) => 2 * i);
    const y = range(50, (i) => 2 * i + 7);
    // Exact rational enumeration; scipy's exact method agrees to 1e-14.
    check3(x, y, 1081, [0.12329020923184462, 0.24658041846368925, 0.8781119058785695], 1e-12);
  });

  it("switches to the normal approximation without ties above 50 values", () => {
    const x = range(51, (i) => 2 * i);
    const y = range(50, (i) => 2 * i + 7);
    // scipy mannwhitneyu(method="asymptotic", use_continuity=True) = R wilcox.test(exact=FALSE).
    // (The exact p-values would be 0.16058, 0.32116, 0.84107.)
    check3(x, y, 1128, [0.15984863720618359, 0.31969727441236717, 0.8417974183113567], 1e-12);
  });

  it("stays exact with ties up to 25 values per sample", () => {
    const x = range(25, (i) => (i * 7) % 11);
    const y = range(25, (i) => (i * 5 + 3) % 13);
    // Exact rational enumeration of subset sums of mid-ranks (Python fractions).
    // (The normal approximation would give 0.18009, 0.36017, 0.82498.)
    check3(x, y, 265, [0.181812572662251, 0.363625145324502, 0.8251182434119083], 1e-12);
  });

  it("switches to the normal approximation with ties above 25 values", () => {
    const x = range(26, (i) => (i * 7) % 11);
    const y = range(25, (i) => (i * 5 + 3) % 13);
    // scipy asymptotic with continuity correction (tie-corrected σ); exact would be 0.23554 …
    check3(x, y, 286, [0.2333322452833898, 0.4666644905667796, 0.7724150293172791], 1e-12);
  });

  it("gives exact p-values for a small tied sample that is clearly lower", () => {
    // Exact rational enumeration.
    check3(
      [1, 2, 2, 3, 3, 3, 4],
      [3, 4, 4, 5, 5, 6],
      3.5,
      [0.007575757575757576, 0.015151515151515152, 0.9994172494172494],
      1e-12,
    );
    check3(
      range(20, (i) => (i * 3) % 7),
      range(22, (i) => ((i * 3) % 7) + 2),
      117.5,
      [0.004199302971946548, 0.008398605943893096, 0.9961224847385033],
      1e-12,
    );
  });
});

describe("mannWhitneyUTest edge cases", () => {
  it("caps the two-sided p-value at 1 where Go's doubled tail would exceed it", () => {
    // Go reports 2·CDF(0.5) = 4/3 here.
    assert.deepEqual(mannWhitneyUTest([1, 2], [2], "two-sided"), { u: 0.5, p: 1 });
  });

  it("refuses all-equal samples in the normal approximation too", () => {
    assert.throws(
      () =>
        mannWhitneyUTest(
          range(60, () => 3),
          range(40, () => 3),
          "less",
        ),
      SamplesEqualError,
    );
  });

  it("refuses an empty sample and NaN values", () => {
    assert.throws(() => mannWhitneyUTest([], [1], "two-sided"), InvalidArgumentError);
    assert.throws(() => mannWhitneyUTest([1, NaN], [1, 2], "two-sided"), InvalidArgumentError);
  });

  it("does not depend on input order nor modify the inputs", () => {
    const x = [5, 1, 3, 3];
    const y = [2, 3, 4, 0, 6];
    const sorted = mannWhitneyUTest([1, 3, 3, 5], [0, 2, 3, 4, 6], "greater");
    assert.deepEqual(mannWhitneyUTest(x, y, "greater"), sorted);
    assert.deepEqual(x, [5, 1, 3, 3]);
    assert.deepEqual(y, [2, 3, 4, 0, 6]);
  });
});

describe("uDistribution, the exact null distribution of U", () => {
  // Mann & Whitney (1947) tables, as in Go perf's TestUDist: rows U = 0…5, columns m = 1…n.
  const udist3 = [
    [0.25, 0.1, 0.05],
    [0.5, 0.2, 0.1],
    [0.75, 0.4, 0.2],
    [1.0, 0.6, 0.35],
    [1.0, 0.8, 0.5],
    [1.0, 0.9, 0.65],
  ];
  const udist5 = [
    [0.166667, 0.047619, 0.017857, 0.007937, 0.003968],
    [0.333333, 0.095238, 0.035714, 0.015873, 0.007937],
    [0.5, 0.190476, 0.071429, 0.031746, 0.015873],
    [0.666667, 0.285714, 0.125, 0.055556, 0.027778],
    [0.833333, 0.428571, 0.196429, 0.095238, 0.047619],
    [1.0, 0.571429, 0.285714, 0.142857, 0.075397],
  ];

  it("reproduces Mann & Whitney's (1947) tables without ties", () => {
    for (const [n, table] of [
      [3, udist3],
      [5, udist5],
    ] as const) {
      table.forEach((row, u) =>
        row.forEach((want, m) =>
          assertClose(uDistribution(m + 1, n).cdf(u), want, 1e-6, `n=${n} m=${m + 1} U=${u}`),
        ),
      );
    }
  });

  /** Klotz's table rows: the statistic x = U + m²/2 where the CDF steps, and the CDF there. */
  function klotzTable(m: number, ties: number[], minX: number, maxX: number): [number, number][] {
    const dist = uDistribution(m, ties.reduce((s, t) => s + t, 0) - m, ties);
    const out: [number, number][] = [];
    for (let x = minX; x <= maxX; x += 0.5) {
      const p = dist.cdf(x - (m * m) / 2);
      const last = out[out.length - 1];
      if (last === undefined || Math.abs(last[1] - p) > 1e-8 * p) out.push([x, p]);
    }
    return out;
  }

  function assertTable(got: [number, number][], want: [number, number][]): void {
    assert.deepEqual(
      got.map(([x]) => x),
      want.map(([x]) => x),
    );
    got.forEach(([x, p], k) => assertClose(p, want[k]![1], 1e-6, `x=${x}`));
  }

  it("reproduces Klotz's (1966) Table 1 for tied samples", () => {
    assertTable(klotzTable(5, [1, 1, 2, 1, 1, 2, 1, 1], 12.5, 19.5), [
      [12.5, 0.003968],
      [13.5, 0.007937],
      [15.0, 0.02381],
      [16.5, 0.047619],
      [17.5, 0.071429],
      [18.0, 0.087302],
      [19.0, 0.134921],
      [19.5, 0.138889],
    ]);
    assertTable(klotzTable(8, [2, 2, 2, 2, 2, 2, 2, 2], 32, 54), [
      [32, 0.000078],
      [34, 0.000389],
      [36, 0.001088],
      [38, 0.002642],
      [40, 0.005905],
      [42, 0.0115],
      [44, 0.021057],
      [46, 0.035664],
      [48, 0.057187],
      [50, 0.086713],
      [52, 0.126263],
      [54, 0.175369],
    ]);
  });

  it("reproduces Klotz's (1966) table for m = 10, N = 21 with heavy ties", () => {
    // prettier-ignore
    const want: [number, number][] = [
      [52.0, 0.000014], [56.5, 0.000128], [57.5, 0.000145], [60.0, 0.00023],
      [61.0, 0.0004], [62.0, 0.00074], [62.5, 0.000797], [64.0, 0.000825],
      [64.5, 0.001165], [65.5, 0.001477], [66.5, 0.002498], [67.0, 0.002725],
      [67.5, 0.002895], [68.0, 0.00315], [68.5, 0.003263], [69.0, 0.003518],
      [69.5, 0.003603], [70.0, 0.005648], [70.5, 0.005818], [71.0, 0.006626],
      [71.5, 0.006796], [72.0, 0.008157], [72.5, 0.009688], [73.0, 0.009801],
      [73.5, 0.01043], [74.0, 0.011111], [74.5, 0.01423], [75.0, 0.014612],
      [75.5, 0.017249], [76.0, 0.018307], [76.5, 0.020178], [77.0, 0.02227],
      [77.5, 0.023189], [78.0, 0.026931], [78.5, 0.028207], [79.0, 0.029979],
      [79.5, 0.030931], [80.0, 0.038969], [80.5, 0.043063], [81.0, 0.044262],
      [81.5, 0.046389], [82.0, 0.049581], [82.5, 0.0563], [83.0, 0.058027],
      [83.5, 0.063669], [84.0, 0.067454], [84.5, 0.074122], [85.0, 0.077425],
      [85.5, 0.083498], [86.0, 0.094079], [86.5, 0.096693], [87.0, 0.101132],
    ];
    assertTable(klotzTable(10, [6, 5, 4, 3, 2, 1], 52, 87), want);
  });

  /** Counts of 2U over every choice of n1 of the values, comparing all pairs directly. */
  function bruteForceCounts(n1: number, ties: number[]): { counts: number[]; total: number } {
    const values = ties.flatMap((t, g) => range(t, () => g));
    const n = values.length;
    const counts = range(2 * n1 * (n - n1) + 1, () => 0);
    let total = 0;
    for (let mask = 0; mask < 1 << n; mask++) {
      const first = values.filter((_, k) => mask & (1 << k));
      if (first.length !== n1) continue;
      const second = values.filter((_, k) => !(mask & (1 << k)));
      let twoU = 0;
      for (const a of first) for (const b of second) twoU += a > b ? 2 : a === b ? 1 : 0;
      counts[twoU]!++;
      total++;
    }
    return { counts, total };
  }

  it("agrees with brute-force enumeration for the tie vectors Go perf checks", () => {
    const cases: [number, number[]][] = [
      [5, [1, 1, 2, 1, 1, 2, 1, 1]],
      [5, [1, 1, 2, 1, 1, 1, 2, 1]],
      [5, [1, 3, 1, 2, 1, 1, 1]],
      [8, [1, 2, 1, 1, 1, 1, 2, 2, 1, 2]],
      [4, [6, 1, 1, 1]], // one big tie at the bottom: a lopsided distribution
      [3, [1, 1, 1, 1, 1, 1, 1]], // no ties
    ];
    for (const [n1, ties] of cases) {
      const n = ties.reduce((s, t) => s + t, 0);
      const dist = uDistribution(n1, n - n1, ties);
      const { counts, total } = bruteForceCounts(n1, ties);
      let cdf = 0;
      counts.forEach((c, twoU) => {
        cdf += c / total;
        const what = `n1=${n1} ties=${ties.join(",")} U=${twoU / 2}`;
        assertClose(dist.pmf(twoU / 2), c / total, 1e-12, `PMF ${what}`);
        assertClose(dist.cdf(twoU / 2), cdf, 1e-12, `CDF ${what}`);
        assertClose(dist.sf(twoU / 2), 1 - cdf, 1e-12, `SF ${what}`);
      });
    }
  });

  it("is 0 below 0 and 1 from n₁n₂ on, rounding U down to a half step in between", () => {
    const dist = uDistribution(3, 4, [2, 1, 1, 2, 1]);
    assert.equal(dist.cdf(-0.5), 0);
    assert.equal(dist.cdf(12), 1);
    assert.equal(dist.cdf(3.7), dist.cdf(3.5));
  });
});

const points = (values: number[]): DataPoint[] =>
  values.map((value, i) => ({ timestamp: i * 1000, value }));

describe("compare (PipeCD metricsAnalyzer.compare)", () => {
  const high = points([10.1, 10.2, 10.3, 10.4, 10.5]);
  const low = points([0.1, 0.2, 0.3, 0.4, 0.5]);

  it("passes a higher experiment when only LOW deviation is unwanted, and the reverse", () => {
    assert.deepEqual(compare(high, low, "LOW"), { ok: true });
    assert.deepEqual(compare(low, high, "HIGH"), { ok: true });
  });

  it("fails a higher experiment under HIGH and EITHER, naming the p-value and deviation", () => {
    const h = compare(high, low, "HIGH");
    assert.equal(h.ok, false);
    assert.ok(!h.ok);
    assertClose(h.p!, 1 / 252, 1e-12, "p for HIGH");
    assert.match(h.reason, /statistically significant/);
    assert.match(h.reason, /HIGH/);
    assert.match(h.reason, /p-value 0\.003968 /);

    const e = compare(high, low, "EITHER");
    assert.ok(!e.ok);
    assertClose(e.p!, 2 / 252, 1e-12, "p for EITHER");
    assert.match(e.reason, /EITHER/);

    const l = compare(low, high, "LOW");
    assert.ok(!l.ok);
    assertClose(l.p!, 1 / 252, 1e-12, "p for LOW");
  });

  it("fails an experiment with one outlier against a flat control under EITHER (p = 1/21)", () => {
    const r = compare(
      points([0.1, 0.2, 5.3, 0.2, 0.5]),
      points([0.1, 0.1, 0.1, 0.1, 0.1]),
      "EITHER",
    );
    assert.ok(!r.ok);
    assertClose(r.p!, 1 / 21, 1e-12, "p");
  });

  it("passes identical samples, and samples whose values are all equal", () => {
    assert.deepEqual(compare(low, low, "EITHER"), { ok: true });
    assert.deepEqual(compare(points([7, 7, 7]), points([7, 7]), "HIGH"), { ok: true });
  });

  it("passes when neither sample has data, fails when only one has", () => {
    assert.deepEqual(compare([], [], "EITHER"), { ok: true });
    assert.deepEqual(compare([], low, "EITHER"), {
      ok: false,
      reason: "no data points of Experiment found",
    });
    assert.deepEqual(compare(low, [], "LOW"), {
      ok: false,
      reason: "no data points of Control found",
    });
  });

  it("fails, without throwing, when the test cannot run", () => {
    const r = compare(points([NaN, 1]), low, "EITHER");
    assert.ok(!r.ok);
    assert.match(r.reason, /^failed to perform the Mann-Whitney U test: /);
  });
});
