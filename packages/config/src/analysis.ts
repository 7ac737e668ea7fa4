import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { readConfigFile } from "./source.js";
import { deepFreeze, openConfigDocument, type FieldPath, type FieldReader } from "./fields.js";

// The ANALYSIS stage's options (PipeCD `pkg/config/analysis.go`, features §2.1), the
// `kind: AnalysisTemplate` of a repository's `.pipe/` directory (§2.2), and the piped's
// `analysisProviders` (§2.6).

const SECOND = 1_000;

/** `metrics[].strategy`. */
export type AnalysisStrategy = "THRESHOLD" | "PREVIOUS" | "CANARY_BASELINE" | "CANARY_PRIMARY";
const STRATEGIES: readonly AnalysisStrategy[] = [
  "THRESHOLD",
  "PREVIOUS",
  "CANARY_BASELINE",
  "CANARY_PRIMARY",
];

/** `metrics[].deviation`: which way the experiment may not differ from the control. */
export type AnalysisDeviation = "LOW" | "HIGH" | "EITHER";
const DEVIATIONS: readonly AnalysisDeviation[] = ["LOW", "HIGH", "EITHER"];

/** `template: {name, appArgs}`: an entry of the repository's AnalysisTemplate. */
export interface AnalysisTemplateRef {
  readonly name: string;
  /** `{{ .AppCustomArgs.<k> }}` in the template's queries. */
  readonly appArgs: Readonly<Record<string, string>>;
}

/** One `metrics[]` entry (PipeCD `AnalysisMetrics`), defaulted. */
export interface AnalysisMetrics {
  readonly strategy: AnalysisStrategy;
  /** A piped `analysisProviders[].name`. */
  readonly provider: string;
  /** A query template (§2.3). */
  readonly query: string;
  /** Inclusive bounds (THRESHOLD); undefined when unset. */
  readonly expected: { readonly min: number | undefined; readonly max: number | undefined };
  /** The query period and its window. */
  readonly intervalMs: number;
  /** The analysis fails when failures exceed this (PipeCD's default 0). */
  readonly failureLimit: number;
  readonly skipOnNoData: boolean;
  /** Per provider call; default 30 s. */
  readonly timeoutMs: number;
  readonly deviation: AnalysisDeviation;
  readonly canaryArgs: Readonly<Record<string, string>>;
  readonly baselineArgs: Readonly<Record<string, string>>;
  readonly primaryArgs: Readonly<Record<string, string>>;
  /** When set, the template's entry replaces this one (only `appArgs` is kept from here). */
  readonly template: AnalysisTemplateRef | undefined;
}

/** One `https[]` entry (PipeCD `AnalysisHTTP`), defaulted. */
export interface AnalysisHttp {
  readonly url: string;
  readonly method: string;
  readonly headers: readonly { readonly key: string; readonly value: string }[];
  /** The status code that passes; default 200. */
  readonly expectedCode: number;
  /** When set, the response body must contain it (PipeCD parses it and never checks it). */
  readonly expectedResponse: string;
  readonly intervalMs: number;
  readonly failureLimit: number;
  readonly skipOnNoData: boolean;
  readonly timeoutMs: number;
  readonly insecureSkipVerify: boolean;
  readonly template: AnalysisTemplateRef | undefined;
}

/** `with` of an ANALYSIS stage. */
export interface AnalysisStageOptions {
  /** Required by PipeCD. */
  readonly durationMs: number;
  /** Parsed and unused, as in PipeCD. */
  readonly restartThreshold: number;
  readonly metrics: readonly AnalysisMetrics[];
  readonly https: readonly AnalysisHttp[];
  readonly skipOn: {
    readonly commitMessagePrefixes: readonly string[];
    readonly paths: readonly string[];
  };
}

/** A repository's `kind: AnalysisTemplate`: named entries the stages refer to. */
export interface AnalysisTemplate {
  readonly metrics: Readonly<Record<string, AnalysisMetrics>>;
  readonly https: Readonly<Record<string, AnalysisHttp>>;
}

function readTemplateRef(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
): AnalysisTemplateRef | undefined {
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["name", "appArgs"]);
  return {
    name: r.requiredString([...p, "name"], m.name),
    appArgs: r.stringMap([...p, "appArgs"], m.appArgs),
  };
}

function readNumber(r: FieldReader, p: FieldPath, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    r.add(p, "must be a number");
    return undefined;
  }
  return v;
}

function oneOf<T extends string>(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  values: readonly T[],
  def: T,
): T {
  const s = r.string(p, v);
  if (s === "") return def;
  if ((values as readonly string[]).includes(s)) return s as T;
  r.add(p, `must be one of ${values.join(", ")}, got ${JSON.stringify(s)}`);
  return def;
}

/**
 * One `metrics[]` entry. `inTemplate`: an AnalysisTemplate's entry (it cannot itself refer to a
 * template). A stage entry with `template` needs nothing else: the template's entry replaces it.
 */
export function readAnalysisMetrics(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  inTemplate = false,
): AnalysisMetrics | undefined {
  const m = r.map(p, v);
  if (!m) {
    if (v === undefined || v === null)
      r.add(p, "must be a mapping with provider, query and interval");
    return undefined;
  }
  const at = (k: string): FieldPath => [...p, k];
  r.keys(p, m, [
    "strategy",
    "provider",
    "query",
    "expected",
    "interval",
    "failureLimit",
    "skipOnNoData",
    "timeout",
    "deviation",
    "canaryArgs",
    "baselineArgs",
    "primaryArgs",
    ...(inTemplate ? [] : ["template"]),
  ]);
  const template = inTemplate ? undefined : readTemplateRef(r, at("template"), m.template);
  const em = r.map(at("expected"), m.expected) ?? {};
  r.keys(at("expected"), em, ["min", "max"]);
  const out: AnalysisMetrics = {
    strategy: oneOf(r, at("strategy"), m.strategy, STRATEGIES, "THRESHOLD"),
    provider: r.string(at("provider"), m.provider),
    query: r.string(at("query"), m.query),
    expected: {
      min: readNumber(r, [...at("expected"), "min"], em.min),
      max: readNumber(r, [...at("expected"), "max"], em.max),
    },
    intervalMs: r.durationMs(at("interval"), m.interval, 0),
    failureLimit: r.int(at("failureLimit"), m.failureLimit, 0, 0),
    skipOnNoData: r.bool(at("skipOnNoData"), m.skipOnNoData, false),
    timeoutMs: r.durationMs(at("timeout"), m.timeout, 30 * SECOND),
    deviation: oneOf(r, at("deviation"), m.deviation, DEVIATIONS, "EITHER"),
    canaryArgs: r.stringMap(at("canaryArgs"), m.canaryArgs),
    baselineArgs: r.stringMap(at("baselineArgs"), m.baselineArgs),
    primaryArgs: r.stringMap(at("primaryArgs"), m.primaryArgs),
    template,
  };
  if (template) return out;
  if (!out.provider) r.add(at("provider"), "is required");
  if (!out.query) r.add(at("query"), "is required");
  if (out.intervalMs === 0) r.add(at("interval"), "is required");
  const { min, max } = out.expected;
  if (out.strategy === "THRESHOLD" && min === undefined && max === undefined)
    r.add(at("expected"), "needs min or max for the THRESHOLD strategy");
  if (min !== undefined && max !== undefined && min > max)
    r.add(at("expected"), `min (${min}) must not be greater than max (${max})`);
  return out;
}

/** One `https[]` entry. */
export function readAnalysisHttp(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  inTemplate = false,
): AnalysisHttp | undefined {
  const m = r.map(p, v);
  if (!m) {
    if (v === undefined || v === null) r.add(p, "must be a mapping with url and interval");
    return undefined;
  }
  const at = (k: string): FieldPath => [...p, k];
  r.keys(p, m, [
    "url",
    "method",
    "headers",
    "expectedCode",
    "expectedResponse",
    "interval",
    "failureLimit",
    "skipOnNoData",
    "timeout",
    "insecureSkipVerify",
    ...(inTemplate ? [] : ["template"]),
  ]);
  const template = inTemplate ? undefined : readTemplateRef(r, at("template"), m.template);
  const headers = r.list(at("headers"), m.headers).flatMap((h, i) => {
    const hp = [...at("headers"), i];
    const hm = r.map(hp, h);
    if (!hm) return [];
    r.keys(hp, hm, ["key", "value"]);
    return [
      {
        key: r.requiredString([...hp, "key"], hm.key),
        value: r.string([...hp, "value"], hm.value),
      },
    ];
  });
  const out: AnalysisHttp = {
    url: r.string(at("url"), m.url),
    method: r.string(at("method"), m.method) || "GET",
    headers,
    expectedCode: r.int(at("expectedCode"), m.expectedCode, 200, 100, 599),
    expectedResponse: r.string(at("expectedResponse"), m.expectedResponse),
    intervalMs: r.durationMs(at("interval"), m.interval, 0),
    failureLimit: r.int(at("failureLimit"), m.failureLimit, 0, 0),
    skipOnNoData: r.bool(at("skipOnNoData"), m.skipOnNoData, false),
    timeoutMs: r.durationMs(at("timeout"), m.timeout, 30 * SECOND),
    insecureSkipVerify: r.bool(at("insecureSkipVerify"), m.insecureSkipVerify, false),
    template,
  };
  if (template) return out;
  if (!/^https?:\/\//i.test(out.url)) r.add(at("url"), "must be an http:// or https:// URL");
  if (out.intervalMs === 0) r.add(at("interval"), "is required");
  return out;
}

/**
 * `logs[]`: refused. PipeCD's only log provider (Stackdriver) is a stub whose every check fails,
 * so an app relying on it could never pass; say so instead of pretending.
 */
export function refuseAnalysisLogs(r: FieldReader, p: FieldPath, v: unknown): void {
  if (r.list(p, v).length > 0)
    r.add(
      p,
      "log analysis is not supported: PipeCD's only log provider (Stackdriver) is a stub that " +
        "fails every check; use metrics or https",
    );
}

/** Parses → defaults → validates → freezes a `kind: AnalysisTemplate` document. */
export function parseAnalysisTemplate(file: string, text: string): AnalysisTemplate {
  const { issues, r, root } = openConfigDocument(file, text);
  if (root.kind !== "AnalysisTemplate") {
    issues.add(["kind"], `must be AnalysisTemplate, got ${JSON.stringify(root.kind ?? null)}`);
    issues.throwIfAny(file);
  }
  const spec = r.map(["spec"], root.spec) ?? {};
  r.keys(["spec"], spec, ["metrics", "logs", "https"]);
  const named = <T>(
    key: string,
    read: (r: FieldReader, p: FieldPath, v: unknown, inTemplate: boolean) => T | undefined,
  ): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const [name, v] of Object.entries(r.map(["spec", key], spec[key]) ?? {})) {
      const entry = read(r, ["spec", key, name], v, true);
      if (entry) out[name] = entry;
    }
    return out;
  };
  const metrics = named("metrics", readAnalysisMetrics);
  const https = named("https", readAnalysisHttp);
  if (Object.keys(r.map(["spec", "logs"], spec.logs) ?? {}).length > 0)
    r.add(["spec", "logs"], "log analysis is not supported (see the ANALYSIS stage's logs)");
  issues.throwIfAny(file);
  return deepFreeze({ metrics, https });
}

/**
 * The repository's AnalysisTemplate (PipeCD `LoadAnalysisTemplate`): the first
 * `kind: AnalysisTemplate` among `<repoDir>/.pipe/*.{yaml,yml,json}` in name order, or an empty
 * template when there is none. A file there that is not valid fails, naming it.
 */
export async function loadAnalysisTemplate(repoDir: string): Promise<AnalysisTemplate> {
  const dir = join(repoDir, ".pipe");
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => /\.(ya?ml|json)$/.test(n)).sort()) {
    const file = join(dir, name);
    const text = await readConfigFile(file);
    if (!/^\s*kind:\s*["']?AnalysisTemplate["']?\s*$/m.test(text)) continue;
    return parseAnalysisTemplate(file, text);
  }
  return deepFreeze({ metrics: {}, https: {} });
}

/** A piped `analysisProviders[]` entry. Never log the secrets it names. */
export type AnalysisProviderConfig =
  | {
      readonly name: string;
      readonly type: "PROMETHEUS";
      readonly address: string;
      readonly usernameFile: string;
      readonly passwordFile: string;
      /** pipecd-ts: a bearer token (PipeCD has basic auth only). */
      readonly tokenFile: string;
    }
  | {
      readonly name: string;
      readonly type: "DATADOG";
      /** Site or URL; default `datadoghq.com`. */
      readonly address: string;
      readonly apiKeyFile: string;
      readonly applicationKeyFile: string;
      /** Base64 (PipeCD's `apiKeyData`), instead of the file. */
      readonly apiKeyData: string;
      readonly applicationKeyData: string;
    };

/** Reads the piped's `analysisProviders` (PipeCD §2.6). */
export function readAnalysisProviders(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
): readonly AnalysisProviderConfig[] {
  const out: AnalysisProviderConfig[] = [];
  const names = new Set<string>();
  r.list(p, v).forEach((item, i) => {
    const ip = [...p, i];
    const m = r.map(ip, item);
    if (!m) {
      if (item === undefined || item === null)
        r.add(ip, "must be a mapping with name, type and config");
      return;
    }
    r.keys(ip, m, ["name", "type", "config"]);
    const name = r.requiredString([...ip, "name"], m.name);
    if (name && names.has(name)) r.add([...ip, "name"], `duplicate analysis provider "${name}"`);
    names.add(name);
    const type = r.requiredString([...ip, "type"], m.type);
    const cp = [...ip, "config"];
    const c = r.map(cp, m.config) ?? {};
    const s = (k: string): string => r.string([...cp, k], c[k]);
    if (type === "PROMETHEUS") {
      r.keys(cp, c, ["address", "usernameFile", "passwordFile", "tokenFile"]);
      const prom = {
        name,
        type,
        address: r.requiredString([...cp, "address"], c.address),
        usernameFile: s("usernameFile"),
        passwordFile: s("passwordFile"),
        tokenFile: s("tokenFile"),
      } as const;
      if ((prom.usernameFile === "") !== (prom.passwordFile === ""))
        r.add(cp, "usernameFile and passwordFile go together");
      if (prom.tokenFile && prom.usernameFile)
        r.add(cp, "set either tokenFile or usernameFile/passwordFile, not both");
      out.push(prom);
    } else if (type === "DATADOG") {
      r.keys(cp, c, [
        "address",
        "apiKeyFile",
        "applicationKeyFile",
        "apiKeyData",
        "applicationKeyData",
      ]);
      const dd = {
        name,
        type,
        address: s("address") || "datadoghq.com",
        apiKeyFile: s("apiKeyFile"),
        applicationKeyFile: s("applicationKeyFile"),
        apiKeyData: s("apiKeyData"),
        applicationKeyData: s("applicationKeyData"),
      } as const;
      if (!dd.apiKeyFile === !dd.apiKeyData)
        r.add(cp, "needs exactly one of apiKeyFile and apiKeyData");
      if (!dd.applicationKeyFile === !dd.applicationKeyData)
        r.add(cp, "needs exactly one of applicationKeyFile and applicationKeyData");
      out.push(dd);
    } else if (type === "STACKDRIVER") {
      r.add(
        [...ip, "type"],
        "STACKDRIVER is not supported: it only serves log analysis, which PipeCD never implemented",
      );
    } else if (type) {
      r.add([...ip, "type"], `must be PROMETHEUS or DATADOG, got ${JSON.stringify(type)}`);
    }
  });
  return out;
}
