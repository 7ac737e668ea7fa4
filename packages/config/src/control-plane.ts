import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { parseRole, type RoleName } from "@pipecd-ts/model";
import { IssueCollector, YamlSource, parseDuration, readConfigFile } from "./source.js";

/** A web user of the control plane (static, from the config file). */
export interface ControlPlaneUser {
  readonly username: string;
  /** scrypt hash made by `pipecd-server hash-password`. */
  readonly passwordHash: string;
  readonly role: RoleName;
}

/**
 * What one piped or user may put into the control plane (`spec.limits`, docs/limits.md). Past a
 * limit the caller gets a clear error, or (logs) the oldest part is dropped and marked, and the
 * server stays fast for everyone else.
 */
export interface ControlPlaneLimits {
  /** One stage log block's text, in bytes of UTF-8; longer text is cut and marked. */
  readonly stageLogBlockBytes: number;
  /** One stage's whole log (one retry of it); past it the oldest blocks are dropped and marked. */
  readonly stageLogBytes: number;
  /** Log blocks in one ReportStageLogs call. */
  readonly stageLogBlocksPerCall: number;
  /** One metadata key. */
  readonly metadataKeyBytes: number;
  /** A deployment's metadata (every key and value) after a save. */
  readonly deploymentMetadataBytes: number;
  /** One stage's metadata after a save. */
  readonly stageMetadataBytes: number;
  /** Watch streams one piped may hold open at once (a restarted piped's old stream ends). */
  readonly watchStreamsPerPiped: number;
  /** Event streams (`GET /api/v1/stream`) one user or API key may hold open at once. */
  readonly eventStreamsPerCaller: number;
  /** Unsent bytes an event stream may queue for a client that does not read before it is dropped. */
  readonly eventStreamBufferBytes: number;
  /**
   * PipedService calls of one piped handled at once; more wait their turn (up to 256, then
   * RESOURCE_EXHAUSTED), so one busy piped cannot hold every datastore connection.
   */
  readonly rpcsInFlightPerPiped: number;
}

/** A secret given inline or, better, as a file read at start-up. */
export interface SecretSource {
  readonly value: string;
  /** Absolute or relative to the working directory; read when the control plane starts. */
  readonly file: string;
}

/** `spec.webhooks.git`: pushes from GitHub (HMAC-SHA256) or GitLab (token header). */
export interface GitWebhookConfig {
  readonly secret: SecretSource;
}

/** `spec.slack`: approvals from Slack's interactive messages. */
export interface SlackConfig {
  /** The Slack app's signing secret (requests are verified with it). */
  readonly signingSecret: SecretSource;
  /** Slack user id → a user of this control plane (who the approval counts as). */
  readonly users: Readonly<Record<string, string>>;
}

/** The control-plane config (kind ControlPlane), defaulted, validated and frozen. */
export interface ControlPlaneConfig {
  readonly projectId: string;
  /** Public URL of the web UI, returned to pipeds. */
  readonly webBaseUrl: string;
  readonly sessionTtlMs: number;
  readonly users: readonly ControlPlaneUser[];
  readonly limits: ControlPlaneLimits;
  /** Undefined: POST /api/v1/webhooks/git answers 404. */
  readonly gitWebhook?: GitWebhookConfig;
  /** Undefined: POST /api/v1/webhooks/slack answers 404. */
  readonly slack?: SlackConfig;
}

/** The default {@link ControlPlaneLimits}. */
export const DEFAULT_LIMITS: ControlPlaneLimits = Object.freeze({
  stageLogBlockBytes: 16 * 1024,
  stageLogBytes: 8 * 1024 * 1024,
  stageLogBlocksPerCall: 2_000,
  metadataKeyBytes: 256,
  deploymentMetadataBytes: 1024 * 1024,
  stageMetadataBytes: 256 * 1024,
  watchStreamsPerPiped: 4,
  eventStreamsPerCaller: 16,
  eventStreamBufferBytes: 1024 * 1024,
  rpcsInFlightPerPiped: 4,
});

/** The config used when no --config is given: project "default", no web users. */
export const DEFAULT_CONTROL_PLANE_CONFIG: ControlPlaneConfig = Object.freeze({
  projectId: "default",
  webBaseUrl: "",
  sessionTtlMs: 24 * 3_600_000,
  users: Object.freeze([]),
  limits: DEFAULT_LIMITS,
});

const PASSWORD_HASH_RE = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=_-]+\$[A-Za-z0-9+/=_-]+$/;
const USERNAME_RE = /^[A-Za-z0-9._@-]{1,128}$/;

/** Parses → defaults → validates → freezes a control-plane config; errors name path and line. */
export function parseControlPlaneConfig(file: string, text: string): ControlPlaneConfig {
  const src = new YamlSource(file, text);
  const issues = new IssueCollector(src);
  const root = src.value;
  if (!isObject(root)) {
    issues.add([], "must be a mapping with apiVersion, kind and spec");
    issues.throwIfAny(file);
    throw new InvalidArgumentError("unreachable");
  }
  checkKeys(issues, [], root, ["apiVersion", "kind", "spec"]);
  if (root.kind !== "ControlPlane")
    issues.add(["kind"], `must be "ControlPlane", got ${JSON.stringify(root.kind)}`);
  if (
    typeof root.apiVersion !== "string" ||
    !/^pipecd(-ts)?\.dev\/v1(beta1)?$/.test(root.apiVersion)
  )
    issues.add(["apiVersion"], 'must be "pipecd-ts.dev/v1beta1" (or "pipecd.dev/v1beta1")');
  const spec = root.spec ?? {};
  if (!isObject(spec)) {
    issues.add(["spec"], "must be a mapping");
    issues.throwIfAny(file);
  }
  const s = spec as Record<string, unknown>;
  checkKeys(issues, ["spec"], s, [
    "projectId",
    "webBaseUrl",
    "sessionTtl",
    "users",
    "limits",
    "webhooks",
    "slack",
  ]);

  let projectId = DEFAULT_CONTROL_PLANE_CONFIG.projectId;
  if (s.projectId !== undefined) {
    if (typeof s.projectId !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(s.projectId))
      issues.add(["spec", "projectId"], "must be a lowercase id (a-z, 0-9, '-')");
    else projectId = s.projectId;
  }
  let webBaseUrl = "";
  if (s.webBaseUrl !== undefined) {
    if (typeof s.webBaseUrl !== "string" || !/^https?:\/\//.test(s.webBaseUrl))
      issues.add(["spec", "webBaseUrl"], "must be an http(s) URL");
    else webBaseUrl = s.webBaseUrl;
  }
  let sessionTtlMs = DEFAULT_CONTROL_PLANE_CONFIG.sessionTtlMs;
  if (s.sessionTtl !== undefined) {
    const ms = typeof s.sessionTtl === "string" ? parseDuration(s.sessionTtl) : undefined;
    if (ms === undefined || ms < 60_000)
      issues.add(["spec", "sessionTtl"], 'must be a duration of at least 1m, e.g. "24h"');
    else sessionTtlMs = ms;
  }
  const users: ControlPlaneUser[] = [];
  if (s.users !== undefined) {
    if (!Array.isArray(s.users)) issues.add(["spec", "users"], "must be a list");
    else {
      const seen = new Set<string>();
      s.users.forEach((u: unknown, i: number) => {
        const p = ["spec", "users", i];
        if (!isObject(u))
          return issues.add(p, "must be a mapping with username, passwordHash, role");
        checkKeys(issues, p, u, ["username", "passwordHash", "role"]);
        const { username, passwordHash, role } = u;
        let ok = true;
        if (typeof username !== "string" || !USERNAME_RE.test(username)) {
          issues.add([...p, "username"], "must be 1-128 characters of A-Z a-z 0-9 . _ @ -");
          ok = false;
        } else if (seen.has(username)) {
          issues.add([...p, "username"], `duplicate user "${username}"`);
          ok = false;
        }
        if (typeof passwordHash !== "string" || !PASSWORD_HASH_RE.test(passwordHash)) {
          issues.add(
            [...p, "passwordHash"],
            "must be a scrypt hash made by `pipecd-server hash-password` (never a plain password)",
          );
          ok = false;
        }
        if (typeof role !== "string" || parseRole(role) === undefined) {
          issues.add([...p, "role"], 'must be one of "viewer", "editor", "admin"');
          ok = false;
        }
        if (ok) {
          seen.add(username as string);
          users.push(
            Object.freeze({
              username: username as string,
              passwordHash: passwordHash as string,
              role: role as RoleName,
            }),
          );
        }
      });
    }
  }
  const limits = parseLimits(issues, s.limits);
  const gitWebhook = parseGitWebhook(issues, s.webhooks);
  const slack = parseSlack(issues, s.slack, new Set(users.map((u) => u.username)));
  issues.throwIfAny(file);
  return Object.freeze({
    projectId,
    webBaseUrl,
    sessionTtlMs,
    users: Object.freeze(users),
    limits,
    ...(gitWebhook ? { gitWebhook } : {}),
    ...(slack ? { slack } : {}),
  });
}

/** A `<name>` / `<name>File` pair: exactly one of them, non-empty. */
function parseSecret(
  issues: IssueCollector,
  p: (string | number)[],
  m: Record<string, unknown>,
  name: string,
): SecretSource {
  const value = m[name];
  const file = m[`${name}File`];
  if ((value === undefined) === (file === undefined)) {
    issues.add(p, `needs exactly one of ${name} and ${name}File`);
    return { value: "", file: "" };
  }
  const v = value ?? file;
  if (typeof v !== "string" || v === "") {
    issues.add([...p, value !== undefined ? name : `${name}File`], "must be a non-empty string");
    return { value: "", file: "" };
  }
  return Object.freeze(value !== undefined ? { value: v, file: "" } : { value: "", file: v });
}

/** `spec.webhooks`: `git: {secret | secretFile}`. */
function parseGitWebhook(issues: IssueCollector, raw: unknown): GitWebhookConfig | undefined {
  if (raw === undefined) return undefined;
  const p = ["spec", "webhooks"];
  if (!isObject(raw)) {
    issues.add(p, "must be a mapping");
    return undefined;
  }
  checkKeys(issues, p, raw, ["git"]);
  if (raw.git === undefined) return undefined;
  if (!isObject(raw.git)) {
    issues.add([...p, "git"], "must be a mapping with secret or secretFile");
    return undefined;
  }
  checkKeys(issues, [...p, "git"], raw.git, ["secret", "secretFile"]);
  return Object.freeze({ secret: parseSecret(issues, [...p, "git"], raw.git, "secret") });
}

/** `spec.slack`: the signing secret and the Slack users who are users here. */
function parseSlack(
  issues: IssueCollector,
  raw: unknown,
  usernames: ReadonlySet<string>,
): SlackConfig | undefined {
  if (raw === undefined) return undefined;
  const p = ["spec", "slack"];
  if (!isObject(raw)) {
    issues.add(p, "must be a mapping");
    return undefined;
  }
  checkKeys(issues, p, raw, ["signingSecret", "signingSecretFile", "users"]);
  const users: Record<string, string> = {};
  if (raw.users !== undefined && !Array.isArray(raw.users))
    issues.add([...p, "users"], "must be a list of {slackUserId, username}");
  else
    ((raw.users as unknown[] | undefined) ?? []).forEach((u, i) => {
      const up = [...p, "users", i];
      if (!isObject(u)) return issues.add(up, "must be a mapping with slackUserId and username");
      checkKeys(issues, up, u, ["slackUserId", "username"]);
      const { slackUserId: id, username } = u;
      if (typeof id !== "string" || !/^[UW][A-Z0-9]{2,30}$/.test(id))
        return issues.add([...up, "slackUserId"], "must be a Slack user id such as U012AB3CD");
      if (typeof username !== "string" || !usernames.has(username))
        return issues.add([...up, "username"], "must be one of spec.users");
      if (users[id] !== undefined)
        return issues.add([...up, "slackUserId"], `duplicate Slack user ${id}`);
      users[id] = username;
    });
  return Object.freeze({
    signingSecret: parseSecret(issues, p, raw, "signingSecret"),
    users: Object.freeze(users),
  });
}

/** `spec.limits`: each a whole number of at least 1 (sizes in bytes), unknown keys refused. */
function parseLimits(issues: IssueCollector, raw: unknown): ControlPlaneLimits {
  if (raw === undefined) return DEFAULT_LIMITS;
  const p = ["spec", "limits"];
  if (!isObject(raw)) {
    issues.add(p, "must be a mapping");
    return DEFAULT_LIMITS;
  }
  const known = Object.keys(DEFAULT_LIMITS) as (keyof ControlPlaneLimits)[];
  checkKeys(issues, p, raw, known);
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const k of known) {
    const v = raw[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1)
      issues.add([...p, k], `must be a whole number of at least 1, got ${JSON.stringify(v)}`);
    else out[k] = v;
  }
  return Object.freeze(out as unknown as ControlPlaneLimits);
}

/** Reads and parses a control-plane config file. */
export async function loadControlPlaneConfig(file: string): Promise<ControlPlaneConfig> {
  const text = await readConfigFile(file);
  return parseControlPlaneConfig(file, text);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(
  issues: IssueCollector,
  path: (string | number)[],
  obj: Record<string, unknown>,
  known: string[],
): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) issues.add([...path, k], `unknown field (known: ${known.join(", ")})`);
  }
}
