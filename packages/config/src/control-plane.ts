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

/** The control-plane config (kind ControlPlane), defaulted, validated and frozen. */
export interface ControlPlaneConfig {
  readonly projectId: string;
  /** Public URL of the web UI, returned to pipeds. */
  readonly webBaseUrl: string;
  readonly sessionTtlMs: number;
  readonly users: readonly ControlPlaneUser[];
}

/** The config used when no --config is given: project "default", no web users. */
export const DEFAULT_CONTROL_PLANE_CONFIG: ControlPlaneConfig = Object.freeze({
  projectId: "default",
  webBaseUrl: "",
  sessionTtlMs: 24 * 3_600_000,
  users: Object.freeze([]),
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
  checkKeys(issues, ["spec"], s, ["projectId", "webBaseUrl", "sessionTtl", "users"]);

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
  issues.throwIfAny(file);
  return Object.freeze({ projectId, webBaseUrl, sessionTtlMs, users: Object.freeze(users) });
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
