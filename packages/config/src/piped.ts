import { readAnalysisProviders, type AnalysisProviderConfig } from "./analysis.js";
import { readNotifications, type NotificationsConfig } from "./notifications.js";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ConfigError, readConfigFile, type ConfigIssue } from "./source.js";
import { readSafety, resolveSafety, type SafetySettings } from "./safety.js";
import {
  deepFreeze,
  openConfigDocument,
  type FieldPath,
  type FieldReader,
  type YamlMap,
} from "./fields.js";

/** A git repository the piped watches (`repositories[]`). */
export interface PipedRepository {
  /** Unique within the piped; applications refer to it. */
  readonly repoId: string;
  /** Clone address, e.g. `git@github.com:org/repo.git`. */
  readonly remote: string;
  readonly branch: string;
}

/** `resources` matcher of the Kubernetes app-state informer. */
export interface KubernetesResourceMatcher {
  readonly apiVersion: string;
  /** Empty means every kind of the apiVersion. */
  readonly kind: string;
}

/** `config` of a KUBERNETES platform provider. */
export interface KubernetesPlatformProviderConfig {
  /** Empty means in-cluster (or from the kubeconfig). */
  readonly masterURL: string;
  /** Absolute path (resolved against the piped config's directory); empty means in-cluster. */
  readonly kubeConfigPath: string;
  readonly kubectlVersion: string;
  readonly appStateInformer: {
    /** Empty means every namespace. */
    readonly namespace: string;
    readonly includeResources: readonly KubernetesResourceMatcher[];
    readonly excludeResources: readonly KubernetesResourceMatcher[];
  };
}

/** A platform provider (`platformProviders[]`, or the deprecated `cloudProviders[]`). */
export interface PipedPlatformProvider {
  readonly name: string;
  /** Only KUBERNETES is supported; other types are rejected by the loader. */
  readonly type: "KUBERNETES";
  readonly labels: Readonly<Record<string, string>>;
  readonly config: KubernetesPlatformProviderConfig;
}

/** `chartRepositories[]`: an HTTP Helm repository (name + address), or a GIT one (an SSH key for a remote). */
export interface ChartRepository {
  readonly type: "HTTP" | "GIT";
  /** HTTP: the name apps use as `helmChart.repository`. */
  readonly name: string;
  readonly address: string;
  readonly username: string;
  readonly password: string;
  /** `--insecure-skip-tls-verify` for `helm repo add` and `helm template`. */
  readonly insecure: boolean;
  /** GIT: the remote whose clones use `sshKeyFile`. */
  readonly gitRemote: string;
  readonly sshKeyFile: string;
}

/** `chartRegistries[]`: an OCI registry logged in to when username and password are set. */
export interface ChartRegistry {
  readonly type: "OCI";
  readonly address: string;
  readonly username: string;
  readonly password: string;
}

/** The piped config (kind Piped), defaulted, validated and frozen. Never log `pipedKey`. */
export interface PipedConfig {
  readonly apiVersion: string;
  readonly kind: "Piped";
  readonly projectID: string;
  readonly pipedID: string;
  /**
   * The piped key, trimmed. Set by {@link parsePipedConfig} from `pipedKeyData`; set by
   * {@link loadPipedConfig} from `pipedKeyFile` (parse alone leaves it "" in that case).
   */
  readonly pipedKey: string;
  /** Absolute path of `pipedKeyFile` (resolved against the config's directory), or "". */
  readonly pipedKeyFile: string;
  /** The control plane's gRPC address, `host:port`. */
  readonly apiAddress: string;
  readonly webAddress: string;
  readonly name: string;
  /** How often apps are checked for new commits; default 1m. */
  readonly syncIntervalMs: number;
  /** How often app config files are re-read; default 1m. */
  readonly appConfigSyncIntervalMs: number;
  readonly repositories: readonly PipedRepository[];
  /** `platformProviders` followed by the deprecated `cloudProviders`. */
  readonly platformProviders: readonly PipedPlatformProvider[];
  /** Only applications with all these labels are handled; empty means all. */
  readonly appSelector: Readonly<Record<string, string>>;
  /** `git`: who the piped commits as (event watcher); PipeCD's defaults `piped` / `pipecd.dev@gmail.com`. */
  readonly git: { readonly username: string; readonly email: string };
  /** Helm chart repositories (`helm repo add` at start-up; PipeCD §1.5). Never log passwords. */
  readonly chartRepositories: readonly ChartRepository[];
  /** OCI registries (`helm registry login` at start-up). Never log passwords. */
  readonly chartRegistries: readonly ChartRegistry[];
  /** Metrics backends of ANALYSIS stages (PipeCD §2.6). Never log the secrets they name. */
  readonly analysisProviders: readonly AnalysisProviderConfig[];
  /** Routes and receivers of notifications (PipeCD §5.1); undefined when unset. */
  readonly notifications: NotificationsConfig | undefined;
  /** The key pair that decrypts `spec.encryption` of apps (PipeCD §3.1); undefined when unset. */
  readonly secretManagement: SecretManagement | undefined;
  /** `eventWatcher`: how often events are looked for (default 1m, as PipeCD). */
  readonly eventWatcher: { readonly checkIntervalMs: number };
  readonly planPreview: Readonly<YamlMap> | undefined;
  /** pipecd-ts only: our improvements' switches for every app, defaults filled (safety.ts). */
  readonly safety: SafetySettings;
  /**
   * pipecd-ts only: deployments of different apps that run at once (default 10); one app's
   * deployments always run one at a time.
   */
  readonly maxConcurrentDeployments: number;
  /** Fields accepted but not acted on yet, in file order (shown on the piped). */
  readonly warnings: readonly ConfigIssue[];
}

/**
 * `secretManagement` of type KEY_PAIR: each key as a file (absolute, resolved against the config
 * file's directory) or as base64 data of the PEM, exactly one of the two.
 */
export interface SecretManagement {
  readonly type: "KEY_PAIR";
  readonly privateKeyFile: string;
  /** The PEM, decoded from `privateKeyData`; never logged. */
  readonly privateKeyPem: string;
  readonly publicKeyFile: string;
  /** The PEM, decoded from `publicKeyData`. */
  readonly publicKeyPem: string;
}

const MINUTE = 60_000;
const SPEC_KEYS = [
  "projectID",
  "pipedID",
  "pipedKeyFile",
  "pipedKeyData",
  "name",
  "apiAddress",
  "webAddress",
  "syncInterval",
  "appConfigSyncInterval",
  "git",
  "repositories",
  "chartRepositories",
  "chartRegistries",
  "cloudProviders",
  "platformProviders",
  "analysisProviders",
  "notifications",
  "secretManagement",
  "eventWatcher",
  "appSelector",
  "planPreview",
  // pipecd-ts only: switches for our improvements, the default of every app (safety.ts)
  "safety",
  // pipecd-ts only: how many deployments of different apps run at once
  "maxConcurrentDeployments",
] as const;
const PROVIDER_TYPES = ["KUBERNETES", "TERRAFORM", "CLOUDRUN", "LAMBDA", "ECS"];
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
// host:port with a DNS name, IPv4 or [IPv6] host.
const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * Why `apiAddress` is not usable, or undefined. Accepted: `host:port` (PipeCD's form; every address
 * the name resolves to is tried), `dns:///host:port` (gRPC's DNS target, the same), or several
 * `host:port` separated by commas (control-plane replicas without a load balancer).
 */
export function apiAddressProblem(apiAddress: string): string | undefined {
  const bad = (a: string): boolean => {
    const m = HOST_PORT_RE.exec(a);
    const port = m ? Number(m[3]) : 0;
    return !m || port < 1 || port > 65535;
  };
  const example = `e.g. "pipecd.example.com:443", "dns:///pipecd.example.com:443" or "cp-0.example.com:443,cp-1.example.com:443"`;
  if (apiAddress.startsWith("dns:")) {
    const rest = /^dns:\/\/\/(.*)$/.exec(apiAddress)?.[1];
    if (rest === undefined || bad(rest))
      return `must be dns:///host:port (no DNS server authority), ${example}, got "${apiAddress}"`;
    return undefined;
  }
  const list = apiAddress.split(",").map((a) => a.trim());
  const wrong = list.filter(bad);
  if (wrong.length === 0) return undefined;
  return list.length > 1
    ? `every comma-separated address must be host:port of a control-plane replica's gRPC endpoint (${example}); not: ${wrong.map((w) => `"${w}"`).join(", ")}`
    : `must be host:port of the control plane's gRPC endpoint (${example}), got "${apiAddress}"`;
}

/**
 * Parses → defaults → validates → freezes a piped config; errors name path and line. Relative
 * `pipedKeyFile` and `kubeConfigPath` are resolved against the directory of `file`.
 */
export function parsePipedConfig(file: string, text: string): PipedConfig {
  const { issues, r, root, apiVersion } = openConfigDocument(file, text);
  if (root.kind !== "Piped") {
    issues.add(["kind"], `must be "Piped", got ${JSON.stringify(root.kind ?? null)}`);
    issues.throwIfAny(file);
  }
  const spec = r.map(["spec"], root.spec) ?? {};
  r.keys(["spec"], spec, SPEC_KEYS);
  const S = (...p: FieldPath): FieldPath => ["spec", ...p];
  const baseDir = dirname(resolve(file));

  const projectID = r.requiredString(S("projectID"), spec.projectID);
  const pipedID = r.requiredString(S("pipedID"), spec.pipedID);

  // Exactly one of pipedKeyFile / pipedKeyData. Never echo the key data in a message.
  const keyFile = r.string(S("pipedKeyFile"), spec.pipedKeyFile);
  const keyData = r.string(S("pipedKeyData"), spec.pipedKeyData);
  let pipedKey = "";
  if (keyFile === "" && keyData === "")
    issues.add(["spec"], "either pipedKeyFile or pipedKeyData must be set");
  else if (keyFile !== "" && keyData !== "")
    issues.add(S("pipedKeyData"), "only one of pipedKeyFile and pipedKeyData can be set");
  else if (keyData !== "") {
    const compact = keyData.replace(/\s+/g, "");
    if (!BASE64_RE.test(compact) || compact.length % 4 === 1)
      issues.add(S("pipedKeyData"), "must be base64 (the key itself is not logged)");
    else {
      pipedKey = Buffer.from(compact, "base64").toString("utf8").trim();
      if (pipedKey === "") issues.add(S("pipedKeyData"), "decodes to an empty key");
    }
  }

  const apiAddress = r.requiredString(S("apiAddress"), spec.apiAddress);
  if (apiAddress !== "") {
    const problem = apiAddressProblem(apiAddress);
    if (problem) issues.add(S("apiAddress"), problem);
  }

  const cfg: PipedConfig = {
    apiVersion,
    kind: "Piped",
    projectID,
    pipedID,
    pipedKey,
    pipedKeyFile: keyFile === "" ? "" : resolve(baseDir, keyFile),
    apiAddress,
    webAddress: r.string(S("webAddress"), spec.webAddress),
    name: r.string(S("name"), spec.name),
    syncIntervalMs: r.durationMs(S("syncInterval"), spec.syncInterval, MINUTE),
    appConfigSyncIntervalMs: r.durationMs(
      S("appConfigSyncInterval"),
      spec.appConfigSyncInterval,
      MINUTE,
    ),
    repositories: readRepositories(r, S("repositories"), spec.repositories),
    platformProviders: readProviders(r, spec, baseDir),
    appSelector: r.stringMap(S("appSelector"), spec.appSelector),
    git: readGit(r, S("git"), spec.git),
    chartRepositories: readChartRepositories(r, S("chartRepositories"), spec.chartRepositories),
    chartRegistries: readChartRegistries(r, S("chartRegistries"), spec.chartRegistries),
    analysisProviders: readAnalysisProviders(r, S("analysisProviders"), spec.analysisProviders),
    notifications: readNotifications(r, S("notifications"), spec.notifications, baseDir),
    secretManagement: readSecretManagement(
      r,
      S("secretManagement"),
      spec.secretManagement,
      baseDir,
    ),
    eventWatcher: readPipedEventWatcher(r, S("eventWatcher"), spec.eventWatcher),
    planPreview: r.looseMap(S("planPreview"), spec.planPreview),
    safety: resolveSafety(readSafety(r, S("safety"), spec.safety), undefined),
    maxConcurrentDeployments: r.int(
      S("maxConcurrentDeployments"),
      spec.maxConcurrentDeployments,
      10,
      1,
      1_000,
    ),
    warnings: [],
  };
  r.notImplemented(S("planPreview"), spec.planPreview);
  issues.throwIfAny(file);
  return deepFreeze({ ...cfg, warnings: issues.warnings() });
}

/**
 * `git`: the commit identity of the event watcher. PipeCD's SSH settings (`sshKeyFile`,
 * `sshKeyData`, `sshConfigFilePath`, `host`, `hostName`) are accepted with a warning: this piped
 * uses the remotes' own credentials (a token in the URL, or the pod's SSH setup).
 */
function readGit(r: FieldReader, p: FieldPath, v: unknown): PipedConfig["git"] {
  const m = r.map(p, v) ?? {};
  const ssh = ["sshConfigFilePath", "host", "hostName", "sshKeyFile", "sshKeyData"];
  r.keys(p, m, ["username", "email", ...ssh]);
  for (const k of ssh) r.notImplemented([...p, k], m[k]);
  return {
    username: r.string([...p, "username"], m.username) || "piped",
    email: r.string([...p, "email"], m.email) || "pipecd.dev@gmail.com",
  };
}

/** `eventWatcher`: `checkInterval`; PipeCD's `gitRepos` (the deprecated `.pipe/` flow) warns. */
function readPipedEventWatcher(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
): PipedConfig["eventWatcher"] {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["checkInterval", "gitRepos"]);
  r.notImplemented([...p, "gitRepos"], m.gitRepos);
  return { checkIntervalMs: r.durationMs([...p, "checkInterval"], m.checkInterval, MINUTE) };
}

function readSecretManagement(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  baseDir: string,
): SecretManagement | undefined {
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["type", "config"]);
  const type = r.string([...p, "type"], m.type);
  if (type === "GCP_KMS") {
    r.add([...p, "type"], 'type "GCP_KMS" is not implemented yet (as in PipeCD); use KEY_PAIR');
    return undefined;
  }
  if (type !== "KEY_PAIR") {
    r.add([...p, "type"], `must be KEY_PAIR, got ${JSON.stringify(m.type ?? null)}`);
    return undefined;
  }
  const cp = [...p, "config"];
  const c = r.map(cp, m.config) ?? {};
  r.keys(cp, c, ["privateKeyFile", "privateKeyData", "publicKeyFile", "publicKeyData"]);
  const key = (name: "privateKey" | "publicKey"): { file: string; pem: string } => {
    const file = r.string([...cp, `${name}File`], c[`${name}File`]);
    const data = r.string([...cp, `${name}Data`], c[`${name}Data`]);
    if ((file === "") === (data === "")) {
      r.add(cp, `exactly one of ${name}File and ${name}Data must be set`);
      return { file: "", pem: "" };
    }
    if (file !== "") return { file: resolve(baseDir, file), pem: "" };
    const compact = data.replace(/\s+/g, "");
    if (!BASE64_RE.test(compact) || compact.length % 4 === 1) {
      r.add([...cp, `${name}Data`], "must be base64 of the PEM (the key itself is not logged)");
      return { file: "", pem: "" };
    }
    return { file: "", pem: Buffer.from(compact, "base64").toString("utf8") };
  };
  const priv = key("privateKey");
  const pub = key("publicKey");
  return {
    type: "KEY_PAIR",
    privateKeyFile: priv.file,
    privateKeyPem: priv.pem,
    publicKeyFile: pub.file,
    publicKeyPem: pub.pem,
  };
}

/** Reads and parses a piped config file, then reads `pipedKeyFile` into `pipedKey`. */
export async function loadPipedConfig(path: string): Promise<PipedConfig> {
  const text = await readConfigFile(path);
  const cfg = parsePipedConfig(path, text);
  if (cfg.pipedKeyFile === "") return cfg;
  let key: string;
  try {
    key = (await readFile(cfg.pipedKeyFile, "utf8")).trim();
  } catch (err) {
    throw new ConfigError(path, [
      {
        path: "spec.pipedKeyFile",
        message: `cannot read ${cfg.pipedKeyFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
      },
    ]);
  }
  if (key === "")
    throw new ConfigError(path, [
      { path: "spec.pipedKeyFile", message: `${cfg.pipedKeyFile} is empty` },
    ]);
  return Object.freeze({ ...cfg, pipedKey: key });
}

/**
 * A copy of the config safe to log: the piped key replaced by `******`, as PipeCD's Mask, and
 * credentials dropped from the repositories' remotes ({@link redactRemote}).
 */
export function redactPipedConfig(cfg: PipedConfig): PipedConfig {
  return Object.freeze({
    ...cfg,
    pipedKey: cfg.pipedKey === "" ? "" : "******",
    repositories: cfg.repositories.map((r) => ({ ...r, remote: redactRemote(r.remote) })),
    chartRepositories: cfg.chartRepositories.map((c) => ({
      ...c,
      password: c.password && "******",
    })),
    chartRegistries: cfg.chartRegistries.map((c) => ({ ...c, password: c.password && "******" })),
    // A Slack incoming-webhook URL is itself the secret: only its host is shown.
    notifications: cfg.notifications && {
      ...cfg.notifications,
      receivers: cfg.notifications.receivers.map((r) => ({
        ...r,
        ...(r.slack && {
          slack: {
            ...r.slack,
            hookURL:
              r.slack.hookURL && r.slack.hookURL.replace(/^(https?:\/\/[^/]+).*$/, "$1/******"),
            oauthToken: r.slack.oauthToken && "******",
          },
        }),
        ...(r.webhook && {
          webhook: { ...r.webhook, signatureValue: r.webhook.signatureValue && "******" },
        }),
      })),
    },
  });
}

/**
 * A Git remote without the userinfo of a URL-form remote (`https://user:token@host/org/repo.git`
 * → `https://host/org/repo.git`), for logs and for the meta reported to the control plane. The
 * scp-like form (`git@host:org/repo.git`) carries no secret and is returned as is.
 */
export function redactRemote(remote: string): string {
  return remote.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, "$1");
}

function readChartRepositories(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
): readonly ChartRepository[] {
  const out: ChartRepository[] = [];
  const names = new Set<string>();
  r.list(p, v).forEach((item, i) => {
    const ip = [...p, i];
    const m = r.map(ip, item);
    if (!m) {
      if (item === undefined || item === null) r.add(ip, "must be a mapping with name and address");
      return;
    }
    r.keys(ip, m, [
      "type",
      "name",
      "address",
      "username",
      "password",
      "insecure",
      "gitRemote",
      "sshKeyFile",
    ]);
    const at = (k: string): FieldPath => [...ip, k];
    const type = r.string(at("type"), m.type) || "HTTP";
    if (type !== "HTTP" && type !== "GIT") {
      r.add(at("type"), `must be HTTP or GIT, got ${JSON.stringify(type)}`);
      return;
    }
    const repo: ChartRepository = {
      type,
      name: type === "HTTP" ? r.requiredString(at("name"), m.name) : r.string(at("name"), m.name),
      address:
        type === "HTTP"
          ? r.requiredString(at("address"), m.address)
          : r.string(at("address"), m.address),
      username: r.string(at("username"), m.username),
      password: r.string(at("password"), m.password),
      insecure: r.bool(at("insecure"), m.insecure, false),
      gitRemote:
        type === "GIT"
          ? r.requiredString(at("gitRemote"), m.gitRemote)
          : r.string(at("gitRemote"), m.gitRemote),
      sshKeyFile: r.string(at("sshKeyFile"), m.sshKeyFile),
    };
    if (repo.type === "HTTP" && repo.name) {
      if (names.has(repo.name)) r.add(at("name"), `duplicate chart repository "${repo.name}"`);
      names.add(repo.name);
    }
    out.push(repo);
  });
  return out; // frozen with the whole config
}

function readChartRegistries(r: FieldReader, p: FieldPath, v: unknown): readonly ChartRegistry[] {
  const out: ChartRegistry[] = [];
  r.list(p, v).forEach((item, i) => {
    const ip = [...p, i];
    const m = r.map(ip, item);
    if (!m) {
      if (item === undefined || item === null) r.add(ip, "must be a mapping with address");
      return;
    }
    r.keys(ip, m, ["type", "address", "username", "password"]);
    const at = (k: string): FieldPath => [...ip, k];
    const type = r.string(at("type"), m.type) || "OCI";
    if (type !== "OCI") r.add(at("type"), `must be OCI, got ${JSON.stringify(type)}`);
    out.push({
      type: "OCI",
      address: r.requiredString(at("address"), m.address),
      username: r.string(at("username"), m.username),
      password: r.string(at("password"), m.password),
    });
  });
  return out; // frozen with the whole config
}

function readRepositories(r: FieldReader, p: FieldPath, v: unknown): readonly PipedRepository[] {
  const out: PipedRepository[] = [];
  const seen = new Map<string, number>();
  r.list(p, v).forEach((item, i) => {
    const ip = [...p, i];
    const m = r.map(ip, item);
    if (!m) {
      if (item === undefined || item === null)
        r.add(ip, "must be a mapping with repoId, remote, branch");
      return;
    }
    r.keys(ip, m, ["repoId", "remote", "branch"]);
    const repoId = r.requiredString([...ip, "repoId"], m.repoId);
    const first = seen.get(repoId);
    if (repoId !== "" && first !== undefined)
      r.add([...ip, "repoId"], `duplicate repoId "${repoId}" (also repositories[${first}])`);
    else seen.set(repoId, i);
    out.push({
      repoId,
      remote: r.requiredString([...ip, "remote"], m.remote),
      branch: r.requiredString([...ip, "branch"], m.branch),
    });
  });
  return out;
}

function readProviders(
  r: FieldReader,
  spec: YamlMap,
  baseDir: string,
): readonly PipedPlatformProvider[] {
  const out: PipedPlatformProvider[] = [];
  const seen = new Map<string, string>();
  for (const key of ["platformProviders", "cloudProviders"]) {
    const p = ["spec", key];
    r.list(p, spec[key]).forEach((item, i) => {
      const ip = [...p, i];
      const m = r.map(ip, item);
      if (!m) {
        if (item === undefined || item === null) r.add(ip, "must be a mapping with name and type");
        return;
      }
      r.keys(ip, m, ["name", "type", "labels", "config"]);
      const name = r.requiredString([...ip, "name"], m.name);
      const first = seen.get(name);
      if (name !== "" && first !== undefined)
        r.add([...ip, "name"], `duplicate platform provider name "${name}" (also ${first})`);
      else seen.set(name, `${key}[${i}]`);
      const labels = r.stringMap([...ip, "labels"], m.labels);
      const type = r.requiredString([...ip, "type"], m.type);
      if (type === "") return;
      if (type !== "KUBERNETES") {
        r.add(
          [...ip, "type"],
          PROVIDER_TYPES.includes(type)
            ? `platform provider type ${type} is not supported: only KUBERNETES is supported yet`
            : `unknown platform provider type "${type}" (only KUBERNETES is supported)`,
        );
        return;
      }
      out.push({
        name,
        type: "KUBERNETES",
        labels,
        config: readKubernetesConfig(r, [...ip, "config"], m.config, baseDir),
      });
    });
  }
  return out;
}

function readKubernetesConfig(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  baseDir: string,
): KubernetesPlatformProviderConfig {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["masterURL", "kubeConfigPath", "kubectlVersion", "appStateInformer"]);
  const kubeConfigPath = r.string([...p, "kubeConfigPath"], m.kubeConfigPath);
  const ap = [...p, "appStateInformer"];
  const am = r.map(ap, m.appStateInformer) ?? {};
  r.keys(ap, am, ["namespace", "includeResources", "excludeResources"]);
  const matchers = (key: string): KubernetesResourceMatcher[] =>
    r.list([...ap, key], am[key]).map((item, i) => {
      const ip = [...ap, key, i];
      const mm = r.map(ip, item) ?? {};
      r.keys(ip, mm, ["apiVersion", "kind"]);
      return {
        apiVersion: r.string([...ip, "apiVersion"], mm.apiVersion),
        kind: r.string([...ip, "kind"], mm.kind),
      };
    });
  return {
    masterURL: r.string([...p, "masterURL"], m.masterURL),
    kubeConfigPath: kubeConfigPath === "" ? "" : resolve(baseDir, kubeConfigPath),
    kubectlVersion: r.string([...p, "kubectlVersion"], m.kubectlVersion),
    appStateInformer: {
      namespace: r.string([...ap, "namespace"], am.namespace),
      includeResources: matchers("includeResources"),
      excludeResources: matchers("excludeResources"),
    },
  };
}
