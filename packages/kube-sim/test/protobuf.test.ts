import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { ISTIO_CRDS, startSim, type SimFixture } from "./harness.js";
import { PROTOBUF, ProtoError, decodeObject, encodeObject } from "../src/proto/codec.js";

/** A raw HTTPS call with a binary body and the response as bytes. */
function rawCall(
  f: SimFixture,
  method: string,
  path: string,
  opts: { body?: Buffer; contentType?: string; accept?: string } = {},
): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, f.sim.url),
      {
        method,
        ca: f.sim.caCert,
        headers: {
          authorization: `Bearer ${f.sim.token}`,
          ...(opts.contentType ? { "content-type": opts.contentType } : {}),
          ...(opts.accept ? { accept: opts.accept } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

describe("Kubernetes protobuf codec", () => {
  it("round-trips objects through the wire format, special JSON forms included", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "p",
        namespace: "default",
        labels: { app: "web" },
        creationTimestamp: "2026-01-02T03:04:05Z",
        managedFields: [
          {
            manager: "kubectl",
            operation: "Apply",
            apiVersion: "v1",
            time: "2026-01-02T03:04:05Z",
            fieldsType: "FieldsV1",
            fieldsV1: { "f:metadata": { "f:labels": { "f:app": {} } } },
          },
        ],
      },
      spec: {
        containers: [
          {
            name: "web",
            image: "nginx:1.25",
            ports: [{ containerPort: 80, protocol: "TCP" }],
            resources: { limits: { cpu: "500m", memory: "64Mi" } },
            readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 5 },
            livenessProbe: { tcpSocket: { port: 80 } },
          },
        ],
        volumes: [{ name: "cfg", configMap: { name: "cfg", defaultMode: 420 } }],
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 0,
      },
      status: { phase: "Running", startTime: "2026-01-02T03:04:06Z" },
    };
    assert.deepEqual(decodeObject(encodeObject(pod)!), pod);
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s" },
      type: "Opaque",
      data: { password: Buffer.from("hunter2").toString("base64") },
    };
    assert.deepEqual(decodeObject(encodeObject(secret)!), secret);
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e", namespace: "default" },
      involvedObject: { kind: "Pod", name: "p" },
      reason: "Started",
      eventTime: "2026-01-02T03:04:05.123456Z",
      count: 2,
    };
    assert.deepEqual(decodeObject(encodeObject(event)!), event);
  });

  it("round-trips a CRD's schema: $ref-style names, x-kubernetes-* flags, bool-or-schema fields", () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { plural: "widgets", kind: "Widget" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    additionalProperties: false,
                    properties: {
                      size: { type: "integer", minimum: 1, default: 3 },
                      tags: { type: "array", items: { type: "string" } },
                    },
                  },
                },
              },
            },
            additionalPrinterColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }],
          },
        ],
      },
    };
    assert.deepEqual(decodeObject(encodeObject(crd)!), crd);
  });

  it("drops what Go's JSON drops (omitempty zeros) and keeps what it keeps (pointers)", () => {
    // As a Go client encodes it: every non-pointer field is on the wire, zero or not.
    const sent = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", generateName: "", namespace: "" },
      spec: {
        replicas: 0,
        paused: false,
        template: { spec: { containers: [{ name: "c", stdin: false, args: [] }] } },
      },
    };
    assert.deepEqual(decodeObject(encodeObject(sent)!), {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      // replicas is *int32: 0 is a value; paused and stdin are plain bools with omitempty.
      spec: { replicas: 0, template: { spec: { containers: [{ name: "c" }] } } },
    });
  });

  it("refuses what is not a Kubernetes protobuf object", () => {
    assert.throws(() => decodeObject(Buffer.from('{"kind":"Pod"}')), ProtoError);
    const unknownKind = encodeObject({ apiVersion: "v1", kind: "Pod", metadata: { name: "x" } })!;
    const patched = Buffer.from(unknownKind.toString("latin1").replace("Pod", "Pxd"), "latin1");
    assert.throws(() => decodeObject(patched), /no kind "Pxd" is registered for version "v1"/);
    assert.equal(encodeObject({ apiVersion: "example.com/v1", kind: "Widget" }), undefined);
  });
});

describe("kube-sim over protobuf", () => {
  let f: SimFixture;
  before(async () => {
    f = await startSim();
  });
  after(async () => f?.close());

  it("accepts protobuf bodies for built-in kinds and answers in protobuf when asked", async () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "pb" }, data: { a: "1" } };
    const created = await rawCall(f, "POST", "/api/v1/namespaces/default/configmaps", {
      body: encodeObject(cm),
      contentType: PROTOBUF,
      accept: `${PROTOBUF}, */*`,
    });
    assert.equal(created.status, 201);
    assert.equal(created.type, PROTOBUF);
    const back = decodeObject(created.body);
    assert.equal(back.kind, "ConfigMap");
    assert.deepEqual(back.data, { a: "1" });
    assert.ok((back.metadata as { uid?: string }).uid, "server-set fields come back");
    const json = await rawCall(f, "GET", "/api/v1/namespaces/default/configmaps/pb", {
      accept: "application/json",
    });
    assert.equal(json.type, "application/json");
    assert.deepEqual((JSON.parse(json.body.toString()) as { data: unknown }).data, { a: "1" });
    const list = await rawCall(f, "GET", "/api/v1/namespaces/default/configmaps", {
      accept: PROTOBUF,
    });
    const items = decodeObject(list.body).items as { metadata: { name: string } }[];
    assert.ok(items.some((i) => i.metadata.name === "pb"));
    const yaml = await rawCall(f, "GET", "/api/v1/namespaces/default/configmaps/pb", {
      accept: "application/yaml",
    });
    assert.equal(yaml.type, "application/yaml");
    assert.match(yaml.body.toString(), /^apiVersion: v1\nkind: ConfigMap\n/);
  });

  it("errors are protobuf Status objects for protobuf clients; bad bodies are 400", async () => {
    const missing = await rawCall(f, "GET", "/api/v1/namespaces/default/configmaps/nope", {
      accept: PROTOBUF,
    });
    assert.equal(missing.status, 404);
    const status = decodeObject(missing.body);
    assert.deepEqual(
      { kind: status.kind, reason: status.reason, code: status.code },
      { kind: "Status", reason: "NotFound", code: 404 },
    );
    const bad = await rawCall(f, "POST", "/api/v1/namespaces/default/configmaps", {
      body: Buffer.from("not protobuf"),
      contentType: PROTOBUF,
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /does not appear to be a protobuf message/);
  });

  it("refuses built-in JSON that Go's decoder would refuse, with the API server's text", async () => {
    const post = async (path: string, body: unknown) => {
      const r = await rawCall(f, "POST", path, {
        body: Buffer.from(JSON.stringify(body)),
        contentType: "application/json",
      });
      return { status: r.status, body: JSON.parse(r.body.toString()) as { message?: string } };
    };
    const cm = await post("/api/v1/namespaces/default/configmaps", {
      metadata: { name: "typed" },
      immutable: "yes",
    });
    assert.equal(cm.status, 400);
    assert.equal(
      cm.body.message,
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal string into Go struct field ConfigMap.immutable of type bool',
    );
    const deploy = await post("/apis/apps/v1/namespaces/default/deployments", {
      metadata: { name: "typed" },
      spec: {
        replicas: "2",
        selector: { matchLabels: { app: "t" } },
        template: {
          metadata: { labels: { app: "t" } },
          spec: { containers: [{ name: "c", image: "i" }] },
        },
      },
    });
    assert.equal(deploy.status, 400);
    assert.equal(
      deploy.body.message,
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32',
    );
    const ports = await post("/api/v1/namespaces/default/services", {
      metadata: { name: "typed" },
      spec: { ports: { port: 80 } },
    });
    assert.equal(ports.status, 400);
    assert.match(
      String(ports.body.message),
      /cannot unmarshal object into Go struct field ServiceSpec\.spec\.ports of type \[\]v1\.ServicePort$/,
    );
    // Out of an int32's range is refused too, as Go refuses it.
    const huge = await post("/apis/apps/v1/namespaces/default/deployments", {
      metadata: { name: "huge" },
      spec: { replicas: 1e10 },
    });
    assert.equal(huge.status, 400);
    assert.match(
      String(huge.body.message),
      /cannot unmarshal number into Go struct field DeploymentSpec\.spec\.replicas of type int32$/,
    );
    // IntOrString and Quantity take both forms.
    const ok = await post("/api/v1/namespaces/default/services", {
      metadata: { name: "typed-ok" },
      spec: {
        ports: [
          { port: 80, targetPort: "http" },
          { name: "b", port: 81, targetPort: 8081 },
        ],
      },
    });
    assert.equal(ok.status, 201);
  });

  it("a new pod is Pending with its QoS class from the start, as the pod strategy makes it", async () => {
    const create = async (name: string, resources: unknown) => {
      const r = await rawCall(f, "POST", "/api/v1/namespaces/default/pods", {
        body: Buffer.from(
          JSON.stringify({
            metadata: { name },
            spec: { containers: [{ name: "c", image: "i", resources }] },
          }),
        ),
        contentType: "application/json",
      });
      assert.equal(r.status, 201, r.body.toString());
      return (JSON.parse(r.body.toString()) as { status: unknown }).status;
    };
    assert.deepEqual(await create("qos-none", {}), { phase: "Pending", qosClass: "BestEffort" });
    assert.deepEqual(await create("qos-burst", { requests: { cpu: "100m" } }), {
      phase: "Pending",
      qosClass: "Burstable",
    });
    assert.deepEqual(await create("qos-guaranteed", { limits: { cpu: "1", memory: "1Gi" } }), {
      phase: "Pending",
      qosClass: "Guaranteed",
    });
  });

  it("custom resources stay JSON-only, as on a cluster", async () => {
    const crds = await f.kubectl(["apply", "-f", ISTIO_CRDS]);
    assert.equal(crds.code, 0, crds.stderr);
    await f.kubectl(["wait", "--for=condition=established", "--timeout=20s", "crd", "--all"]);
    const vs = encodeObject({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } });
    const refused = await rawCall(
      f,
      "POST",
      "/apis/networking.istio.io/v1beta1/namespaces/default/virtualservices",
      { body: vs, contentType: PROTOBUF },
    );
    assert.equal(refused.status, 415);
    const listed = await rawCall(
      f,
      "GET",
      "/apis/networking.istio.io/v1beta1/namespaces/default/virtualservices",
      { accept: `${PROTOBUF}, */*` },
    );
    assert.equal(listed.status, 200);
    assert.equal(listed.type, "application/json");
  });

  it("real kubectl's protobuf writes work: create namespace, configmap, secret, deployment, token, auth can-i", async () => {
    const run = async (args: string[]) => {
      const r = await f.kubectl(args);
      assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    assert.equal(await run(["create", "namespace", "demo"]), "namespace/demo created\n");
    assert.equal(
      await run(["create", "configmap", "cfg", "--from-literal=a=b", "-n", "demo"]),
      "configmap/cfg created\n",
    );
    assert.equal(
      await run(["create", "secret", "generic", "s1", "--from-literal=p=q", "-n", "demo"]),
      "secret/s1 created\n",
    );
    assert.equal(
      await run(["get", "secret", "s1", "-n", "demo", "-o", "jsonpath={.data.p}"]),
      "cQ==",
    );
    assert.equal(
      await run(["create", "deployment", "web", "--image=nginx:1.25", "-n", "demo"]),
      "deployment.apps/web created\n",
    );
    const tmpl = await run([
      "get",
      "deploy",
      "web",
      "-n",
      "demo",
      "-o",
      "jsonpath={.spec.template.spec.containers[0]}",
    ]);
    assert.deepEqual(JSON.parse(tmpl), {
      image: "nginx:1.25",
      imagePullPolicy: "IfNotPresent",
      name: "nginx",
      resources: {},
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
    });
    // The ServiceAccount controller made "default" in the new namespace.
    assert.ok((await run(["create", "token", "default", "-n", "demo"])).trim().length > 20);
    assert.equal(await run(["auth", "can-i", "create", "deployments", "-n", "demo"]), "yes\n");
  });
});
