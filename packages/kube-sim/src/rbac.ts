import { randomBytes, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import { isObj, meta, type Obj } from "./object.js";
import { qualifiedResource, type Registry, type ResourceType } from "./registry.js";
import { StatusError, badRequest, notFound, pathNotFound, unauthorized } from "./status.js";
import type { Store } from "./store.js";

// Authentication and RBAC authorization, as kube-apiserver does it with `--authorization-mode=RBAC`
// (rules from k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac). Off by default: every
// authenticated caller may do everything (AlwaysAllow), so nothing changes for existing users.

/** `AlwaysAllow` (default) or `RBAC`. */
export type AuthorizationMode = "AlwaysAllow" | "RBAC";

/** Who is calling. */
export interface Identity {
  /** `kube-sim-admin` for the admin token, `system:serviceaccount:<ns>:<name>` otherwise. */
  readonly user: string;
  readonly groups: readonly string[];
  /** The admin token bypasses authorization (as `system:masters` does). */
  readonly admin: boolean;
}

/** What a resource request wants to do (the authorizer's attributes). */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** "" for cluster-scoped requests and requests across all namespaces. */
  namespace: string;
  /** "" for collection requests. */
  name: string;
}

interface IssuedToken {
  namespace: string;
  name: string;
  uid: string;
  expiresAt: number;
}

/** One rule of a Role/ClusterRole (`rbac.authorization.k8s.io/v1` PolicyRule). */
interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
}

/**
 * What every authenticated user may do whatever the bindings say: the rules of the default
 * system:basic-user ClusterRole, bound to system:authenticated on every cluster.
 */
const BASIC_USER_RULES: readonly PolicyRule[] = [
  {
    verbs: ["create"],
    apiGroups: ["authorization.k8s.io"],
    resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    resourceNames: [],
  },
  {
    verbs: ["create"],
    apiGroups: ["authentication.k8s.io"],
    resources: ["selfsubjectreviews"],
    resourceNames: [],
  },
];

/** Non-resource URLs every authenticated user may GET (system:discovery, public-info-viewer). */
const DISCOVERY_URLS = [
  "/api",
  "/api/*",
  "/apis",
  "/apis/*",
  "/healthz",
  "/livez",
  "/openapi",
  "/openapi/*",
  "/readyz",
  "/version",
  "/version/",
];

const ALL_RULES = { verbs: ["*"], apiGroups: ["*"], resources: ["*"] };

const ADMIN: Identity = Object.freeze({
  user: "kube-sim-admin",
  groups: Object.freeze(["system:masters", "system:authenticated"]),
  admin: true,
});
const RBAC_GROUP = "rbac.authorization.k8s.io";
const MAX_TOKEN_SECONDS = 48 * 3600;
const DEFAULT_TOKEN_SECONDS = 3600;

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

/**
 * Bearer tokens → identities (the admin token, and ServiceAccount tokens minted with the
 * TokenRequest API, `kubectl create token`), and the RBAC authorizer over the Roles,
 * ClusterRoles and bindings stored in kube-sim.
 */
export class Auth {
  /** The authorization mode; switch with `PUT /kube-sim/authorization`. */
  mode: AuthorizationMode;
  private readonly tokens = new Map<string, IssuedToken>();
  /** Per non-admin user, every distinct request it made (`verb group/resource[/sub]`). */
  private readonly seen = new Map<string, Set<string>>();
  private readonly adminToken: Buffer;

  constructor(
    private readonly store: Store,
    private readonly registry: Registry,
    adminToken: string,
    mode: AuthorizationMode = "AlwaysAllow",
  ) {
    this.adminToken = Buffer.from(`Bearer ${adminToken}`);
    this.mode = mode;
  }

  /** The caller of a request by its Authorization header; 401 when unknown or expired. */
  authenticate(header: string | undefined): Identity {
    const h = Buffer.from(header ?? "");
    if (h.length === this.adminToken.length && timingSafeEqual(h, this.adminToken)) return ADMIN;
    const m = /^Bearer (\S+)$/.exec(header ?? "");
    const tok = m?.[1] ? this.tokens.get(m[1]) : undefined;
    if (!m?.[1] || !tok) throw unauthorized();
    // Bound tokens die with their ServiceAccount (a new SA of the same name has another uid).
    const sa = this.serviceAccountType();
    const live = sa ? this.store.get(sa, tok.namespace, tok.name) : undefined;
    if (Date.now() >= tok.expiresAt || !live || meta(live).uid !== tok.uid) {
      this.tokens.delete(m[1]);
      throw unauthorized();
    }
    return {
      user: `system:serviceaccount:${tok.namespace}:${tok.name}`,
      groups: [
        "system:serviceaccounts",
        `system:serviceaccounts:${tok.namespace}`,
        "system:authenticated",
      ],
      admin: false,
    };
  }

  /** Throws the apiserver's 403 unless `who` may do `a`. */
  authorize(
    who: Identity,
    a: ResourceAttributes,
    t: Pick<ResourceType, "group" | "resource">,
  ): void {
    if (!who.admin) {
      const seen = this.seen.get(who.user) ?? new Set<string>();
      const sub = a.subresource ? `/${a.subresource}` : "";
      if (seen.size < 1000) seen.add(`${a.verb} ${a.group}/${a.resource}${sub}`);
      this.seen.set(who.user, seen);
    }
    if (who.admin || this.mode === "AlwaysAllow" || this.allows(who, a)) return;
    throw forbidden(who, a, t);
  }

  /** Whether the stored RBAC objects grant `a` to `who` (ignores the mode). */
  allows(who: Identity, a: ResourceAttributes): boolean {
    if (BASIC_USER_RULES.some((r) => ruleAllows(r, a))) return true;
    const crb = this.registry.get(RBAC_GROUP, "clusterrolebindings");
    const rb = this.registry.get(RBAC_GROUP, "rolebindings");
    for (const b of crb ? this.store.scan(crb, undefined, () => true) : [])
      if (this.bindingAllows(who, b, "", a)) return true;
    if (a.namespace && rb)
      for (const b of this.store.scan(rb, a.namespace, () => true))
        if (this.bindingAllows(who, b, a.namespace, a)) return true;
    return false;
  }

  /**
   * A SelfSubjectAccessReview or SelfSubjectRulesReview (`kubectl auth can-i [--list]`),
   * answered for the caller under the current mode, as the apiserver returns it (201, the
   * request echoed with a status).
   */
  review(who: Identity, kind: string, body: unknown): Obj {
    const spec = isObj(body) && isObj(body.spec) ? body.spec : {};
    const out = (status: Obj): Obj => ({
      kind,
      apiVersion: "authorization.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec,
      status,
    });
    const everything = who.admin || this.mode === "AlwaysAllow";
    if (kind === "SelfSubjectRulesReview") {
      const ns = typeof spec.namespace === "string" ? spec.namespace : "";
      const rules = everything
        ? [ALL_RULES]
        : [...BASIC_USER_RULES, ...this.rulesFor(who, ns)].map((r) => ({
            verbs: r.verbs,
            apiGroups: r.apiGroups,
            resources: r.resources,
            ...(r.resourceNames.length ? { resourceNames: r.resourceNames } : {}),
          }));
      return out({
        resourceRules: rules,
        nonResourceRules: everything
          ? [{ verbs: ["*"], nonResourceURLs: ["*"] }]
          : [{ verbs: ["get"], nonResourceURLs: DISCOVERY_URLS }],
        incomplete: false,
      });
    }
    const ra = isObj(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
    const nra = isObj(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
    if (!ra && !nra)
      throw new StatusError(
        422,
        "Invalid",
        `${kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`,
        { group: "authorization.k8s.io", kind },
      );
    if (everything) return out({ allowed: true });
    if (nra) {
      const path = typeof nra.path === "string" ? nra.path : "";
      const allowed =
        nra.verb === "get" &&
        DISCOVERY_URLS.some((u) =>
          u.endsWith("*") ? path.startsWith(u.slice(0, -1)) : u === path,
        );
      return out({ allowed });
    }
    const str = (v: unknown): string => (typeof v === "string" ? v : "");
    const a: ResourceAttributes = {
      verb: str(ra?.verb),
      group: str(ra?.group),
      resource: str(ra?.resource),
      ...(str(ra?.subresource) ? { subresource: str(ra?.subresource) } : {}),
      namespace: str(ra?.namespace),
      name: str(ra?.name),
    };
    return out({ allowed: this.allows(who, a) });
  }

  /** The rules of every Role and ClusterRole bound to `who` (cluster-wide, or in `ns`). */
  private rulesFor(who: Identity, ns: string): PolicyRule[] {
    const out: PolicyRule[] = [];
    const crb = this.registry.get(RBAC_GROUP, "clusterrolebindings");
    const rb = this.registry.get(RBAC_GROUP, "rolebindings");
    for (const b of crb ? this.store.scan(crb, undefined, () => true) : [])
      out.push(...this.bindingRules(who, b, ""));
    if (ns && rb)
      for (const b of this.store.scan(rb, ns, () => true))
        out.push(...this.bindingRules(who, b, ns));
    return out;
  }

  /**
   * `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token` (TokenRequest): mints a token
   * bound to the ServiceAccount's uid, valid for `spec.expirationSeconds` (default 1 h).
   */
  requestToken(namespace: string, name: string, body: unknown): Obj {
    const sa = this.serviceAccountType();
    const live = sa ? this.store.get(sa, namespace, name) : undefined;
    if (!sa || !live) throw notFound({ group: "", resource: "serviceaccounts" }, name);
    const spec = isObj(body) && isObj(body.spec) ? body.spec : {};
    const seconds = spec.expirationSeconds ?? DEFAULT_TOKEN_SECONDS;
    if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 600)
      throw new StatusError(
        422,
        "Invalid",
        `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${JSON.stringify(seconds)}: may not specify a duration less than 10 minutes`,
        { name, group: "authentication.k8s.io", kind: "TokenRequest" },
      );
    const effective = Math.min(seconds, MAX_TOKEN_SECONDS);
    const token = randomBytes(32).toString("base64url");
    const expiresAt = Date.now() + effective * 1000;
    this.tokens.set(token, { namespace, name, uid: meta(live).uid ?? "", expiresAt });
    return {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name, namespace, creationTimestamp: null },
      spec: {
        audiences: strings(spec.audiences).length
          ? strings(spec.audiences)
          : ["https://kubernetes.default.svc"],
        expirationSeconds: effective,
        boundObjectRef: null,
      },
      status: {
        token,
        expirationTimestamp: new Date(expiresAt).toISOString().replace(/\.\d+Z$/, "Z"),
      },
    };
  }

  /**
   * The distinct requests (`verb group/resource[/sub]`, sorted) each ServiceAccount made, allowed
   * or not: what a least-privilege Role for it must cover.
   */
  requestsSeen(): Record<string, string[]> {
    return Object.fromEntries([...this.seen].map(([u, s]) => [u, [...s].sort()]));
  }

  /**
   * `GET|PUT /kube-sim/authorization` (`{"mode":"RBAC"|"AlwaysAllow"}`), admin only. GET also
   * lists {@link requestsSeen} as `requests`.
   */
  handleAdmin(method: string, body: Buffer, res: ServerResponse): void {
    const reply = (withRequests = false): void => {
      const extra = withRequests ? { requests: this.requestsSeen() } : {};
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ mode: this.mode, ...extra }));
    };
    if (method === "GET") return reply(true);
    if (method !== "PUT")
      throw new StatusError(
        405,
        "MethodNotAllowed",
        `method ${method} not allowed on /kube-sim/authorization`,
      );
    let v: unknown;
    try {
      v = JSON.parse(body.toString("utf8"));
    } catch {
      throw badRequest('body must be JSON: {"mode":"RBAC"|"AlwaysAllow"}');
    }
    const mode = isObj(v) ? v.mode : undefined;
    if (mode !== "RBAC" && mode !== "AlwaysAllow")
      throw badRequest(`mode must be "RBAC" or "AlwaysAllow", got ${JSON.stringify(mode ?? null)}`);
    this.mode = mode;
    reply();
  }

  /** 403 for non-admin callers of the kube-sim admin API (faults, authorization). */
  requireAdmin(who: Identity, path: string): void {
    if (!who.admin)
      throw new StatusError(
        403,
        "Forbidden",
        `forbidden: User "${who.user}" cannot ${path.startsWith("/kube-sim/") ? "use" : "get"} path "${path}"`,
        {},
      );
    if (!path.startsWith("/kube-sim/")) throw pathNotFound();
  }

  private serviceAccountType(): ResourceType | undefined {
    return this.registry.get("", "serviceaccounts");
  }

  private bindingAllows(
    who: Identity,
    binding: Readonly<Obj>,
    ns: string,
    a: ResourceAttributes,
  ): boolean {
    return this.bindingRules(who, binding, ns).some((r) => ruleAllows(r, a));
  }

  /** The rules a binding grants `who` (none when `who` is not among its subjects). */
  private bindingRules(who: Identity, binding: Readonly<Obj>, ns: string): PolicyRule[] {
    const subjects = Array.isArray(binding.subjects) ? binding.subjects.filter(isObj) : [];
    if (!subjects.some((s) => subjectMatches(who, s, ns))) return [];
    const ref = isObj(binding.roleRef) ? binding.roleRef : {};
    if (ref.apiGroup !== RBAC_GROUP || typeof ref.name !== "string") return [];
    let role: Obj | undefined;
    if (ref.kind === "ClusterRole") {
      const t = this.registry.get(RBAC_GROUP, "clusterroles");
      role = t ? this.store.get(t, "", ref.name) : undefined;
    } else if (ref.kind === "Role" && ns) {
      const t = this.registry.get(RBAC_GROUP, "roles");
      role = t ? this.store.get(t, ns, ref.name) : undefined;
    }
    return Array.isArray(role?.rules) ? role.rules.filter(isObj).map(toRule) : [];
  }
}

function toRule(o: Obj): PolicyRule {
  return {
    verbs: strings(o.verbs),
    apiGroups: strings(o.apiGroups),
    resources: strings(o.resources),
    resourceNames: strings(o.resourceNames),
  };
}

function subjectMatches(who: Identity, s: Obj, bindingNs: string): boolean {
  switch (s.kind) {
    case "ServiceAccount": {
      // A ServiceAccount subject without namespace means the binding's own namespace.
      const ns = typeof s.namespace === "string" && s.namespace ? s.namespace : bindingNs;
      return who.user === `system:serviceaccount:${ns}:${String(s.name)}`;
    }
    case "User":
      return who.user === s.name;
    case "Group":
      return typeof s.name === "string" && who.groups.includes(s.name);
    default:
      return false;
  }
}

/** rbac/v1 `RuleAllows`: verbs, apiGroups, resources (with subresources) and resourceNames. */
export function ruleAllows(r: PolicyRule, a: ResourceAttributes): boolean {
  if (!r.verbs.includes("*") && !r.verbs.includes(a.verb)) return false;
  if (!r.apiGroups.includes("*") && !r.apiGroups.includes(a.group)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk = r.resources.some(
    (x) =>
      x === "*" ||
      x === combined ||
      (a.subresource !== undefined && x === `*/${a.subresource}`) ||
      (x.endsWith("/*") && a.subresource !== undefined && x.slice(0, -2) === a.resource),
  );
  if (!resourceOk) return false;
  return r.resourceNames.length === 0 || (a.name !== "" && r.resourceNames.includes(a.name));
}

/** The apiserver's 403 body for a denied resource request (reference §3.2). */
function forbidden(
  who: Identity,
  a: ResourceAttributes,
  t: Pick<ResourceType, "group" | "resource">,
): StatusError {
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  const subject = a.name ? `${qualifiedResource(t)} "${a.name}"` : qualifiedResource(t);
  return new StatusError(
    403,
    "Forbidden",
    `${subject} is forbidden: User "${who.user}" cannot ${a.verb} resource "${res}" in API group "${a.group}" ${where}`,
    {
      ...(a.name ? { name: a.name } : {}),
      ...(t.group ? { group: t.group } : {}),
      kind: t.resource,
    },
  );
}
