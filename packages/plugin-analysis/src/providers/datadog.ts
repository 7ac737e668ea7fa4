import { AppError, InvalidArgumentError, errorCodeOfHttpStatus } from "@pipecd-ts/runtime";
import { NoDataError, type DataPoint, type MetricsProvider, type QueryRange } from "../types.js";
import { getJson } from "./http.js";
import { readSecretFile } from "./secret-file.js";

/** PipeCD's default Datadog site. */
const DEFAULT_SITE = "datadoghq.com";

/** Options of {@link DatadogProvider}: the keys are values, already read. */
export interface DatadogProviderOptions {
  /**
   * The Datadog site (`datadoghq.com`, `us3.datadoghq.com`, `datadoghq.eu`, `ddog-gov.com`),
   * queried at `https://api.<site>`; or a full `http(s)://` base URL (a proxy, or a test
   * server). Default `datadoghq.com`.
   */
  readonly address?: string;
  readonly apiKey: string;
  readonly applicationKey: string;
}

/** Piped `analysisProviders[].config` of a DATADOG provider: one of file or data per key. */
export interface DatadogProviderConfig {
  readonly address?: string;
  /** A file holding the key (trimmed). */
  readonly apiKeyFile?: string;
  readonly applicationKeyFile?: string;
  /** The key, base64-encoded (decoded as is, not trimmed). */
  readonly apiKeyData?: string;
  readonly applicationKeyData?: string;
}

/** Reads or decodes the keys of a DATADOG provider config and builds the provider. */
export async function datadogProviderFromConfig(
  config: DatadogProviderConfig,
): Promise<DatadogProvider> {
  const [apiKey, applicationKey] = await Promise.all([
    readKey("apiKey", config.apiKeyFile, config.apiKeyData),
    readKey("applicationKey", config.applicationKeyFile, config.applicationKeyData),
  ]);
  return new DatadogProvider({ address: config.address, apiKey, applicationKey });
}

async function readKey(
  name: string,
  file: string | undefined,
  data: string | undefined,
): Promise<string> {
  if (file && data)
    throw new InvalidArgumentError(`datadog: set only one of ${name}File and ${name}Data`);
  if (file) return (await readSecretFile("datadog", `${name}File`, file)) ?? "";
  if (data) {
    // Go's base64.StdEncoding is strict; Buffer.from would silently skip bad characters.
    if (data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data))
      throw new InvalidArgumentError(`datadog: ${name}Data is not valid base64`);
    return Buffer.from(data, "base64").toString("utf8");
  }
  throw new InvalidArgumentError(`datadog: one of ${name}File or ${name}Data is required`);
}

interface DatadogResponse {
  status?: string;
  error?: string;
  errors?: unknown;
  series?: { metric?: string; scope?: string; pointlist?: [number, number | null][] }[];
}

/**
 * A DATADOG analysis provider (PipeCD `analysisprovider/metrics/datadog`): the v1
 * `MetricsApi.QueryMetrics` call (`GET /api/v1/query`) over the window, in whole seconds.
 */
export class DatadogProvider implements MetricsProvider {
  readonly type = "DATADOG";
  private readonly base: string;
  private readonly apiKey: string;
  private readonly applicationKey: string;

  constructor(o: DatadogProviderOptions) {
    if (!o.apiKey) throw new InvalidArgumentError("datadog: apiKey is required");
    if (!o.applicationKey) throw new InvalidArgumentError("datadog: applicationKey is required");
    const address = o.address || DEFAULT_SITE;
    this.base = /^https?:\/\//i.test(address)
      ? address.replace(/\/+$/, "")
      : `https://api.${address.replace(/\/+$/, "")}`;
    this.apiKey = o.apiKey;
    this.applicationKey = o.applicationKey;
  }

  async query(
    query: string,
    range: QueryRange,
    o: { signal: AbortSignal; timeoutMs: number },
  ): Promise<DataPoint[]> {
    const params = new URLSearchParams({
      from: String(Math.floor(range.from.getTime() / 1000)),
      to: String(Math.floor(range.to.getTime() / 1000)),
      query,
    });
    const res = await getJson<DatadogResponse>(`${this.base}/api/v1/query?${params.toString()}`, {
      what: "datadog query",
      headers: { "dd-api-key": this.apiKey, "dd-application-key": this.applicationKey },
      timeoutMs: o.timeoutMs,
      signal: o.signal,
    });
    const body = res.json;
    if (res.status !== 200 || !body || body.status === "error") {
      const detail = Array.isArray(body?.errors)
        ? body.errors.map(String).join("; ")
        : body?.error || res.excerpt;
      throw new AppError(
        res.status === 200 ? "INVALID_ARGUMENT" : errorCodeOfHttpStatus(res.status),
        this.redact(`datadog query failed (HTTP ${res.status}): ${detail}`),
      );
    }
    const series = body.series ?? [];
    if (series.length === 0) throw new NoDataError("datadog: the query returned no series");
    const out: DataPoint[] = [];
    for (const s of series) {
      const points = s.pointlist ?? [];
      if (points.length === 0)
        throw new NoDataError(`datadog: series ${s.scope ?? s.metric ?? "?"} has no data points`);
      for (const [timestamp, value] of points) {
        // Datadog fills intervals without data with null.
        if (value === null || value === undefined) continue;
        out.push({ timestamp, value });
      }
    }
    if (out.length === 0) throw new NoDataError("datadog: every data point is null");
    return out;
  }

  /** A proxy or Datadog itself may echo a header: never pass a key on. */
  private redact(s: string): string {
    return s.split(this.apiKey).join("***").split(this.applicationKey).join("***");
  }
}
