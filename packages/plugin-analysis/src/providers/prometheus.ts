import {
  AppError,
  InvalidArgumentError,
  errorCodeOfHttpStatus,
  type Logger,
} from "@pipecd-ts/runtime";
import { NoDataError, type DataPoint, type MetricsProvider, type QueryRange } from "../types.js";
import { getJson } from "./http.js";
import { readSecretFile } from "./secret-file.js";

/** PipeCD's step: 1 minute, or the whole window when it is shorter. */
const MAX_STEP_MS = 60_000;
/** Prometheus refuses a step of 0; a window shorter than a second is queried at 1 s. */
const MIN_STEP_MS = 1_000;

/** Options of {@link PrometheusProvider}: the secrets are values, already read. */
export interface PrometheusProviderOptions {
  /** Base URL of the server (`http://prom:9090`, a path prefix allowed). */
  readonly address: string;
  /** HTTP basic auth, sent only when both username and password are set. */
  readonly username?: string;
  readonly password?: string;
  /** `Authorization: Bearer …`; not together with basic auth. */
  readonly bearerToken?: string;
  /** Where Prometheus's non-fatal `warnings` go (PipeCD logs them). */
  readonly logger?: Pick<Logger, "warn">;
}

/** Piped `analysisProviders[].config` of a PROMETHEUS provider: secrets as file paths. */
export interface PrometheusProviderConfig {
  readonly address: string;
  readonly usernameFile?: string;
  readonly passwordFile?: string;
  readonly tokenFile?: string;
}

/** Reads the credential files of a PROMETHEUS provider config (trimmed) and builds the provider. */
export async function prometheusProviderFromConfig(
  config: PrometheusProviderConfig,
  logger?: Pick<Logger, "warn">,
): Promise<PrometheusProvider> {
  const [username, password, bearerToken] = await Promise.all([
    readSecretFile("prometheus", "usernameFile", config.usernameFile),
    readSecretFile("prometheus", "passwordFile", config.passwordFile),
    readSecretFile("prometheus", "tokenFile", config.tokenFile),
  ]);
  return new PrometheusProvider({
    address: config.address,
    username,
    password,
    bearerToken,
    logger,
  });
}

type PromSample = [number, string];
interface PromSeries {
  metric?: Record<string, string>;
  value?: PromSample;
  values?: PromSample[];
}
interface PromResponse {
  status?: string;
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType?: string; result?: unknown };
}

/**
 * A PROMETHEUS analysis provider (PipeCD `analysisprovider/metrics/prometheus`): every query
 * is a range query over the window with step min(1 m, window), never an instant query.
 */
export class PrometheusProvider implements MetricsProvider {
  readonly type = "PROMETHEUS";
  private readonly base: string;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly secrets: readonly string[];
  private readonly logger: Pick<Logger, "warn"> | undefined;

  constructor(o: PrometheusProviderOptions) {
    if (!o.address) throw new InvalidArgumentError("prometheus: address is required");
    this.base = o.address.replace(/\/+$/, "");
    const basic = o.username && o.password ? `${o.username}:${o.password}` : undefined;
    if (basic && o.bearerToken)
      throw new InvalidArgumentError(
        "prometheus: set either basic auth (username and password) or a bearer token, not both",
      );
    const headers: Record<string, string> = {};
    const secrets: string[] = [];
    if (basic) {
      const encoded = Buffer.from(basic).toString("base64");
      headers["authorization"] = `Basic ${encoded}`;
      secrets.push(encoded, o.password ?? "", o.username ?? "");
    } else if (o.bearerToken) {
      headers["authorization"] = `Bearer ${o.bearerToken}`;
      secrets.push(o.bearerToken);
    }
    this.headers = headers;
    this.secrets = secrets.filter((s) => s.length > 0);
    this.logger = o.logger;
  }

  async query(
    query: string,
    range: QueryRange,
    o: { signal: AbortSignal; timeoutMs: number },
  ): Promise<DataPoint[]> {
    const windowMs = range.to.getTime() - range.from.getTime();
    if (!(windowMs >= 0))
      throw new InvalidArgumentError("prometheus: the query range ends before it starts");
    const stepMs = Math.max(MIN_STEP_MS, Math.min(MAX_STEP_MS, windowMs));
    const params = new URLSearchParams({
      query,
      start: unixSeconds(range.from.getTime()),
      end: unixSeconds(range.to.getTime()),
      step: unixSeconds(stepMs),
    });
    const res = await getJson<PromResponse>(
      `${this.base}/api/v1/query_range?${params.toString()}`,
      { what: "prometheus query", headers: this.headers, timeoutMs: o.timeoutMs, signal: o.signal },
    );
    const body = res.json;
    const ok = res.status >= 200 && res.status < 300;
    if (!ok || body?.status !== "success") {
      const detail =
        body?.error !== undefined
          ? `${body.errorType ? `${body.errorType}: ` : ""}${body.error}`
          : res.excerpt;
      throw new AppError(
        ok ? "INTERNAL" : errorCodeOfHttpStatus(res.status),
        this.redact(`prometheus query failed (HTTP ${res.status}): ${detail}`),
      );
    }
    for (const w of body.warnings ?? [])
      this.logger?.warn({ warning: this.redact(w) }, "prometheus query warning");
    return toPoints(body.data?.resultType, body.data?.result);
  }

  /** Server text may echo what it was sent (a proxy's 401 page): never pass a credential on. */
  private redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join("***");
    return out;
  }
}

/** PipeCD's `evaluate`: scalar → 1 point, vector → 1 per sample, matrix → every sample flattened. */
function toPoints(resultType: string | undefined, result: unknown): DataPoint[] {
  switch (resultType) {
    case "scalar":
      return [toPoint(result as PromSample)];
    case "vector": {
      const series = (result ?? []) as PromSeries[];
      return series.map((s) => {
        if (!s.value) throw new NoDataError("prometheus: a sample of the vector has no value");
        return toPoint(s.value);
      });
    }
    case "matrix": {
      const out: DataPoint[] = [];
      for (const s of (result ?? []) as PromSeries[]) {
        const values = s.values ?? [];
        if (values.length === 0)
          throw new NoDataError(`prometheus: series ${seriesName(s)} has no values`);
        for (const v of values) out.push(toPoint(v, s));
      }
      return out;
    }
    default:
      throw new AppError(
        "INTERNAL",
        `prometheus query returned an unexpected result type ${String(resultType)}`,
      );
  }
}

function toPoint(sample: PromSample, s?: PromSeries): DataPoint {
  const [t, v] = sample;
  const value = Number(v);
  if (Number.isNaN(value))
    throw new NoDataError(
      `prometheus: ${s ? `series ${seriesName(s)} has` : "found"} a NaN value at ${new Date(t * 1000).toISOString()}`,
    );
  return { timestamp: Math.round(t * 1000), value };
}

function seriesName(s: PromSeries): string {
  const labels = Object.entries(s.metric ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${labels.join(", ")}}`;
}

/** Prometheus's time format: unix seconds with a fraction (`1700000000.123`). */
function unixSeconds(ms: number): string {
  return String(ms / 1000);
}
