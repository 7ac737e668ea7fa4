import type { ReactNode } from "react";
import type { PipelineStageJson } from "@pipecd-ts/proto";

// The samples an ANALYSIS stage keeps in its metadata (plugin-analysis AnalysisMetadataKey):
// `analysis-spec.<id>` says what an analyzer queries and the band it expects,
// `analysis-samples.<id>` holds one sample per evaluation: time, verdict and, per series,
// [min, mean, max] of the values seen.
const SPEC = "analysis-spec.";
const SAMPLES = "analysis-samples.";

interface Spec {
  id: string;
  kind: "metrics" | "http";
  strategy: string;
  query: string;
  expected: { min?: number; max?: number };
  intervalMs: number;
  failureLimit: number;
}
type Triple = [number, number, number];
interface Sample {
  t: number;
  outcome: "pass" | "fail" | "skip";
  series: Partial<Record<string, Triple>>;
}

const COLORS: Record<string, string> = {
  primary: "#2563eb",
  canary: "#d97706",
  baseline: "#059669",
  previous: "#7c3aed",
};

function parse<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

const W = 560;
const H = 160;
const PAD = { left: 48, right: 12, top: 10, bottom: 22 };

/** One analyzer over the stage's time: each series' mean, the expected band, failed points. */
function AnalyzerChart(props: { spec: Spec; samples: Sample[] }): ReactNode {
  const { spec, samples } = props;
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.series)))];
  const values = samples.flatMap((s) =>
    Object.values(s.series).flatMap((v) => (v ? [v[0], v[2]] : [])),
  );
  const bounds = [spec.expected.min, spec.expected.max].filter((v): v is number => v !== undefined);
  const all = [...values, ...bounds];
  // Non-negative values (rates, counts, latencies) are drawn from 0, so the band reads true.
  let lo = all.length ? Math.min(0, ...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const span = hi - lo;
  lo -= span * 0.1;
  hi += span * 0.1;
  const t0 = samples[0]?.t ?? 0;
  const t1 = Math.max(samples[samples.length - 1]?.t ?? 1, t0 + spec.intervalMs);
  const x = (t: number): number =>
    PAD.left + ((t - t0) / (t1 - t0 || 1)) * (W - PAD.left - PAD.right);
  const y = (v: number): number => PAD.top + ((hi - v) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const fmt = (v: number): string => String(+v.toPrecision(3));
  const failed = samples.filter((s) => s.outcome === "fail");
  const bandTop = spec.expected.max === undefined ? PAD.top : y(spec.expected.max);
  const bandBottom = spec.expected.min === undefined ? H - PAD.bottom : y(spec.expected.min);
  const label =
    `${spec.id}: ${samples.length} evaluation(s), ${failed.length} failed` +
    (bounds.length ? `, expected ${spec.expected.min ?? "−∞"} … ${spec.expected.max ?? "∞"}` : "");
  return (
    <figure
      className="analysis-chart"
      data-analyzer={spec.id}
      data-samples={samples.length}
      data-failed={failed.length}
    >
      <figcaption>
        <strong>{spec.id}</strong> <span className="muted">{spec.strategy}</span>{" "}
        <code>{spec.query}</code>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        {spec.strategy === "THRESHOLD" || spec.kind === "http" ? (
          <rect
            className="band"
            x={PAD.left}
            y={bandTop}
            width={W - PAD.left - PAD.right}
            height={Math.max(0, bandBottom - bandTop)}
            data-min={spec.expected.min}
            data-max={spec.expected.max}
          />
        ) : null}
        <line
          className="axis"
          x1={PAD.left}
          y1={H - PAD.bottom}
          x2={W - PAD.right}
          y2={H - PAD.bottom}
        />
        <text className="tick" x={PAD.left - 4} y={y(hi) + 10} textAnchor="end">
          {fmt(hi)}
        </text>
        <text className="tick" x={PAD.left - 4} y={y(lo)} textAnchor="end">
          {fmt(lo)}
        </text>
        {names.map((name) => {
          const pts = samples.flatMap((s) => {
            const v = s.series[name];
            return v ? [`${x(s.t).toFixed(1)},${y(v[1]).toFixed(1)}`] : [];
          });
          return (
            <polyline
              key={name}
              className="series"
              data-series={name}
              points={pts.join(" ")}
              fill="none"
              stroke={COLORS[name] ?? "#555"}
            />
          );
        })}
        {failed.map((s) => {
          const worst = Object.values(s.series).flatMap((v) => (v ? [v[2]] : []));
          const v = worst.length ? Math.max(...worst) : hi;
          return <circle key={s.t} className="failed-point" cx={x(s.t)} cy={y(v)} r={4} />;
        })}
      </svg>
      <div className="small muted">
        {names.map((n) => (
          <span key={n} className="legend" style={{ color: COLORS[n] ?? "#555" }}>
            ● {n}{" "}
          </span>
        ))}
        {failed.length > 0 && <span className="reason">● failed evaluation</span>}
      </div>
    </figure>
  );
}

/** The charts of an ANALYSIS stage: one per analyzer that has recorded samples. */
export function AnalysisCharts(props: { stage: PipelineStageJson }): ReactNode {
  const md = props.stage.metadata ?? {};
  const specs = Object.keys(md)
    .filter((k) => k.startsWith(SPEC))
    .sort()
    .flatMap((k) => {
      const spec = parse<Spec>(md[k]);
      return spec ? [spec] : [];
    });
  if (specs.length === 0) return null;
  return (
    <section className="analysis" aria-label="analysis">
      {specs.map((spec) => (
        <AnalyzerChart
          key={spec.id}
          spec={spec}
          samples={parse<Sample[]>(md[`${SAMPLES}${spec.id}`]) ?? []}
        />
      ))}
    </section>
  );
}
