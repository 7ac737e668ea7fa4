import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ISTIO_CRDS, appManifests, eventually, startSim, type SimFixture } from "./harness.js";

// Real kubectl v1.33 against kube-sim over HTTPS, as a user would run it.
describe("real kubectl against kube-sim", () => {
  let f: SimFixture;
  const ok = async (args: string[], input?: string) => {
    const r = await f.kubectl(args, { input });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    f = await startSim({ readyDelayMs: 100 });
  });
  after(async () => f?.close());

  it("applies the real Istio CRDs and they become established", async () => {
    const out = await ok(["apply", "-f", ISTIO_CRDS]);
    assert.match(
      out,
      /customresourcedefinition\.apiextensions\.k8s\.io\/virtualservices\.networking\.istio\.io created/,
    );
    await ok([
      "wait",
      "--for=condition=established",
      "--timeout=20s",
      "crd/virtualservices.networking.istio.io",
      "crd/destinationrules.networking.istio.io",
      "crd/gateways.networking.istio.io",
    ]);
    const res = await ok(["api-resources", "--api-group=networking.istio.io", "-o", "name"]);
    for (const r of [
      "virtualservices.networking.istio.io",
      "destinationrules.networking.istio.io",
      "gateways.networking.istio.io",
    ])
      assert.ok(res.includes(r), `${r} in api-resources:\n${res}`);
  });

  it("apply -f (client-side) creates a Deployment, Service, VirtualService, DestinationRule and Gateway", async () => {
    const path = await f.file("app.yaml", appManifests());
    const out = await ok(["apply", "-f", path]);
    for (const what of [
      "deployment.apps/web created",
      "service/web created",
      "virtualservice.networking.istio.io/web created",
      "destinationrule.networking.istio.io/web created",
      "gateway.networking.istio.io/web-gateway created",
    ])
      assert.ok(out.includes(what), `expected "${what}" in:\n${out}`);
    // A second apply of the same files changes nothing.
    const again = await ok(["apply", "-f", path]);
    assert.match(again, /deployment\.apps\/web unchanged/);
    assert.match(again, /virtualservice\.networking\.istio\.io\/web unchanged/);
  });

  it("get -o yaml shows server-set fields and the VirtualService through every served version", async () => {
    const deploy = await ok(["get", "deploy", "web", "-o", "yaml"]);
    assert.match(deploy, /progressDeadlineSeconds: 600/);
    assert.match(deploy, /uid: [0-9a-f-]{36}/);
    const svc = await ok(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    assert.match(svc, /^10\.96\.\d+\.\d+$/);
    for (const v of ["v1", "v1beta1", "v1alpha3"]) {
      const vs = await ok([
        "get",
        `virtualservices.${v}.networking.istio.io`,
        "web",
        "-o",
        "jsonpath={.apiVersion} {.spec.http[0].route[0].destination.port.number}",
      ]);
      assert.equal(vs, `networking.istio.io/${v} 80`);
    }
  });

  it("rollout status reports a successful rollout; scale and image changes roll out again", async () => {
    assert.match(
      await ok(["rollout", "status", "deploy/web", "--timeout=30s"]),
      /deployment "web" successfully rolled out/,
    );
    assert.match(await ok(["scale", "deploy/web", "--replicas=3"]), /deployment\.apps\/web scaled/);
    assert.match(
      await ok(["rollout", "status", "deploy/web", "--timeout=30s"]),
      /successfully rolled out/,
    );
    assert.equal(
      await ok(["get", "deploy", "web", "-o", "jsonpath={.status.availableReplicas}"]),
      "3",
    );
    // A new image: a second ReplicaSet; the old one is scaled to zero once the new one is available.
    await ok(["apply", "-f", await f.file("app2.yaml", appManifests("nginx:1.26", 3))]);
    assert.match(
      await ok(["rollout", "status", "deploy/web", "--timeout=30s"]),
      /successfully rolled out/,
    );
    const rs = await ok([
      "get",
      "rs",
      "-l",
      "app=web",
      "-o",
      'jsonpath={range .items[*]}{.spec.replicas}{" "}{end}',
    ]);
    assert.deepEqual(rs.trim().split(" ").sort(), ["0", "3"]);
    const images = await ok([
      "get",
      "pods",
      "-l",
      "app=web",
      "-o",
      'jsonpath={range .items[*]}{.spec.containers[0].image}{" "}{end}',
    ]);
    await eventually(
      async () => {
        const now = await ok([
          "get",
          "pods",
          "-l",
          "app=web",
          "-o",
          'jsonpath={range .items[*]}{.spec.containers[0].image}{" "}{end}',
        ]);
        return (
          now
            .trim()
            .split(" ")
            .every((i) => i === "nginx:1.26") && now.trim().split(" ").length === 3
        );
      },
      10_000,
      `only new pods (had: ${images})`,
    );
  });

  it("apply --server-side works and reports serverside-applied", async () => {
    const path = await f.file("ssa.yaml", appManifests("nginx:1.27", 3));
    const out = await ok(["apply", "--server-side", "--force-conflicts", "-f", path]);
    assert.match(out, /deployment\.apps\/web serverside-applied/);
    assert.match(out, /virtualservice\.networking\.istio\.io\/web serverside-applied/);
    assert.equal(
      await ok([
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
      ]),
      "nginx:1.27",
    );
  });

  it("patch --type merge on a VirtualService works; the default strategic patch gets 415 like a real cluster", async () => {
    const patch = JSON.stringify({
      spec: {
        http: [
          {
            name: "primary",
            route: [
              { destination: { host: "web", subset: "primary", port: { number: 80 } }, weight: 90 },
              { destination: { host: "web", subset: "canary", port: { number: 80 } }, weight: 10 },
            ],
          },
        ],
      },
    });
    assert.match(
      await ok(["patch", "vs", "web", "--type", "merge", "-p", patch]),
      /virtualservice\.networking\.istio\.io\/web patched/,
    );
    assert.equal(
      await ok(["get", "vs", "web", "-o", "jsonpath={.spec.http[0].route[*].weight}"]),
      "90 10",
    );
    const smp = await f.kubectl(["patch", "vs", "web", "-p", patch]);
    assert.notEqual(smp.code, 0);
    assert.match(
      smp.stderr,
      /UnsupportedMediaType|the body of the request was in an unknown format/,
    );
  });

  it("a stale PUT (replace) is refused with 409 Conflict", async () => {
    const stale = await ok(["get", "deploy", "web", "-o", "json"]);
    await ok(["annotate", "deploy", "web", "touched=yes"]);
    const r = await f.kubectl(["replace", "-f", "-"], { input: stale });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Conflict|the object has been modified/);
  });

  it("an invalid VirtualService is rejected with 422 naming the field", async () => {
    const bad = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bad }
spec:
  hosts: [bad]
  http:
    - route:
        - destination: { host: bad }
          weight: "ten"
`;
    const r = await f.kubectl(["apply", "-f", "-"], { input: bad });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.http\[0\]\.route\[0\]\.weight/);
    assert.match(r.stderr, /is invalid|must be of type integer/);
  });

  it("a never-ready pod template makes rollout status fail with the progress deadline message", async () => {
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: stuck }
spec:
  replicas: 1
  progressDeadlineSeconds: 2
  selector: { matchLabels: { app: stuck } }
  template:
    metadata:
      labels: { app: stuck }
      annotations: { kube-sim.pipecd.dev/never-ready: "true" }
    spec:
      containers: [{ name: app, image: "app:broken" }]
`;
    await ok(["apply", "-f", "-"], manifest);
    const r = await f.kubectl(["rollout", "status", "deploy/stuck", "--timeout=30s"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /deployment "stuck" exceeded its progress deadline/);
  });

  it("delete removes the Deployment and garbage-collects its ReplicaSets and Pods", async () => {
    assert.match(await ok(["delete", "deploy", "web"]), /deployment\.apps "web" deleted/);
    await eventually(
      async () => {
        const rs = await ok(["get", "rs,pods", "-l", "app=web", "-o", "name"]);
        return rs.trim() === "";
      },
      10_000,
      "ReplicaSets and Pods of web to be garbage-collected",
    );
    const gone = await f.kubectl(["get", "deploy", "web"]);
    assert.match(gone.stderr, /NotFound|not found/);
  });
});
