import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { appManifests, call, startSim, type SimFixture } from "./harness.js";

// kube-sim's optional RBAC mode with real kubectl: ServiceAccount tokens from the TokenRequest
// API (`kubectl create token`), authorized by stored Roles/ClusterRoles and bindings; 403 with the
// apiserver's Status body otherwise; the admin token always bypasses.

const RBAC = `apiVersion: v1
kind: Namespace
metadata: { name: team }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: agent, namespace: cd }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: agent-read }
rules:
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list]
  - apiGroups: [""]
    resources: [configmaps]
    resourceNames: [allowed]
    verbs: [get, patch]
  - apiGroups: [apps]
    resources: [deployments/scale]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: agent-read }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agent-read }
subjects:
  - { kind: ServiceAccount, name: agent, namespace: cd }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: writer, namespace: team }
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: writer, namespace: team }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: writer }
subjects:
  - { kind: ServiceAccount, name: agent, namespace: cd }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: secret-reader }
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: secret-reader, namespace: team }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader }
subjects:
  - { kind: Group, name: "system:serviceaccounts:cd" }
`;

const CM = (name: string, ns = "default"): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: ${ns} }\ndata: { a: "1" }\n`;

describe("kube-sim RBAC mode", () => {
  let f: SimFixture;
  let token = "";
  const admin = async (args: string[], input?: string): Promise<string> => {
    const r = await f.kubectl(args, { input });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const asAgent = (args: string[], input?: string) =>
    f.kubectl(["--token", token, ...args], { input });
  /** A raw request (as the agent unless `auth` says otherwise): status and parsed body. */
  const raw = async (method: string, path: string, body?: unknown, auth?: string) => {
    const r = await call(f, method, path, {
      body,
      token: auth === undefined ? token : auth.replace(/^Bearer /, ""),
    });
    return { status: r.status, body: r.json() };
  };

  before(async () => {
    f = await startSim();
    await admin(["apply", "-f", "-"], `apiVersion: v1\nkind: Namespace\nmetadata: { name: cd }\n`);
    await admin(["apply", "-f", "-"], RBAC);
    await admin(["apply", "-f", "-"], CM("allowed"));
    await admin(["apply", "-f", "-"], CM("other"));
    await admin(["apply", "-f", "-"], appManifests().split("\n---")[0]);
    token = (await admin(["create", "token", "agent", "-n", "cd"])).trim();
    assert.ok(token.length > 20, "kubectl create token printed a token");
  });
  after(async () => f?.close());

  it("is off by default: a ServiceAccount token may do anything", async () => {
    const r = await asAgent(["get", "secrets", "-n", "kube-system"]);
    assert.equal(r.code, 0, r.stderr);
  });

  it("denies what no rule grants with the apiserver's 403 Status, and allows what rules grant", async () => {
    f.sim.auth.mode = "RBAC";
    try {
      assert.equal((await asAgent(["get", "deploy", "web", "-o", "name"])).code, 0);
      assert.equal((await asAgent(["get", "deploy", "-A", "-o", "name"])).code, 0);
      const del = await asAgent(["delete", "deploy", "web"]);
      assert.notEqual(del.code, 0);
      assert.match(
        del.stderr,
        /deployments\.apps "web" is forbidden: User "system:serviceaccount:cd:agent" cannot delete resource "deployments" in API group "apps" in the namespace "default"/,
      );
      const list = await raw("GET", "/api/v1/namespaces/default/secrets");
      assert.equal(list.status, 403);
      assert.deepEqual(list.body, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message:
          'secrets is forbidden: User "system:serviceaccount:cd:agent" cannot list resource "secrets" in API group "" in the namespace "default"',
        reason: "Forbidden",
        details: { kind: "secrets" },
        code: 403,
      });
      const ns = await raw("GET", "/api/v1/namespaces");
      assert.equal(ns.status, 403);
      assert.match(
        String(ns.body.message),
        /cannot list resource "namespaces" in API group "" at the cluster scope$/,
      );
    } finally {
      f.sim.auth.mode = "AlwaysAllow";
    }
  });

  it("answers access reviews for the caller: SelfSubjectAccessReview and SelfSubjectRulesReview", async () => {
    const ssar = (ra: Record<string, string>) =>
      raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: ra },
      });
    // AlwaysAllow: everything is allowed.
    const open = await ssar({
      verb: "delete",
      group: "apps",
      resource: "deployments",
      namespace: "default",
    });
    assert.equal(open.status, 201);
    assert.deepEqual(open.body.status, { allowed: true });
    f.sim.auth.mode = "RBAC";
    try {
      const yes = await ssar({
        verb: "list",
        group: "apps",
        resource: "deployments",
        namespace: "default",
      });
      assert.equal(yes.status, 201);
      assert.equal(yes.body.kind, "SelfSubjectAccessReview");
      assert.deepEqual(yes.body.status, { allowed: true });
      const no = await ssar({
        verb: "delete",
        group: "apps",
        resource: "deployments",
        namespace: "default",
      });
      assert.deepEqual(no.body.status, { allowed: false });
      const named = await ssar({
        verb: "get",
        group: "",
        resource: "configmaps",
        namespace: "default",
        name: "allowed",
      });
      assert.deepEqual(named.body.status, { allowed: true });
      const sub = await ssar({
        verb: "get",
        group: "apps",
        resource: "deployments",
        subresource: "scale",
        namespace: "default",
      });
      assert.deepEqual(sub.body.status, { allowed: true });
      const empty = await raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        spec: {},
      });
      assert.equal(empty.status, 422);
      const rules = await raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {
        spec: { namespace: "team" },
      });
      assert.equal(rules.status, 201);
      const resourceRules = (
        rules.body.status as { resourceRules: { resources: string[]; verbs: string[] }[] }
      ).resourceRules;
      const granted = (res: string, verb: string) =>
        resourceRules.some((r) => r.resources.includes(res) && r.verbs.includes(verb));
      assert.ok(granted("deployments", "list"), JSON.stringify(resourceRules));
      assert.ok(granted("secrets", "list"), "the team RoleBinding applies in team");
      assert.ok(granted("selfsubjectaccessreviews", "create"), "basic-user rules are listed");
      assert.ok(!granted("deployments", "delete"));
      const elsewhere = await raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {
        spec: { namespace: "default" },
      });
      const other = (elsewhere.body.status as { resourceRules: { resources: string[] }[] })
        .resourceRules;
      assert.ok(!other.some((r) => r.resources.includes("secrets")), "no RoleBinding in default");
      // Reviews are answers, never stored objects.
      const list = await raw(
        "GET",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        undefined,
        f.sim.token,
      );
      assert.equal(list.status, 405);
    } finally {
      f.sim.auth.mode = "AlwaysAllow";
    }
  });

  it("kubectl auth can-i answers yes and no for a ServiceAccount in RBAC mode", async () => {
    f.sim.auth.mode = "RBAC";
    try {
      const yes = await asAgent(["auth", "can-i", "list", "deployments.apps"]);
      assert.deepEqual({ code: yes.code, out: yes.stdout }, { code: 0, out: "yes\n" });
      const no = await asAgent(["auth", "can-i", "delete", "deployments.apps"]);
      assert.deepEqual({ code: no.code, out: no.stdout }, { code: 1, out: "no\n" });
      const list = await asAgent(["auth", "can-i", "--list", "-n", "team"]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^deployments\.apps\s+\[\]\s+\[\]\s+\[get list\]$/m);
      assert.match(list.stdout, /^secrets\s+\[\]\s+\[\]\s+\[list\]$/m);
    } finally {
      f.sim.auth.mode = "AlwaysAllow";
    }
  });

  it("honours resourceNames, subresources and namespace-scoped RoleBindings", async () => {
    f.sim.auth.mode = "RBAC";
    try {
      assert.equal((await asAgent(["get", "cm", "allowed"])).code, 0);
      const other = await asAgent(["get", "cm", "other"]);
      assert.match(other.stderr, /configmaps "other" is forbidden/);
      assert.equal((await asAgent(["get", "cm", "-o", "name"])).code, 1, "list is not named");
      // deployments/scale get is granted; deployments/status is not.
      assert.equal(
        (await raw("GET", "/apis/apps/v1/namespaces/default/deployments/web/scale")).status,
        200,
      );
      const st = await raw("GET", "/apis/apps/v1/namespaces/default/deployments/web/status");
      assert.equal(st.status, 403);
      assert.match(String(st.body.message), /cannot get resource "deployments\/status"/);
      // The Role in "team" grants create there only.
      const inTeam = await asAgent(["create", "-f", "-"], CM("x", "team"));
      assert.equal(inTeam.code, 0, inTeam.stderr);
      const elsewhere = await asAgent(["create", "-f", "-"], CM("x"));
      assert.match(
        elsewhere.stderr,
        /cannot create resource "configmaps" in API group "" in the namespace "default"/,
      );
      // A RoleBinding to a ClusterRole (here for the SA's group) grants it in its namespace only.
      assert.equal((await raw("GET", "/api/v1/namespaces/team/secrets")).status, 200);
      assert.equal((await raw("GET", "/api/v1/namespaces/default/secrets")).status, 403);
      assert.equal((await raw("GET", "/api/v1/secrets")).status, 403, "not across namespaces");
    } finally {
      f.sim.auth.mode = "AlwaysAllow";
    }
  });

  it("server-side apply that creates needs create as well as patch", async () => {
    f.sim.auth.mode = "RBAC";
    try {
      const cm = (name: string) =>
        `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: default }\ndata: { a: "2" }\n`;
      // patch on "allowed" is granted and it exists: apply updates it.
      const upd = await asAgent(["apply", "--server-side", "-f", "-"], cm("allowed"));
      assert.equal(upd.code, 0, upd.stderr);
      await admin(["delete", "cm", "allowed"]);
      const create = await asAgent(["apply", "--server-side", "-f", "-"], cm("allowed"));
      assert.notEqual(create.code, 0, "no create permission in default");
      assert.match(create.stderr, /cannot create resource "configmaps"/);
    } finally {
      f.sim.auth.mode = "AlwaysAllow";
    }
  });

  it("the admin token bypasses RBAC; unknown or revoked tokens get 401; admin API is admin-only", async () => {
    f.sim.auth.mode = "RBAC";
    try {
      assert.equal((await f.kubectl(["get", "secrets", "-A"])).code, 0);
      const bad = await raw("GET", "/api/v1/namespaces", undefined, "Bearer nope");
      assert.equal(bad.status, 401);
      assert.equal(bad.body.reason, "Unauthorized");
      const faults = await raw("GET", "/kube-sim/faults");
      assert.equal(faults.status, 403);
      const mode = await raw("PUT", "/kube-sim/authorization", { mode: "AlwaysAllow" });
      assert.equal(mode.status, 403);
      // Discovery stays open to every authenticated caller.
      assert.equal((await raw("GET", "/apis")).status, 200);
      // Deleting the ServiceAccount invalidates its tokens.
      const t2 = (await admin(["create", "token", "agent", "-n", "cd"])).trim();
      await admin(["delete", "sa", "agent", "-n", "cd"]);
      assert.equal((await raw("GET", "/apis", undefined, `Bearer ${t2}`)).status, 401);
      await admin(
        ["apply", "-f", "-"],
        `apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: agent, namespace: cd }\n`,
      );
      assert.equal(
        (await raw("GET", "/apis", undefined, `Bearer ${t2}`)).status,
        401,
        "new SA, other uid",
      );
      token = (await admin(["create", "token", "agent", "-n", "cd"])).trim();
    } finally {
      f.sim.auth.mode = "AlwaysAllow";
    }
  });

  it("switches mode over the admin API and rejects a bad mode", async () => {
    const put = (mode: unknown) =>
      raw("PUT", "/kube-sim/authorization", { mode }, `Bearer ${f.sim.token}`);
    assert.equal((await put("Webhook")).status, 400);
    assert.deepEqual((await put("RBAC")).body, { mode: "RBAC" });
    assert.equal((await raw("GET", "/api/v1/namespaces/default/secrets")).status, 403);
    assert.deepEqual((await put("AlwaysAllow")).body, { mode: "AlwaysAllow" });
    assert.equal((await raw("GET", "/api/v1/namespaces/default/secrets")).status, 200);
    const seen = (await raw("GET", "/kube-sim/authorization", undefined, `Bearer ${f.sim.token}`))
      .body as { requests: Record<string, string[]> };
    assert.ok(
      seen.requests?.["system:serviceaccount:cd:agent"]?.includes("list /secrets"),
      `requests made are listed per ServiceAccount: ${JSON.stringify(seen)}`,
    );
  });
});
