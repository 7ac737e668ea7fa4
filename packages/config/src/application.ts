import {
  readAnalysisHttp,
  readAnalysisMetrics,
  refuseAnalysisLogs,
  type AnalysisStageOptions,
} from "./analysis.js";
import { readEventWatchers, type EventWatcherConfig } from "./event-watcher.js";
import { readMentions, type NotificationMention } from "./notifications.js";
import { PredefinedStageId, StageName } from "@pipecd-ts/model";
import { readSafety, type SafetySettings } from "./safety.js";
import { readConfigFile, type ConfigIssue } from "./source.js";
import {
  deepFreeze,
  openConfigDocument,
  type FieldPath,
  type FieldReader,
  type YamlMap,
} from "./fields.js";

// ---------------------------------------------------------------------------------------------
// Config file names (PipeCD `pkg/model/application.go`).

/** The default application config file name (`app.pipecd.yaml`), as PipeCD v0. */
export const DEFAULT_APP_CONFIG_FILE = "app.pipecd.yaml";

/** The legacy application config file name, still recognised by PipeCD v0. */
export const LEGACY_APP_CONFIG_FILE = ".pipe.yaml";

/**
 * Whether a file name (or path; only the base name counts) is an application config file:
 * `.pipe.yaml` or anything ending in `.pipecd.yaml` (so `app.pipecd.yaml` too).
 */
export function isApplicationConfigFile(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return base === LEGACY_APP_CONFIG_FILE || base.endsWith(".pipecd.yaml");
}

// ---------------------------------------------------------------------------------------------
// Types.

/** Stage names allowed in `pipeline.stages` (K8S_SYNC and ROLLBACK are predefined-only in v0). */
export type PipelineStageName = Exclude<
  StageName,
  typeof StageName.K8S_SYNC | typeof StageName.ROLLBACK | typeof StageName.SCRIPT_RUN_ROLLBACK
>;

/** `skipOn`: when WAIT, WAIT_APPROVAL and ANALYSIS stages are skipped. */
export interface SkipOnOptions {
  /** Skip if the commit message starts with any of these. */
  readonly commitMessagePrefixes: readonly string[];
  /** Skip if every changed file matches one of these patterns. */
  readonly paths: readonly string[];
}

/** `with` of a WAIT stage. */
export interface WaitStageOptions {
  /** Default 1m. */
  readonly durationMs: number;
  readonly skipOn: SkipOnOptions;
}

/** `with` of a WAIT_APPROVAL stage. */
export interface WaitApprovalStageOptions {
  /** Default 6h. */
  readonly timeoutMs: number;
  /** Usernames allowed to approve; empty means anyone with the permission. */
  readonly approvers: readonly string[];
  /** Default 1; always ≥ 1. */
  readonly minApproverNum: number;
  readonly skipOn: SkipOnOptions;
}

/** `with` of a SCRIPT_RUN stage (PipeCD `ScriptRunStageOptions`). */
export interface ScriptRunStageOptions {
  /** Shell commands, run by `/bin/sh -l -c` in the app directory. */
  readonly run: string;
  /** Added to the environment after the `SR_*` variables (so they can override them). */
  readonly env: Readonly<Record<string, string>>;
  /** Default 6h. */
  readonly timeoutMs: number;
  /** Commands run (same shell and directory) when the deployment rolls back; "" for none. */
  readonly onRollback: string;
  readonly skipOn: SkipOnOptions;
}

/** `with` of a K8S_PRIMARY_ROLLOUT stage. */
export interface K8sPrimaryRolloutStageOptions {
  /** Suffix of the optional generated Service; defaults to `variantLabel.primaryValue`. */
  readonly suffix: string;
  readonly createService: boolean;
  readonly addVariantLabelToSelector: boolean;
  readonly prune: boolean;
}

/** `spec.encryption`: `{{ .encryptedSecrets.NAME }}` in `decryptionTargets` gets the plaintext. */
export interface SecretEncryption {
  /** Name → ciphertext made for the piped's public key (PipeCD's hybrid format). */
  readonly encryptedSecrets: Readonly<Record<string, string>>;
  /** Files templated with the plaintexts, relative to the app directory; never empty. */
  readonly decryptionTargets: readonly string[];
}

/** `spec.attachment`: `{{ .attachment.NAME }}` in `targets` gets the contents of a source file. */
export interface Attachment {
  /** Name → file, relative to the app directory. */
  readonly sources: Readonly<Record<string, string>>;
  /** Files templated with the contents, relative to the app directory; never empty. */
  readonly targets: readonly string[];
}

/** A canary/baseline replica count: an absolute number or a percentage of the primary's. */
export type ReplicasSpec =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "percent"; readonly value: number };

/** One patch of K8S_CANARY_ROLLOUT `patches[]`. */
export interface K8sResourcePatch {
  readonly target: {
    readonly kind: string;
    readonly name: string;
    /** Path of a field holding an embedded YAML/JSON document to patch instead of the manifest. */
    readonly documentRoot: string;
  };
  readonly ops: readonly {
    /** Only "yaml-replace" is implemented (as in PipeCD v0). */
    readonly op: "yaml-replace";
    /** JSONPath-like, e.g. `$.spec.foo`. */
    readonly path: string;
    readonly value: string;
  }[];
}

/** `with` of a K8S_CANARY_ROLLOUT stage. */
export interface K8sCanaryRolloutStageOptions {
  /** Undefined when unset (then 1 pod, see {@link calculateReplicas}). */
  readonly replicas: ReplicasSpec | undefined;
  /** Name suffix of the canary resources; defaults to `variantLabel.canaryValue`. */
  readonly suffix: string;
  readonly createService: boolean;
  readonly patches: readonly K8sResourcePatch[];
}

/** `with` of a K8S_BASELINE_ROLLOUT stage. */
export interface K8sBaselineRolloutStageOptions {
  /** Undefined when unset (then 1 pod, see {@link calculateReplicas}). */
  readonly replicas: ReplicasSpec | undefined;
  /** Name suffix of the baseline resources; defaults to `variantLabel.baselineValue`. */
  readonly suffix: string;
  readonly createService: boolean;
}

/** `with` of K8S_CANARY_CLEAN / K8S_BASELINE_CLEAN (no options). */
export type K8sCleanStageOptions = Readonly<Record<string, never>>;

/** A variant name as used by K8S_TRAFFIC_ROUTING `all`. */
export type VariantName = "primary" | "canary" | "baseline";

/** `with` of a K8S_TRAFFIC_ROUTING stage, as written (see {@link trafficPercentages}). */
export interface K8sTrafficRoutingStageOptions {
  readonly all: VariantName | undefined;
  readonly primary: number | undefined;
  readonly canary: number | undefined;
  readonly baseline: number | undefined;
}

/** The traffic split a K8S_TRAFFIC_ROUTING stage asks for; always sums to 100. */
export interface TrafficPercentages {
  readonly primary: number;
  readonly canary: number;
  readonly baseline: number;
}

/** The `with` type of each pipeline stage name. */
export interface StageOptionsByName {
  WAIT: WaitStageOptions;
  WAIT_APPROVAL: WaitApprovalStageOptions;
  ANALYSIS: AnalysisStageOptions;
  K8S_PRIMARY_ROLLOUT: K8sPrimaryRolloutStageOptions;
  K8S_CANARY_ROLLOUT: K8sCanaryRolloutStageOptions;
  K8S_CANARY_CLEAN: K8sCleanStageOptions;
  K8S_BASELINE_ROLLOUT: K8sBaselineRolloutStageOptions;
  K8S_BASELINE_CLEAN: K8sCleanStageOptions;
  K8S_TRAFFIC_ROUTING: K8sTrafficRoutingStageOptions;
  SCRIPT_RUN: ScriptRunStageOptions;
}

/** One entry of `pipeline.stages` for stage name `N`. */
export interface StageConfig<N extends PipelineStageName> {
  /** Position in `pipeline.stages` (PipeCD finds a stage's config by this index). */
  readonly index: number;
  /** The configured id, or `stage-<index>`. */
  readonly id: string;
  readonly name: N;
  readonly desc: string;
  /** `timeout` of the stage; undefined when unset (PipeCD v0 parses it but does not enforce it). */
  readonly timeoutMs: number | undefined;
  readonly with: StageOptionsByName[N];
}

/** One entry of `pipeline.stages`; narrow on `name` to get the typed `with`. */
export type PipelineStageConfig = { [N in PipelineStageName]: StageConfig<N> }[PipelineStageName];

/** `trigger`: which events may trigger a deployment. */
export interface TriggerConfig {
  readonly onCommit: {
    readonly disabled: boolean;
    readonly paths: readonly string[];
    readonly ignores: readonly string[];
  };
  readonly onCommand: { readonly disabled: boolean };
  /** Disabled by default. */
  readonly onOutOfSync: { readonly disabled: boolean; readonly minWindowMs: number };
  /** Disabled by default. */
  readonly onChain: { readonly disabled: boolean };
}

/** `input` of a KubernetesApp. */
export interface KubernetesDeploymentInput {
  /** Manifest files; empty means every yaml/yml/json file in the app directory. */
  readonly manifests: readonly string[];
  /** Overrides the namespace of every manifest when non-empty. */
  readonly namespace: string;
  /** Default true: a hidden ROLLBACK stage is added to pipelines (what v0 k8s reads). */
  readonly autoRollback: boolean;
  readonly autoCreateNamespace: boolean;
  readonly kubectlVersion: string;
  readonly kustomizeVersion: string;
  readonly helmVersion: string;
  /** Each entry becomes `--<key> [<value>]` of `kustomize build` (PipeCD §1.6). */
  readonly kustomizeOptions: Readonly<Record<string, string>>;
  /** Set: the manifests are rendered by `helm template` (PipeCD §1.1). */
  readonly helmChart: HelmChart | undefined;
  readonly helmOptions: HelmOptions;
}

/**
 * `input.helmChart` (PipeCD `InputHelmChart`): a chart from another git remote (`gitRemote`,
 * `ref`, `path`; takes precedence), from a Helm repository (`repository` = the name of a piped
 * `chartRepositories` entry, or an `oci://` prefix; `name`, `version`), or a local chart (`path`,
 * relative to the app directory and inside the repository).
 */
export interface HelmChart {
  readonly gitRemote: string;
  readonly ref: string;
  readonly path: string;
  readonly repository: string;
  readonly name: string;
  readonly version: string;
}

/** `input.helmOptions` (PipeCD `InputHelmOptions`), defaulted. */
export interface HelmOptions {
  /** Empty: the application's name (known when rendering). */
  readonly releaseName: string;
  /** `-f` files: inside the app directory, or http(s) URLs. */
  readonly valueFiles: readonly string[];
  /** `--set k=v`. */
  readonly setValues: Readonly<Record<string, string>>;
  /** `--set-file k=path`. */
  readonly setFiles: Readonly<Record<string, string>>;
  /** `--api-versions`. */
  readonly apiVersions: readonly string[];
  /** `--kube-version` when non-empty. */
  readonly kubeVersion: string;
}

/** A reference to a Kubernetes resource by kind and name. */
export interface K8sResourceReference {
  readonly kind: string;
  /** Empty means every resource of the kind. */
  readonly name: string;
}

/** `trafficRouting.method`. */
export type TrafficRoutingMethod = "podselector" | "istio" | "smi";

/** `trafficRouting`. */
export interface KubernetesTrafficRouting {
  /** Default podselector. */
  readonly method: TrafficRoutingMethod;
  readonly istio: {
    /** HTTP route names that may be rewritten; empty means every route. */
    readonly editableRoutes: readonly string[];
    /** Destination host used in the rewritten routes; required when routing with Istio. */
    readonly host: string;
    /** Which VirtualService to edit; empty name means the first one found. */
    readonly virtualService: K8sResourceReference;
  };
}

/** `variantLabel`: the label distinguishing variants (also the DestinationRule subset names). */
export interface KubernetesVariantLabel {
  /** Default `pipecd.dev/variant`. */
  readonly key: string;
  readonly primaryValue: string;
  readonly canaryValue: string;
  readonly baselineValue: string;
}

/** One `resourceRoutes[]` entry: which platform provider(s) get matching resources. */
export interface KubernetesResourceRoute {
  readonly provider: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  /** Undefined matches every resource. */
  readonly match: { readonly kind: string; readonly name: string } | undefined;
}

/** One block of a deployment chain: the applications with this name, kind and labels. */
export interface ChainMatcher {
  readonly name: string;
  readonly kind: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** `driftDetection` of an application config. */
export interface DriftDetectionConfig {
  readonly ignoreFields: readonly string[];
}

/** A KubernetesApp application config (`app.pipecd.yaml`), defaulted, validated and frozen. */
export interface ApplicationConfig {
  readonly apiVersion: string;
  readonly kind: "KubernetesApp";
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
  readonly planner: { readonly alwaysUsePipeline: boolean; readonly autoRollback: boolean };
  /** Regexes on the commit message (undefined when unset); compile with {@link goRegExp}. */
  readonly commitMatcher: {
    readonly quickSync: string | undefined;
    readonly pipeline: string | undefined;
  };
  /** Empty stages means every deployment is a quick sync. */
  readonly pipeline: { readonly stages: readonly PipelineStageConfig[] };
  readonly trigger: TriggerConfig;
  /** Deployment timeout, default 6h. */
  readonly timeoutMs: number;
  readonly input: KubernetesDeploymentInput;
  readonly quickSync: { readonly addVariantLabelToSelector: boolean; readonly prune: boolean };
  /** Empty name means every Service. */
  readonly service: K8sResourceReference;
  /** Empty means every Deployment. */
  readonly workloads: readonly K8sResourceReference[];
  readonly trafficRouting: KubernetesTrafficRouting;
  readonly variantLabel: KubernetesVariantLabel;
  readonly resourceRoutes: readonly KubernetesResourceRoute[];
  /** pipecd-ts only: per-app switches for our improvements, overriding the piped's (safety.ts). */
  readonly safety: Partial<SafetySettings>;
  /** Accepted as written, not interpreted. */
  /** `postSync.chain`: the applications deployed after this one succeeded (PipeCD §7). */
  readonly postSync: { readonly chain: readonly ChainMatcher[] };
  /** Secrets decrypted by the piped into `decryptionTargets` before planning (PipeCD §3.4). */
  readonly encryption: SecretEncryption | undefined;
  /** Files inlined into `targets` before planning (PipeCD §3.4). */
  readonly attachment: Attachment | undefined;
  /** `notification.mentions`: who is mentioned in Slack for which events. */
  readonly notification: { readonly mentions: readonly NotificationMention[] };
  /** `eventWatcher`: events that update files of the app in Git (PipeCD §6). */
  readonly eventWatcher: readonly EventWatcherConfig[];
  /** `driftDetection`: fields left out of the drift comparison. */
  readonly driftDetection: DriftDetectionConfig;
  /**
   * What the user must be told though the file is valid, in file order: keys ignored as PipeCD
   * ignores them (in pipeline stages) and fields accepted but not implemented yet.
   */
  readonly warnings: readonly ConfigIssue[];
}

// ---------------------------------------------------------------------------------------------
// Calculations.

/**
 * PipeCD's `Replicas.Calculate`: the replica count of a canary/baseline workload whose primary
 * has `total` replicas (`spec.replicas`; undefined when the manifest omits it, which gives 1).
 * Unset or 0 gives `defaultValue`; a number is used as is; `P%` gives `ceil(P × total / 100)`.
 */
export function calculateReplicas(
  spec: ReplicasSpec | undefined,
  total: number | undefined,
  defaultValue = 1,
): number {
  if (total === undefined) return 1;
  if (spec === undefined || spec.value === 0) return defaultValue;
  if (spec.kind === "number") return spec.value;
  return Math.ceil((spec.value * total) / 100);
}

/**
 * The split a K8S_TRAFFIC_ROUTING stage asks for. `all: X` gives X 100. Otherwise omitted
 * canary/baseline are 0 and an omitted primary takes the remainder (which is how PipeCD's
 * Istio routing treats primary anyway); nothing set at all means primary 100.
 */
export function trafficPercentages(opts: K8sTrafficRoutingStageOptions): TrafficPercentages {
  if (opts.all !== undefined) {
    return {
      primary: opts.all === "primary" ? 100 : 0,
      canary: opts.all === "canary" ? 100 : 0,
      baseline: opts.all === "baseline" ? 100 : 0,
    };
  }
  const canary = opts.canary ?? 0;
  const baseline = opts.baseline ?? 0;
  return { primary: opts.primary ?? 100 - canary - baseline, canary, baseline };
}

/**
 * Compiles a Go (RE2) regular expression, as written in `commitMatcher`, to a JS RegExp: a
 * leading `(?i)`/`(?m)`/`(?s)` becomes a flag, `(?P<name>` a named group and `\z` end of input.
 * Throws a SyntaxError when the pattern is invalid.
 */
export function goRegExp(pattern: string): RegExp {
  let src = pattern;
  let flags = "";
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1] ?? "") {
      if (f !== "i" && f !== "m" && f !== "s") throw new SyntaxError(`unsupported flag (?${f})`);
      if (!flags.includes(f)) flags += f;
    }
    src = src.slice(lead[0].length);
  }
  src = src.replace(/\(\?P</g, "(?<").replace(/\\z/g, "(?![\\s\\S])");
  return new RegExp(src, flags);
}

/** Whether the pipeline has a stage with the given name (PipeCD `HasStage`). */
export function hasStage(cfg: ApplicationConfig, name: PipelineStageName): boolean {
  return cfg.pipeline.stages.some((s) => s.name === name);
}

// ---------------------------------------------------------------------------------------------
// Loader.

const HOUR = 3_600_000;
const MINUTE = 60_000;

const SPEC_KEYS = [
  // GenericApplicationSpec
  "name",
  "labels",
  "description",
  "planner",
  "commitMatcher",
  "pipeline",
  "trigger",
  "postSync",
  "timeout",
  "encryption",
  "attachment",
  "notification",
  "eventWatcher",
  "driftDetection",
  // KubernetesApplicationSpec
  "input",
  "quickSync",
  "service",
  "workloads",
  "trafficRouting",
  "variantLabel",
  "resourceRoutes",
  // pipecd-ts only: switches for our improvements (safety.ts)
  "safety",
] as const;

const PIPELINE_STAGE_NAMES: readonly PipelineStageName[] = [
  StageName.WAIT,
  StageName.WAIT_APPROVAL,
  StageName.ANALYSIS,
  StageName.K8S_PRIMARY_ROLLOUT,
  StageName.K8S_CANARY_ROLLOUT,
  StageName.K8S_CANARY_CLEAN,
  StageName.K8S_BASELINE_ROLLOUT,
  StageName.K8S_BASELINE_CLEAN,
  StageName.K8S_TRAFFIC_ROUTING,
  StageName.SCRIPT_RUN,
];

/** Parses → defaults → validates → freezes a KubernetesApp config; errors name path and line. */
export function parseApplicationConfig(file: string, text: string): ApplicationConfig {
  const { issues, r, root, apiVersion } = openConfigDocument(file, text);
  if (root.kind !== "KubernetesApp") {
    issues.add(
      ["kind"],
      root.kind === undefined || root.kind === null
        ? "is required: only KubernetesApp is supported"
        : `kind ${JSON.stringify(root.kind)} is not supported: only KubernetesApp is supported`,
    );
    // The spec schema depends on the kind; checking it against KubernetesApp would only add noise.
    issues.throwIfAny(file);
  }
  const spec = r.map(["spec"], root.spec) ?? {};
  r.keys(["spec"], spec, SPEC_KEYS);
  const S = (...p: FieldPath): FieldPath => ["spec", ...p];

  const variantLabel = readVariantLabel(r, S("variantLabel"), spec.variantLabel);
  const trafficRouting = readTrafficRouting(r, S("trafficRouting"), spec.trafficRouting);
  const stages = readStages(r, S("pipeline"), spec.pipeline, variantLabel);
  validateRouting(r, trafficRouting, stages);

  const cfg: ApplicationConfig = {
    apiVersion,
    kind: "KubernetesApp",
    name: r.string(S("name"), spec.name),
    labels: r.stringMap(S("labels"), spec.labels),
    description: r.string(S("description"), spec.description),
    planner: readPlanner(r, S("planner"), spec.planner),
    commitMatcher: readCommitMatcher(r, S("commitMatcher"), spec.commitMatcher),
    pipeline: { stages },
    trigger: readTrigger(r, S("trigger"), spec.trigger),
    timeoutMs: r.durationMs(S("timeout"), spec.timeout, 6 * HOUR),
    input: readInput(r, S("input"), spec.input),
    quickSync: readQuickSync(r, S("quickSync"), spec.quickSync),
    service: readResourceRef(r, S("service"), spec.service, "Service") ?? {
      kind: "Service",
      name: "",
    },
    workloads: r
      .list(S("workloads"), spec.workloads)
      .map((w, i) => readResourceRef(r, S("workloads", i), w, "Deployment", true))
      .filter((w): w is K8sResourceReference => w !== undefined),
    trafficRouting,
    variantLabel,
    resourceRoutes: readResourceRoutes(r, S("resourceRoutes"), spec.resourceRoutes),
    safety: readSafety(r, S("safety"), spec.safety),
    postSync: readPostSync(r, S("postSync"), spec.postSync),
    encryption: readEncryption(r, S("encryption"), spec.encryption),
    attachment: readAttachment(r, S("attachment"), spec.attachment),
    notification: { mentions: readMentions(r, S("notification"), spec.notification) },
    eventWatcher: readEventWatchers(r, S("eventWatcher"), spec.eventWatcher),
    driftDetection: readDriftDetection(r, S("driftDetection"), spec.driftDetection),
    warnings: [],
  };
  warnNotImplemented(r, spec, cfg);
  issues.throwIfAny(file);
  return deepFreeze({ ...cfg, warnings: issues.warnings() });
}

/**
 * Warns about each field PipeCD has that this product accepts as written without acting on it
 * yet, when the file asks for something with it.
 */
function warnNotImplemented(r: FieldReader, spec: YamlMap, cfg: ApplicationConfig): void {
  r.notImplemented(["spec", "resourceRoutes"], spec.resourceRoutes);
  r.notImplemented(["spec", "input", "kubectlVersion"], cfg.input.kubectlVersion, "");
}

/** Reads and parses an application config file (e.g. `app.pipecd.yaml`). */
export async function loadApplicationConfig(path: string): Promise<ApplicationConfig> {
  const text = await readConfigFile(path);
  return parseApplicationConfig(path, text);
}

// ---------------------------------------------------------------------------------------------
// Sections.

function readPlanner(r: FieldReader, p: FieldPath, v: unknown): ApplicationConfig["planner"] {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["alwaysUsePipeline", "autoRollback"]);
  return {
    alwaysUsePipeline: r.bool([...p, "alwaysUsePipeline"], m.alwaysUsePipeline, false),
    autoRollback: r.bool([...p, "autoRollback"], m.autoRollback, true),
  };
}

function readCommitMatcher(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
): ApplicationConfig["commitMatcher"] {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["quickSync", "pipeline"]);
  const regex = (key: string): string | undefined => {
    const s = r.string([...p, key], m[key]);
    if (s === "") return undefined;
    try {
      goRegExp(s);
    } catch (err) {
      r.add([...p, key], (err as Error).message);
    }
    return s;
  };
  return { quickSync: regex("quickSync"), pipeline: regex("pipeline") };
}

const APP_KINDS = ["KUBERNETES", "TERRAFORM", "LAMBDA", "CLOUDRUN", "ECS"];

/**
 * PipeCD's `postSync.chain.applications`: each entry one block, with at least one of name, kind
 * (one of PipeCD's application kinds) and labels.
 */
function readPostSync(r: FieldReader, p: FieldPath, v: unknown): ApplicationConfig["postSync"] {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["chain"]);
  const cp = [...p, "chain"];
  const cm = r.map(cp, m.chain);
  if (!cm) return { chain: [] };
  r.keys(cp, cm, ["applications"]);
  const ap = [...cp, "applications"];
  const apps = r.list(ap, cm.applications).map((item, i) => {
    const ip = [...ap, i];
    const im = r.map(ip, item) ?? {};
    r.keys(ip, im, ["name", "kind", "labels"]);
    const matcher = {
      name: r.string([...ip, "name"], im.name),
      kind: r.string([...ip, "kind"], im.kind),
      labels: r.stringMap([...ip, "labels"], im.labels),
    };
    if (!matcher.name && !matcher.kind && Object.keys(matcher.labels).length === 0)
      r.add(ip, "needs at least one of name, kind and labels");
    if (matcher.kind && !APP_KINDS.includes(matcher.kind))
      r.add([...ip, "kind"], `must be one of ${APP_KINDS.join(", ")}`);
    return matcher;
  });
  if (apps.length === 0) r.add(ap, "needs at least one application");
  return { chain: apps };
}

/**
 * PipeCD's `driftDetection.ignoreFields`: `apiVersion:kind:namespace:name#fieldPath` each, with
 * exactly one `#`, a field path and a resource key of four parts (PipeCD `Validate` asks only for
 * the one `#`).
 */
function readDriftDetection(r: FieldReader, p: FieldPath, v: unknown): DriftDetectionConfig {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["ignoreFields"]);
  const fp = [...p, "ignoreFields"];
  const ignoreFields = r.stringList(fp, m.ignoreFields);
  ignoreFields.forEach((f, i) => {
    const parts = f.split("#");
    // At least four key parts: a cluster-scoped name may hold colons (system:controller).
    if (parts.length !== 2 || parts[1] === "" || parts[0]!.split(":").length < 4)
      r.add(
        [...fp, i],
        `must be "apiVersion:kind:namespace:name#fieldPath" (e.g. apps/v1:Deployment:default:web#spec.replicas), not ${JSON.stringify(f)}`,
      );
  });
  return { ignoreFields };
}

function readTrigger(r: FieldReader, p: FieldPath, v: unknown): TriggerConfig {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["onCommit", "onCommand", "onOutOfSync", "onChain"]);
  const sub = (key: string, known: string[]): [FieldPath, YamlMap] => {
    const sp = [...p, key];
    const sm = r.map(sp, m[key]) ?? {};
    r.keys(sp, sm, known);
    return [sp, sm];
  };
  const [cp, commit] = sub("onCommit", ["disabled", "paths", "ignores"]);
  const [dp, command] = sub("onCommand", ["disabled"]);
  const [op, outOfSync] = sub("onOutOfSync", ["disabled", "minWindow"]);
  const [hp, chain] = sub("onChain", ["disabled"]);
  return {
    onCommit: {
      disabled: r.bool([...cp, "disabled"], commit.disabled, false),
      paths: r.stringList([...cp, "paths"], commit.paths),
      ignores: r.stringList([...cp, "ignores"], commit.ignores),
    },
    onCommand: { disabled: r.bool([...dp, "disabled"], command.disabled, false) },
    onOutOfSync: {
      disabled: r.bool([...op, "disabled"], outOfSync.disabled, true),
      minWindowMs: r.durationMs([...op, "minWindow"], outOfSync.minWindow, 5 * MINUTE),
    },
    onChain: { disabled: r.bool([...hp, "disabled"], chain.disabled, true) },
  };
}

function readInput(r: FieldReader, p: FieldPath, v: unknown): KubernetesDeploymentInput {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, [
    "manifests",
    "kubectlVersion",
    "kustomizeVersion",
    "kustomizeOptions",
    "helmVersion",
    "helmChart",
    "helmOptions",
    "namespace",
    "autoRollback",
    "autoCreateNamespace",
  ]);
  const at = (k: string): FieldPath => [...p, k];
  return {
    manifests: r.stringList(at("manifests"), m.manifests),
    namespace: r.string(at("namespace"), m.namespace),
    autoRollback: r.bool(at("autoRollback"), m.autoRollback, true),
    autoCreateNamespace: r.bool(at("autoCreateNamespace"), m.autoCreateNamespace, false),
    kubectlVersion: r.string(at("kubectlVersion"), m.kubectlVersion),
    kustomizeVersion: r.string(at("kustomizeVersion"), m.kustomizeVersion),
    helmVersion: r.string(at("helmVersion"), m.helmVersion),
    kustomizeOptions: r.stringMap(at("kustomizeOptions"), m.kustomizeOptions),
    helmChart: readHelmChart(r, at("helmChart"), m.helmChart),
    helmOptions: readHelmOptions(r, at("helmOptions"), m.helmOptions),
  };
}

function readEncryption(r: FieldReader, p: FieldPath, v: unknown): SecretEncryption | undefined {
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["encryptedSecrets", "decryptionTargets"]);
  const encryptedSecrets = r.stringMap([...p, "encryptedSecrets"], m.encryptedSecrets);
  for (const [k, val] of Object.entries(encryptedSecrets))
    if (k === "" || val === "")
      r.add([...p, "encryptedSecrets", k], "needs a name and a ciphertext");
  return {
    encryptedSecrets,
    decryptionTargets: readTargets(r, [...p, "decryptionTargets"], m.decryptionTargets),
  };
}

function readAttachment(r: FieldReader, p: FieldPath, v: unknown): Attachment | undefined {
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["sources", "targets"]);
  const sources = r.stringMap([...p, "sources"], m.sources);
  for (const [k, val] of Object.entries(sources))
    if (k === "" || val === "") r.add([...p, "sources", k], "needs a name and a file");
  return { sources, targets: readTargets(r, [...p, "targets"], m.targets) };
}

/** A required, non-empty list of files relative to the app directory. */
function readTargets(r: FieldReader, p: FieldPath, v: unknown): readonly string[] {
  const targets = r.stringList(p, v);
  if (targets.length === 0) r.add(p, "must list at least one file");
  targets.forEach((t, i) => {
    if (t === "" || t.startsWith("/"))
      r.add([...p, i], "must be a path relative to the app directory");
  });
  return targets;
}

function readHelmChart(r: FieldReader, p: FieldPath, v: unknown): HelmChart | undefined {
  if (v === undefined || v === null) return undefined;
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["gitRemote", "ref", "path", "repository", "name", "version"]);
  const s = (k: string): string => r.string([...p, k], m[k]);
  const chart = {
    gitRemote: s("gitRemote"),
    ref: s("ref"),
    path: s("path"),
    repository: s("repository"),
    name: s("name"),
    version: s("version"),
  };
  if (chart.gitRemote) {
    if (!chart.path) r.add([...p, "path"], "is required with gitRemote (the chart's directory)");
  } else if (chart.repository) {
    if (!chart.name) r.add([...p, "name"], "is required with repository");
  } else if (!chart.path)
    r.add(p, "must set path (a local chart), gitRemote and path, or repository and name");
  return chart;
}

function readHelmOptions(r: FieldReader, p: FieldPath, v: unknown): HelmOptions {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, [
    "releaseName",
    "valueFiles",
    "setValues",
    "setFiles",
    "apiVersions",
    "kubeVersion",
  ]);
  const at = (k: string): FieldPath => [...p, k];
  return {
    releaseName: r.string(at("releaseName"), m.releaseName),
    valueFiles: r.stringList(at("valueFiles"), m.valueFiles),
    setValues: r.stringMap(at("setValues"), m.setValues),
    setFiles: r.stringMap(at("setFiles"), m.setFiles),
    apiVersions: r.stringList(at("apiVersions"), m.apiVersions),
    kubeVersion: r.string(at("kubeVersion"), m.kubeVersion),
  };
}

function readQuickSync(r: FieldReader, p: FieldPath, v: unknown): ApplicationConfig["quickSync"] {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["addVariantLabelToSelector", "prune"]);
  return {
    addVariantLabelToSelector: r.bool(
      [...p, "addVariantLabelToSelector"],
      m.addVariantLabelToSelector,
      false,
    ),
    prune: r.bool([...p, "prune"], m.prune, false),
  };
}

function readResourceRef(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  defaultKind: string,
  nameRequired = false,
): K8sResourceReference | undefined {
  if (nameRequired && (v === undefined || v === null)) {
    r.add(p, "must be a mapping with kind and name");
    return undefined;
  }
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["kind", "name"]);
  const kind = r.string([...p, "kind"], m.kind) || defaultKind;
  const name = nameRequired
    ? r.requiredString([...p, "name"], m.name)
    : r.string([...p, "name"], m.name);
  return { kind, name };
}

function readTrafficRouting(r: FieldReader, p: FieldPath, v: unknown): KubernetesTrafficRouting {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["method", "istio"]);
  let method: TrafficRoutingMethod = "podselector";
  const rawMethod = r.string([...p, "method"], m.method);
  if (rawMethod === "istio" || rawMethod === "smi" || rawMethod === "podselector")
    method = rawMethod;
  else if (rawMethod !== "")
    r.add([...p, "method"], `must be one of podselector, istio, smi, got "${rawMethod}"`);
  const ip = [...p, "istio"];
  const im = r.map(ip, m.istio) ?? {};
  r.keys(ip, im, ["editableRoutes", "host", "virtualService"]);
  return {
    method,
    istio: {
      editableRoutes: r.stringList([...ip, "editableRoutes"], im.editableRoutes),
      host: r.string([...ip, "host"], im.host),
      virtualService: readResourceRef(
        r,
        [...ip, "virtualService"],
        im.virtualService,
        "VirtualService",
      ) ?? { kind: "VirtualService", name: "" },
    },
  };
}

function readVariantLabel(r: FieldReader, p: FieldPath, v: unknown): KubernetesVariantLabel {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["key", "primaryValue", "canaryValue", "baselineValue"]);
  const s = (k: string, def: string): string => r.string([...p, k], m[k]) || def;
  const out = {
    key: s("key", "pipecd.dev/variant"),
    primaryValue: s("primaryValue", "primary"),
    canaryValue: s("canaryValue", "canary"),
    baselineValue: s("baselineValue", "baseline"),
  };
  const values = [out.primaryValue, out.canaryValue, out.baselineValue];
  if (new Set(values).size !== values.length)
    r.add(p, "primaryValue, canaryValue and baselineValue must differ");
  return out;
}

function readResourceRoutes(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
): readonly KubernetesResourceRoute[] {
  const out: KubernetesResourceRoute[] = [];
  r.list(p, v).forEach((item, i) => {
    const ip = [...p, i];
    const m = r.map(ip, item);
    if (!m) {
      if (item === undefined || item === null) r.add(ip, "must be a mapping with provider");
      return;
    }
    r.keys(ip, m, ["provider", "match"]);
    const pp = [...ip, "provider"];
    const pm = r.map(pp, m.provider) ?? {};
    r.keys(pp, pm, ["name", "labels"]);
    const provider = {
      name: r.string([...pp, "name"], pm.name),
      labels: r.stringMap([...pp, "labels"], pm.labels),
    };
    if (provider.name === "" && Object.keys(provider.labels).length === 0)
      r.add(pp, "must set name or labels");
    const mp = [...ip, "match"];
    const mm = r.map(mp, m.match);
    if (mm) r.keys(mp, mm, ["kind", "name"]);
    out.push({
      provider,
      match: mm
        ? { kind: r.string([...mp, "kind"], mm.kind), name: r.string([...mp, "name"], mm.name) }
        : undefined,
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pipeline stages.

function readStages(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  variant: KubernetesVariantLabel,
): PipelineStageConfig[] {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["stages"]);
  const sp = [...p, "stages"];
  const stages: PipelineStageConfig[] = [];
  const ids = new Map<string, number>();
  r.list(sp, m.stages).forEach((item, index) =>
    r.ignoringUnknownKeys(IGNORED_IN_STAGES, () => {
      const stage = readStage(r, [...sp, index], item, index, ids, variant);
      if (stage) stages.push(stage);
    }),
  );
  return stages;
}

/** Why unknown keys in a stage entry are warnings, not errors (PipeCD's `PipelineStage.UnmarshalJSON`). */
const IGNORED_IN_STAGES = "as PipeCD does in pipeline stages";

function readStage(
  r: FieldReader,
  ip: FieldPath,
  item: unknown,
  index: number,
  ids: Map<string, number>,
  variant: KubernetesVariantLabel,
): PipelineStageConfig | undefined {
  const st = r.map(ip, item);
  if (!st) {
    if (item === undefined || item === null) r.add(ip, "must be a mapping with name and with");
    return undefined;
  }
  r.keys(ip, st, ["id", "name", "desc", "timeout", "with"]);
  const id = r.string([...ip, "id"], st.id) || `stage-${index}`;
  if (id === PredefinedStageId.K8S_SYNC || id === PredefinedStageId.ROLLBACK)
    r.add([...ip, "id"], `"${id}" is reserved for a predefined stage`);
  const first = ids.get(id);
  if (first !== undefined)
    r.add(
      st.id === undefined ? ip : [...ip, "id"],
      `duplicate stage id "${id}" (also stage ${first})`,
    );
  else ids.set(id, index);
  const desc = r.string([...ip, "desc"], st.desc);
  const timeoutMs = r.optionalDurationMs([...ip, "timeout"], st.timeout);
  const name = readStageName(r, [...ip, "name"], st.name);
  if (name === undefined) return undefined;
  const wp = [...ip, "with"];
  const w = r.map(wp, st.with) ?? {};
  const common = { index, id, desc, timeoutMs };
  return stageWith(r, wp, w, name, common, variant);
}

function readStageName(r: FieldReader, p: FieldPath, v: unknown): PipelineStageName | undefined {
  if (v === undefined || v === null || v === "") {
    r.add(p, "is required");
    return undefined;
  }
  if (typeof v !== "string") {
    r.add(p, "must be a stage name");
    return undefined;
  }
  if (v === StageName.K8S_SYNC || v === StageName.ROLLBACK || v === StageName.SCRIPT_RUN_ROLLBACK) {
    r.add(p, `${v} is a predefined stage and cannot be listed in pipeline.stages`);
    return undefined;
  }
  if (!(PIPELINE_STAGE_NAMES as readonly string[]).includes(v)) {
    r.add(p, `unsupported stage name "${v}" (supported: ${PIPELINE_STAGE_NAMES.join(", ")})`);
    return undefined;
  }
  return v as PipelineStageName;
}

type StageCommon = Pick<StageConfig<PipelineStageName>, "index" | "id" | "desc" | "timeoutMs">;

function stageWith(
  r: FieldReader,
  p: FieldPath,
  w: YamlMap,
  name: PipelineStageName,
  common: StageCommon,
  variant: KubernetesVariantLabel,
): PipelineStageConfig {
  const at = (k: string): FieldPath => [...p, k];
  switch (name) {
    case "WAIT":
      r.keys(p, w, ["duration", "skipOn"]);
      return {
        ...common,
        name,
        with: {
          durationMs: r.durationMs(at("duration"), w.duration, MINUTE),
          skipOn: readSkipOn(r, at("skipOn"), w.skipOn),
        },
      };
    case "WAIT_APPROVAL":
      r.keys(p, w, ["timeout", "approvers", "minApproverNum", "skipOn"]);
      return {
        ...common,
        name,
        with: {
          timeoutMs: r.durationMs(at("timeout"), w.timeout, 6 * HOUR),
          approvers: r.stringList(at("approvers"), w.approvers),
          minApproverNum: r.int(at("minApproverNum"), w.minApproverNum, 1, 1),
          skipOn: readSkipOn(r, at("skipOn"), w.skipOn),
        },
      };
    case "ANALYSIS": {
      r.keys(p, w, ["duration", "restartThreshold", "metrics", "logs", "https", "skipOn"]);
      const durationMs = r.durationMs(at("duration"), w.duration, 0);
      if (w.duration === undefined || w.duration === null)
        r.add(at("duration"), "is required for an ANALYSIS stage");
      refuseAnalysisLogs(r, at("logs"), w.logs);
      const entries = <T>(
        key: string,
        read: (r: FieldReader, p: FieldPath, v: unknown) => T | undefined,
      ): T[] =>
        r
          .list(at(key), w[key])
          .map((v, i) => read(r, [...at(key), i], v))
          .filter((x): x is T => x !== undefined);
      return {
        ...common,
        name,
        with: {
          durationMs,
          restartThreshold: r.int(at("restartThreshold"), w.restartThreshold, 0, 0),
          metrics: entries("metrics", readAnalysisMetrics),
          https: entries("https", readAnalysisHttp),
          skipOn: readSkipOn(r, at("skipOn"), w.skipOn),
        },
      };
    }
    case "K8S_PRIMARY_ROLLOUT":
      r.keys(p, w, ["suffix", "createService", "addVariantLabelToSelector", "prune"]);
      return {
        ...common,
        name,
        with: {
          suffix: r.string(at("suffix"), w.suffix) || variant.primaryValue,
          createService: r.bool(at("createService"), w.createService, false),
          addVariantLabelToSelector: r.bool(
            at("addVariantLabelToSelector"),
            w.addVariantLabelToSelector,
            false,
          ),
          prune: r.bool(at("prune"), w.prune, false),
        },
      };
    case "K8S_CANARY_ROLLOUT":
      r.keys(p, w, ["replicas", "suffix", "createService", "patches"]);
      return {
        ...common,
        name,
        with: {
          replicas: readReplicas(r, at("replicas"), w.replicas),
          suffix: r.string(at("suffix"), w.suffix) || variant.canaryValue,
          createService: r.bool(at("createService"), w.createService, false),
          patches: readPatches(r, at("patches"), w.patches),
        },
      };
    case "K8S_BASELINE_ROLLOUT":
      r.keys(p, w, ["replicas", "suffix", "createService"]);
      return {
        ...common,
        name,
        with: {
          replicas: readReplicas(r, at("replicas"), w.replicas),
          suffix: r.string(at("suffix"), w.suffix) || variant.baselineValue,
          createService: r.bool(at("createService"), w.createService, false),
        },
      };
    case "K8S_CANARY_CLEAN":
    case "K8S_BASELINE_CLEAN":
      r.keys(p, w, []);
      return { ...common, name, with: {} };
    case "K8S_TRAFFIC_ROUTING":
      r.keys(p, w, ["all", "primary", "canary", "baseline"]);
      return { ...common, name, with: readTrafficOptions(r, p, w) };
    case "SCRIPT_RUN":
      r.keys(p, w, ["run", "env", "timeout", "onRollback", "skipOn"]);
      return {
        ...common,
        name,
        with: {
          // PipeCD never validates `run`: an empty one parses and the stage succeeds.
          run: r.string(at("run"), w.run),
          env: r.stringMap(at("env"), w.env),
          timeoutMs: r.durationMs(at("timeout"), w.timeout, 6 * HOUR),
          onRollback: r.string(at("onRollback"), w.onRollback),
          skipOn: readSkipOn(r, at("skipOn"), w.skipOn),
        },
      };
  }
}

function readSkipOn(r: FieldReader, p: FieldPath, v: unknown): SkipOnOptions {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["commitMessagePrefixes", "paths"]);
  return {
    commitMessagePrefixes: r.stringList([...p, "commitMessagePrefixes"], m.commitMessagePrefixes),
    paths: r.stringList([...p, "paths"], m.paths),
  };
}

const INT_OR_PERCENT_RE = /^(-?\d+)(%?)$/;

/** Parses PipeCD's `Replicas`: an integer or "N%" ("N" as a string is an absolute number). */
function readReplicas(r: FieldReader, p: FieldPath, v: unknown): ReplicasSpec | undefined {
  if (v === undefined || v === null) return undefined;
  let value: number;
  let percent = false;
  if (typeof v === "number" && Number.isInteger(v)) value = v;
  else {
    const m = typeof v === "string" ? INT_OR_PERCENT_RE.exec(v.trim()) : null;
    if (!m) {
      r.add(p, `must be an integer or a percentage such as "10%", got ${JSON.stringify(v)}`);
      return undefined;
    }
    value = Number(m[1]);
    percent = m[2] === "%";
  }
  if (value < 0) {
    r.add(p, `must not be negative, got ${JSON.stringify(v)}`);
    return undefined;
  }
  if (percent && value > 100) {
    r.add(p, `percentage must be 0-100%, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return percent ? { kind: "percent", value } : { kind: "number", value };
}

/** Parses PipeCD's `Percentage`: an integer, or a string "N" / "N%" (the % is ignored). */
function readPercentage(r: FieldReader, p: FieldPath, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  let value: number | undefined;
  if (typeof v === "number" && Number.isInteger(v)) value = v;
  else if (typeof v === "string") {
    const m = INT_OR_PERCENT_RE.exec(v.trim());
    if (m) value = Number(m[1]);
  }
  if (value === undefined) {
    r.add(p, `must be an integer percentage such as 10 or "10%", got ${JSON.stringify(v)}`);
    return undefined;
  }
  if (value < 0 || value > 100) {
    r.add(p, `percentage must be 0-100, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return value;
}

const VARIANTS: readonly VariantName[] = ["primary", "canary", "baseline"];

function readTrafficOptions(
  r: FieldReader,
  p: FieldPath,
  w: YamlMap,
): K8sTrafficRoutingStageOptions {
  let all: VariantName | undefined;
  const rawAll = r.string([...p, "all"], w.all);
  if ((VARIANTS as readonly string[]).includes(rawAll)) all = rawAll as VariantName;
  else if (rawAll !== "")
    r.add([...p, "all"], `must be one of primary, canary, baseline, got "${rawAll}"`);
  const opts: K8sTrafficRoutingStageOptions = {
    all,
    primary: readPercentage(r, [...p, "primary"], w.primary),
    canary: readPercentage(r, [...p, "canary"], w.canary),
    baseline: readPercentage(r, [...p, "baseline"], w.baseline),
  };
  // A value that failed to parse was reported already; a sum check would only repeat it.
  const unreadable = VARIANTS.some(
    (v) => w[v] !== undefined && w[v] !== null && opts[v] === undefined,
  );
  if (unreadable || (rawAll !== "" && all === undefined)) return opts;
  // Reject only splits that cannot be honoured; see trafficPercentages for how gaps are filled.
  if (all !== undefined) {
    const want = trafficPercentages(opts);
    for (const v of VARIANTS) {
      const given = opts[v];
      if (given !== undefined && given !== want[v])
        r.add([...p, v], `${v}: ${given} contradicts all: ${all}`);
    }
  } else {
    const canary = opts.canary ?? 0;
    const baseline = opts.baseline ?? 0;
    if (canary + baseline > 100) r.add(p, `canary (${canary}) + baseline (${baseline}) exceed 100`);
    else if (opts.primary !== undefined && opts.primary + canary + baseline !== 100)
      r.add(
        [...p, "primary"],
        `primary + canary + baseline must be 100, got ${opts.primary} + ${canary} + ${baseline}`,
      );
  }
  return opts;
}

function readPatches(r: FieldReader, p: FieldPath, v: unknown): readonly K8sResourcePatch[] {
  const out: K8sResourcePatch[] = [];
  r.list(p, v).forEach((item, i) => {
    const ip = [...p, i];
    const m = r.map(ip, item);
    if (!m) {
      if (item === undefined || item === null) r.add(ip, "must be a mapping with target and ops");
      return;
    }
    r.keys(ip, m, ["target", "ops"]);
    const tp = [...ip, "target"];
    const tm = r.map(tp, m.target) ?? {};
    r.keys(tp, tm, ["kind", "name", "documentRoot"]);
    const ops: K8sResourcePatch["ops"][number][] = [];
    r.list([...ip, "ops"], m.ops).forEach((o, j) => {
      const op = [...ip, "ops", j];
      const om = r.map(op, o) ?? {};
      r.keys(op, om, ["op", "path", "value"]);
      const name = r.string([...op, "op"], om.op) || "yaml-replace";
      if (name !== "yaml-replace")
        r.add([...op, "op"], `unsupported op "${name}" (only yaml-replace is implemented)`);
      ops.push({
        op: "yaml-replace",
        path: r.requiredString([...op, "path"], om.path),
        value: r.string([...op, "value"], om.value),
      });
    });
    out.push({
      target: {
        kind: r.string([...tp, "kind"], tm.kind),
        name: r.string([...tp, "name"], tm.name),
        documentRoot: r.string([...tp, "documentRoot"], tm.documentRoot),
      },
      ops,
    });
  });
  return out;
}

/** Cross-field checks between `trafficRouting` and the K8S_TRAFFIC_ROUTING stages. */
function validateRouting(
  r: FieldReader,
  routing: KubernetesTrafficRouting,
  stages: readonly PipelineStageConfig[],
): void {
  const routingStages = stages.filter(
    (s): s is StageConfig<"K8S_TRAFFIC_ROUTING"> => s.name === StageName.K8S_TRAFFIC_ROUTING,
  );
  if (routingStages.length === 0) return;
  const tr = ["spec", "trafficRouting"];
  switch (routing.method) {
    case "istio":
      if (routing.istio.host === "")
        r.add(
          [...tr, "istio", "host"],
          "istio routing without a host: set trafficRouting.istio.host to the destination host " +
            "(e.g. my-svc.my-ns.svc.cluster.local)",
        );
      break;
    case "smi":
      r.add([...tr, "method"], "smi traffic routing is not supported (PipeCD v0 neither)");
      break;
    case "podselector":
      // podselector switches the Service selector: all traffic to primary or to canary.
      for (const s of routingStages) {
        const pc = trafficPercentages(s.with);
        if (pc.primary !== 100 && pc.canary !== 100)
          r.add(
            ["spec", "pipeline", "stages", s.index, "with"],
            "podselector routing can only send all traffic to primary or canary " +
              "(primary: 100 or canary: 100); use trafficRouting.method: istio to split",
          );
      }
      break;
  }
}
