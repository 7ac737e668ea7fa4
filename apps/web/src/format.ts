/** A protobuf JSON timestamp (RFC 3339). */
type TimestampJson = string;

/** Milliseconds of a protobuf JSON timestamp (RFC 3339 string); undefined when unset. */
export function ms(t: TimestampJson | undefined): number | undefined {
  if (!t) return undefined;
  const v = Date.parse(t);
  // The zero timestamp (1970-01-01) means "unset" in the protobuf JSON mapping of our model.
  return Number.isNaN(v) || v <= 0 ? undefined : v;
}

/** "2026-11-26 17:45:38" in the browser's time zone; "—" when unset. */
export function when(t: TimestampJson | undefined): string {
  const v = ms(t);
  if (v === undefined) return "—";
  const d = new Date(v);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "1h 2m", "3m 4s", "5s"; "—" for undefined or negative. */
export function duration(msValue: number | undefined): string {
  if (msValue === undefined || msValue < 0) return "—";
  const s = Math.round(msValue / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/**
 * "DEPLOYMENT_ROLLING_BACK" → "ROLLING BACK", "DEPLOYMENT_CHAIN_SUCCESS" → "SUCCESS" (the prefix
 * dropped, underscores as spaces).
 */
export function statusLabel(status: string | undefined): string {
  return (status ?? "UNKNOWN")
    .replace(/^(DEPLOYMENT_CHAIN|DEPLOYMENT|STAGE|COMMAND)_/, "")
    .replace(/_/g, " ");
}

/** Colour class of a deployment, stage, chain, sync, health or piped status. */
export function statusTone(status: string | undefined): "ok" | "bad" | "run" | "wait" | "idle" {
  const s = (status ?? "").replace(/^(DEPLOYMENT_CHAIN|DEPLOYMENT|STAGE)_/, "");
  switch (s) {
    case "SUCCESS":
    case "SYNCED":
    case "ONLINE":
    case "HEALTHY":
      return "ok";
    case "FAILURE":
    case "INVALID_CONFIG":
    case "OUT_OF_SYNC":
    case "OFFLINE":
    case "UNHEALTHY":
      return "bad";
    case "RUNNING":
    case "ROLLING_BACK":
    case "DEPLOYING":
    case "PLANNED":
      return "run";
    case "PENDING":
    case "NOT_STARTED_YET":
    case "OTHER": // a resource on its way (starting, rolling out), not yet a fault
      return "wait";
    default:
      return "idle";
  }
}

/** The first 7 characters of a commit hash. */
export function shortHash(hash: string | undefined): string {
  return (hash ?? "").slice(0, 7) || "—";
}

/** The first line of a commit message. */
export function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n")[0] ?? "";
}

/** Sync statuses of an application, in the order the filters list them. */
export const SYNC_STATUSES = [
  "SYNCED",
  "OUT_OF_SYNC",
  "DEPLOYING",
  "INVALID_CONFIG",
  "UNKNOWN",
] as const;

/** Health statuses of an application or a live resource, in the order the filters list them. */
export const HEALTH_STATUSES = ["HEALTHY", "OTHER", "UNHEALTHY", "UNKNOWN"] as const;

/**
 * The sync status an application shows: DEPLOYING while a deployment of it runs (the control
 * plane's `deploying` flag), else what its piped last reported.
 */
export function appSyncStatus(a: { deploying?: boolean; syncState?: { status?: string } }): string {
  return a.deploying ? "DEPLOYING" : (a.syncState?.status ?? "UNKNOWN");
}
