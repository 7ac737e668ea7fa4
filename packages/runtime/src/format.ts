/** `1.5` for 1500 ms, `30` for 30000 ms (for "timed out after N s"). */
export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? String(ms / 1000) : (ms / 1000).toFixed(3).replace(/\.?0+$/, "");
}

/** A duration for a log line: `6h`, `5m`, or seconds to a tenth (`1.5s`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`;
}
