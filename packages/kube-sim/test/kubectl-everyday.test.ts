import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureK8sTools, runCommand } from "@pipecd-ts/testkit";
import {
  ISTIO_CRDS,
  appManifests,
  call,
  eventually,
  startSim,
  type SimFixture,
} from "./harness.js";

// Everyday kubectl operations a `make demo` user types, against kube-sim, compared with what a
// cluster answers (documented output and error texts of the API server and kubectl).
describe("everyday kubectl against kube-sim", () => {
  let f: SimFixture;
  let pod = "";
  const ok = async (args: string[], input?: string) => {
    const r = await f.kubectl(args, { input });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    f = await startSim({ readyDelayMs: 50 });
    await ok(["apply", "-f", ISTIO_CRDS]);
    await ok(["wait", "--for=condition=established", "--timeout=20s", "crd", "--all"]);
    await ok(["apply", "-f", "-"], appManifests("nginx:1.25", 1));
    await ok(["rollout", "status", "deployment/web", "--timeout=30s"]);
    pod = (
      await ok(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"])
    ).trim();
    assert.ok(pod, "a pod of the deployment");
  });
  after(async () => f?.close());

  /** kubectl's table output as rows of cells (columns split on runs of 2+ spaces). */
  const table = async (args: string[]): Promise<string[][]> =>
    (await ok(args))
      .trimEnd()
      .split("\n")
      .map((l) => l.trim().split(/\s{2,}/));

  it("get prints the columns a cluster prints, default and -o wide", async () => {
    assert.deepEqual((await table(["get", "pods"]))[0], [
      "NAME",
      "READY",
      "STATUS",
      "RESTARTS",
      "AGE",
    ]);
    const pods = await table(["get", "pods", "-o", "wide"]);
    assert.deepEqual(pods[0], [
      "NAME",
      "READY",
      "STATUS",
      "RESTARTS",
      "AGE",
      "IP",
      "NODE",
      "NOMINATED NODE",
      "READINESS GATES",
    ]);
    assert.deepEqual(pods[1]!.slice(0, 4), [pod, "1/1", "Running", "0"]);
    assert.match(pods[1]![4]!, /^\d+s$/);
    assert.match(pods[1]![5]!, /^10\.244\.\d+\.\d+$/);
    assert.deepEqual(pods[1]!.slice(6), ["kube-sim-node", "<none>", "<none>"]);
    const deploy = await table(["get", "deploy", "-o", "wide"]);
    assert.deepEqual(deploy[0], [
      "NAME",
      "READY",
      "UP-TO-DATE",
      "AVAILABLE",
      "AGE",
      "CONTAINERS",
      "IMAGES",
      "SELECTOR",
    ]);
    assert.deepEqual(
      [...deploy[1]!.slice(0, 4), ...deploy[1]!.slice(5)],
      ["web", "1/1", "1", "1", "web", "nginx:1.25", "app=web"],
    );
    assert.deepEqual((await table(["get", "rs"]))[0], [
      "NAME",
      "DESIRED",
      "CURRENT",
      "READY",
      "AGE",
    ]);
    const svc = await table(["get", "svc", "web"]);
    assert.deepEqual(svc[0], ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
    assert.deepEqual(
      [svc[1]![0], svc[1]![1], svc[1]![3], svc[1]![4]],
      ["web", "ClusterIP", "<none>", "80/TCP"],
    );
    await ok(["create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2"]);
    assert.deepEqual((await table(["get", "cm", "cfg"]))[1]!.slice(0, 2), ["cfg", "2"]);
    await ok(["create", "secret", "generic", "sec", "--from-literal=p=q"]);
    assert.deepEqual((await table(["get", "secret", "sec"]))[1]!.slice(0, 3), [
      "sec",
      "Opaque",
      "1",
    ]);
    assert.deepEqual((await table(["get", "ns", "default"]))[1]!.slice(0, 2), [
      "default",
      "Active",
    ]);
    const crd = await table(["get", "crd", "virtualservices.networking.istio.io"]);
    assert.deepEqual(crd[0], ["NAME", "CREATED AT"]);
    assert.match(crd[1]![1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // A custom resource: the CRD's additionalPrinterColumns (Istio's: gateways, hosts, age).
    const vs = await table(["get", "virtualservices"]);
    assert.deepEqual(vs[0], ["NAME", "GATEWAYS", "HOSTS", "AGE"]);
    assert.deepEqual(vs[1]!.slice(0, 3), ["web", '["web-gateway"]', '["web.example.com"]']);
    await ok(
      ["apply", "-f", "-"],
      `apiVersion: v1
kind: Event
metadata: { name: web.1, namespace: default }
involvedObject: { kind: Pod, name: ${pod}, namespace: default }
reason: Pulled
message: "Successfully pulled image"
type: Normal
source: { component: kubelet, host: kube-sim-node }
count: 3
`,
    );
    const events = await table(["get", "events"]);
    assert.deepEqual(events[0], ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    assert.deepEqual(events[1]!.slice(1), [
      "Normal",
      "Pulled",
      `pod/${pod}`,
      "Successfully pulled image",
    ]);
    const wideEvents = await table(["get", "events", "-o", "wide"]);
    assert.deepEqual(wideEvents[0], [
      "LAST SEEN",
      "TYPE",
      "REASON",
      "OBJECT",
      "SUBOBJECT",
      "SOURCE",
      "MESSAGE",
      "FIRST SEEN",
      "COUNT",
      "NAME",
    ]);
    // (Subobject is empty: the split on runs of spaces skips it.)
    assert.deepEqual(wideEvents[1]!.slice(4), [
      "kubelet, kube-sim-node",
      "Successfully pulled image",
      "<unknown>",
      "3",
      "web.1",
    ]);
    assert.deepEqual((await table(["get", "sa", "default"]))[0], ["NAME", "SECRETS", "AGE"]);
  });

  it("serves Tables as the API server does: includeObject, v1beta1, watch headers once, errors", async () => {
    await ok(["create", "configmap", "cfg2", "--from-literal=a=1"]);
    const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    const t = await call(f, "GET", "/api/v1/namespaces/default/configmaps?limit=1", {
      headers: { accept },
    });
    assert.match(String(t.headers["content-type"]), /as=Table;v=v1;g=meta\.k8s\.io/);
    const body = t.json() as {
      kind: string;
      apiVersion: string;
      metadata: { resourceVersion: string; continue?: string };
      columnDefinitions: { name: string; type: string; format: string; priority: number }[];
      rows: {
        cells: unknown[];
        object: { kind: string; apiVersion: string; metadata: { name: string } };
      }[];
    };
    assert.equal(body.kind, "Table");
    assert.equal(body.apiVersion, "meta.k8s.io/v1");
    assert.ok(
      body.metadata.resourceVersion && body.metadata.continue,
      "list metadata carried over",
    );
    assert.deepEqual(
      body.columnDefinitions.map((c) => [c.name, c.type, c.format, c.priority]),
      [
        ["Name", "string", "name", 0],
        ["Data", "string", "", 0],
        ["Age", "string", "", 0],
      ],
    );
    assert.equal(body.rows.length, 1);
    assert.equal(body.rows[0]!.object.kind, "PartialObjectMetadata");
    assert.equal(body.rows[0]!.object.apiVersion, "meta.k8s.io/v1");
    const full = (
      await call(f, "GET", "/api/v1/namespaces/default/configmaps/cfg?includeObject=Object", {
        headers: { accept: "application/json;as=Table;v=v1beta1;g=meta.k8s.io" },
      })
    ).json() as { apiVersion: string; rows: { object: { kind: string; data: unknown } }[] };
    assert.equal(full.apiVersion, "meta.k8s.io/v1beta1");
    assert.deepEqual(full.rows[0]!.object.kind, "ConfigMap");
    assert.deepEqual(full.rows[0]!.object.data, { a: "1", b: "2" });
    const none = (
      await call(f, "GET", "/api/v1/namespaces/default/configmaps/cfg?includeObject=None", {
        headers: { accept },
      })
    ).json() as { rows: { object: unknown }[] };
    assert.equal(none.rows[0]!.object, null);
    const bad = await call(f, "GET", "/api/v1/namespaces/default/configmaps?includeObject=All", {
      headers: { accept },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, 'unrecognized includeObject value: "All"');
    const v2 = await call(f, "GET", "/api/v1/namespaces/default/configmaps", {
      headers: { accept: "application/json;as=Table;v=v2;g=meta.k8s.io" },
    });
    assert.equal(v2.status, 406);
    // kubectl get -w: each event a Table, column definitions only in the first.
    const tools = await ensureK8sTools();
    const child = spawn(
      tools.kubectl,
      [
        "--kubeconfig",
        f.sim.kubeconfigPath,
        "--cache-dir",
        join(f.dir, "cache"),
        "get",
        "cm",
        "-w",
        "--output-watch-events",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await eventually(async () => out.includes("cfg"), 10_000, "the initial rows");
      await ok(["create", "configmap", "watched", "--from-literal=x=y"]);
      await eventually(async () => /ADDED\s+watched\s+1/.test(out), 10_000, "the watched row");
      assert.equal(out.match(/NAME/g)?.length, 1, out);
    } finally {
      child.kill();
    }
  });

  it("logs prints a container's lines, with --tail, --timestamps and -c", async () => {
    const all = await ok(["logs", pod]);
    const lines = all.trimEnd().split("\n");
    assert.ok(lines.length >= 3, all);
    assert.match(lines[0]!, /container web started from image nginx:1\.25/);
    assert.match(all, /container web is ready/);
    assert.deepEqual((await ok(["logs", pod, "--tail=1"])).trimEnd().split("\n"), [lines.at(-1)]);
    assert.equal(await ok(["logs", pod, "--tail=0"]), "");
    const stamped = (await ok(["logs", pod, "--timestamps", "--tail=1"])).trimEnd();
    assert.match(
      stamped,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z kube-sim: container web is ready$/,
    );
    assert.equal(await ok(["logs", `deployment/web`, "-c", "web"]), all);
    const bytes = await ok(["logs", pod, "--limit-bytes=10"]);
    assert.equal(bytes, all.slice(0, 10));
  });

  it("logs refuses an unknown container, a missing previous one and a bad parameter as a cluster does", async () => {
    const unknown = await f.kubectl(["logs", pod, "-c", "nope"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`container nope is not valid for pod ${pod}`));
    const previous = await f.kubectl(["logs", pod, "--previous"]);
    assert.equal(previous.code, 1);
    assert.match(
      previous.stderr,
      new RegExp(`previous terminated container "web" in pod "${pod}" not found`),
    );
    const bad = await call(f, "GET", `/api/v1/namespaces/default/pods/${pod}/log?tailLines=x`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, 'strconv.ParseInt: parsing "x": invalid syntax');
    const negative = await call(
      f,
      "GET",
      `/api/v1/namespaces/default/pods/${pod}/log?tailLines=-1`,
    );
    assert.equal(negative.status, 422);
  });

  it("logs -f streams until the pod goes away", async () => {
    const tools = await ensureK8sTools();
    const child = spawn(
      tools.kubectl,
      [
        "--kubeconfig",
        f.sim.kubeconfigPath,
        "--cache-dir",
        join(f.dir, "cache"),
        "logs",
        "-f",
        pod,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await eventually(async () => /is ready/.test(out), 10_000, "the followed lines");
      assert.equal(child.exitCode, null, "still following");
      await ok(["delete", "pod", pod, "--wait=false"]);
      assert.equal(await exited, 0);
      assert.match(out, /container web stopped\n$/);
    } finally {
      child.kill();
    }
  });
});

describe("the official Python client against kube-sim", () => {
  it("creates, reads, patches, lists, watches, scales, reads status and logs, deletes", async () => {
    const f = await startSim({ readyDelayMs: 50 });
    try {
      const script = new URL("./python/everyday.py", import.meta.url).pathname;
      const r = await runCommand("/usr/bin/python3", [script, f.sim.kubeconfigPath], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const seen = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.deepEqual(seen.read, { a: "1" });
      assert.deepEqual(seen.patched, { a: "1", b: "2" });
      assert.deepEqual(seen.listed, ["cfg"]);
      assert.ok(
        seen.watchEvent === "ADDED" || seen.watchEvent === "MODIFIED",
        String(seen.watchEvent),
      );
      assert.equal(seen.scaleBefore, 1);
      assert.equal(seen.scaleAfter, 2);
      assert.equal(seen.statusReplicas, 2);
      assert.equal(seen.observedGeneration, true);
      assert.match(String(seen.log), /container web is ready/);
      assert.deepEqual(seen.afterDelete, []);
    } finally {
      await f.close();
    }
  });
});
