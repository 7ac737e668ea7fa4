import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { humanDuration, jsonPath, toTable } from "../src/printers.js";
import { Registry } from "../src/registry.js";
import { typeFromCrd } from "../src/crd.js";
import type { Obj } from "../src/object.js";

const NOW = Date.parse("2026-12-07T12:00:00Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const reg = new Registry();
const cells = (resource: string, o: Obj, group = ""): unknown[] =>
  (
    toTable(
      reg.get(group, resource)!,
      "v1",
      [o],
      {},
      { tableVersion: "v1", includeObject: "None" },
      NOW,
    ).rows as { cells: unknown[] }[]
  )[0]!.cells;

describe("server-side printing", () => {
  it("formats ages as apimachinery's HumanDuration", () => {
    const s = 1000;
    const cases: [number, string][] = [
      [-5 * s, "<invalid>"],
      [-1 * s, "0s"],
      [0, "0s"],
      [119 * s, "119s"],
      [120 * s, "2m"],
      [125 * s, "2m5s"],
      [10 * 60 * s, "10m"],
      [179 * 60 * s, "179m"],
      [3 * 3600 * s, "3h"],
      [(3 * 3600 + 5 * 60) * s, "3h5m"],
      [8 * 3600 * s, "8h"],
      [47 * 3600 * s, "47h"],
      [48 * 3600 * s, "2d"],
      [51 * 3600 * s, "2d3h"],
      [8 * 86400 * s, "8d"],
      [730 * 86400 * s, "2y"],
      [740 * 86400 * s, "2y10d"],
      [9 * 365 * 86400 * s, "9y"],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });

  it("prints pod status, readiness and restarts through their branches", () => {
    const pod = (status: Obj, extra: Obj = {}): Obj => ({
      metadata: { name: "p", creationTimestamp: ago(60_000), ...extra },
      spec: { containers: [{ name: "a" }, { name: "b" }], nodeName: "n1" },
      status,
    });
    assert.deepEqual(
      cells(
        "pods",
        pod({
          phase: "Running",
          podIP: "10.0.0.9",
          conditions: [{ type: "Ready", status: "True" }],
          containerStatuses: [
            { name: "a", ready: true, restartCount: 0, state: { running: {} } },
            {
              name: "b",
              ready: true,
              restartCount: 2,
              state: { running: {} },
              lastState: { terminated: { finishedAt: ago(300_000) } },
            },
          ],
        }),
      ),
      ["p", "2/2", "Running", "2 (5m ago)", "60s", "10.0.0.9", "n1", "<none>", "<none>"],
    );
    // The first container's reason wins (statuses are read in reverse).
    assert.equal(
      cells(
        "pods",
        pod({
          phase: "Running",
          containerStatuses: [
            { name: "a", state: { waiting: { reason: "CrashLoopBackOff" } }, restartCount: 4 },
            { name: "b", state: { waiting: { reason: "ImagePullBackOff" } } },
          ],
        }),
      )[2],
      "CrashLoopBackOff",
    );
    assert.equal(cells("pods", pod({ phase: "Pending" }))[2], "Pending");
    const init = pod({
      phase: "Pending",
      initContainerStatuses: [{ name: "i", state: { running: {} } }],
    });
    (init.spec as Obj).initContainers = [{ name: "i" }];
    assert.equal(cells("pods", init)[2], "Init:0/1");
    assert.equal(
      cells(
        "pods",
        pod({
          phase: "Failed",
          containerStatuses: [{ name: "a", state: { terminated: { exitCode: 137 } } }],
        }),
      )[2],
      "ExitCode:137",
    );
    assert.equal(
      cells("pods", pod({ phase: "Running" }, { deletionTimestamp: ago(0) }))[2],
      "Terminating",
    );
    assert.equal(
      cells(
        "pods",
        pod({ phase: "Running", reason: "NodeLost" }, { deletionTimestamp: ago(0) }),
      )[2],
      "Unknown",
    );
  });

  it("prints services' external IPs and ports", () => {
    const svc = (spec: Obj, status: Obj = {}): unknown[] =>
      cells("services", { metadata: { name: "s", creationTimestamp: ago(0) }, spec, status });
    assert.deepEqual(
      svc({
        type: "NodePort",
        clusterIPs: ["10.96.0.5"],
        selector: { b: "2", a: "1" },
        ports: [
          { port: 80, nodePort: 30080, protocol: "TCP" },
          { port: 53, protocol: "UDP" },
        ],
      }),
      ["s", "NodePort", "10.96.0.5", "<none>", "80:30080/TCP,53/UDP", "0s", "a=1,b=2"],
    );
    assert.equal(svc({ type: "LoadBalancer", clusterIP: "10.96.0.6" })[3], "<pending>");
    assert.equal(
      svc(
        { type: "LoadBalancer" },
        {
          loadBalancer: {
            ingress: [{ ip: "2.2.2.2" }, { hostname: "lb.example" }, { ip: "1.1.1.1" }],
          },
        },
      )[3],
      "1.1.1.1,2.2.2.2,lb.example",
    );
    assert.equal(svc({ type: "ExternalName", externalName: "db.example" })[3], "db.example");
    assert.equal(svc({ clusterIP: "None" })[2], "None");
  });

  it("prints ingresses' class, hosts, address and ports", () => {
    const ing = (spec: Obj, status: Obj = {}): unknown[] =>
      cells(
        "ingresses",
        { metadata: { name: "i", creationTimestamp: ago(0) }, spec, status },
        "networking.k8s.io",
      );
    assert.deepEqual(ing({ rules: [{ host: "a.example" }, { host: "b.example" }] }), [
      "i",
      "<none>",
      "a.example,b.example",
      "",
      "80",
      "0s",
    ]);
    assert.deepEqual(
      ing(
        {
          ingressClassName: "nginx",
          tls: [{ hosts: ["a"] }],
          rules: ["a", "b", "c", "d", "e"].map((h) => ({ host: `${h}.example` })),
        },
        { loadBalancer: { ingress: [{ ip: "10.0.0.2" }, { hostname: "lb.example" }] } },
      ),
      [
        "i",
        "nginx",
        "a.example,b.example,c.example + 2 more...",
        "10.0.0.2,lb.example",
        "80, 443",
        "0s",
      ],
    );
    assert.equal(ing({ rules: [{ http: {} }] })[2], "*");
  });

  it("prints custom resources from additionalPrinterColumns, typed as the apiextensions server types them", () => {
    const t = typeFromCrd({
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
            additionalPrinterColumns: [
              { name: "Size", type: "integer", jsonPath: ".spec.size" },
              {
                name: "Ready",
                type: "string",
                jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              },
              { name: "Ratio", type: "number", jsonPath: ".spec.ratio", priority: 1 },
              { name: "Since", type: "date", jsonPath: ".status.since" },
              { name: "Tags", type: "string", jsonPath: ".spec.tags" },
            ],
          },
          { name: "v2", served: true, storage: false },
        ],
      },
    })!;
    const o: Obj = {
      metadata: { name: "w", creationTimestamp: ago(3_600_000) },
      spec: { size: 3.7, ratio: 2, tags: ["a", "b"] },
      status: {
        conditions: [
          { type: "Synced", status: "False" },
          { type: "Ready", status: "True" },
        ],
        since: ago(180_000),
      },
    };
    const v1 = toTable(t, "v1", [o], {}, { tableVersion: "v1", includeObject: "None" }, NOW);
    assert.deepEqual(
      (v1.columnDefinitions as { name: string; type: string; priority: number }[]).map((c) => [
        c.name,
        c.type,
        c.priority,
      ]),
      [
        ["Name", "string", 0],
        ["Size", "integer", 0],
        ["Ready", "string", 0],
        ["Ratio", "number", 1],
        ["Since", "date", 0],
        ["Tags", "string", 0],
      ],
    );
    assert.deepEqual((v1.rows as { cells: unknown[] }[])[0]!.cells, [
      "w",
      3,
      "True",
      2,
      "3m",
      '["a","b"]',
    ]);
    // A version without columns gets the served-time default: an Age column of type date.
    const v2 = toTable(t, "v2", [o], {}, { tableVersion: "v1", includeObject: "None" }, NOW);
    assert.deepEqual((v2.rows as { cells: unknown[] }[])[0]!.cells, ["w", "60m"]);
    assert.deepEqual(jsonPath({ a: { "b.c": [1, 2] } }, "{.a['b.c'][1]}"), [2]);
    assert.deepEqual(jsonPath({ a: [{ x: 1 }, { x: 2 }] }, ".a[*].x"), [1, 2]);
    assert.deepEqual(jsonPath({ a: 1 }, ".missing"), []);
    assert.deepEqual(jsonPath({ a: 1 }, ".constructor"), [], "only the object's own keys");
  });
});
