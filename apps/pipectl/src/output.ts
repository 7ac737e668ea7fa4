import { formatConfigWarning, type ConfigWarningLike } from "@pipecd-ts/rest-api";

/** Renders rows as left-aligned columns separated by two spaces, with a header row. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/**
 * A titled list of config warnings, one `file:line: path: message` per line; "" when there are
 * none.
 */
export function warningLines(
  title: string,
  warnings: readonly ConfigWarningLike[] | undefined,
): string {
  if (!warnings?.length) return "";
  return `${title} (${warnings.length}):\n${warnings.map((w) => `  ${formatConfigWarning(w)}\n`).join("")}`;
}

/** `Key: value` lines with the values aligned. */
export function fields(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(w)}  ${v}`.trimEnd()).join("\n") + "\n";
}

/** How long ago an RFC 3339 time was, kubectl-style (`45s`, `12m`, `3h`, `2d`); `-` if unset. */
export function age(ts: string | undefined, now = Date.now()): string {
  const t = ts ? Date.parse(ts) : NaN;
  if (!Number.isFinite(t) || t <= 0) return "-";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An elapsed time in seconds with one decimal (`12.3s`), or `m:ss` from a minute on. */
export function elapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** Drops an enum prefix for tables: `DEPLOYMENT_RUNNING` → `RUNNING`. */
export function short(value: string | undefined, prefix: string): string {
  if (!value) return "-";
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

/** Truncates to `n` characters with an ellipsis, on one line. */
export function clip(text: string | undefined, n: number): string {
  const one = (text ?? "").replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}
