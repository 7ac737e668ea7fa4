import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  parseCrdYamlDocuments,
  strictDecodingMessage,
  validateCustomResource,
  type JSONSchemaProps,
} from "../src/schema/index.js";
import { parseGoDuration } from "../src/schema/duration.js";

const schema: JSONSchemaProps = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      properties: {
        replicas: { type: "integer", default: 1 },
        mode: { type: "string", default: "auto" },
        ports: {
          type: "array",
          items: {
            type: "object",
            properties: { port: { type: "integer" }, protocol: { type: "string", default: "TCP" } },
          },
        },
        labels: { type: "object", additionalProperties: { type: "string" } },
        config: {
          type: "object",
          "x-kubernetes-preserve-unknown-fields": true,
          properties: { known: { type: "object", properties: { a: { type: "string" } } } },
        },
        template: {
          type: "object",
          "x-kubernetes-embedded-resource": true,
          properties: { spec: { type: "object", properties: { image: { type: "string" } } } },
        },
      },
    },
    status: { type: "object", properties: { phase: { type: "string" } } },
  },
};

describe("structural pruning", () => {
  it("drops unknown fields at any depth and lists their paths", () => {
    const r = validateCustomResource(schema, {
      apiVersion: "e.io/v1",
      kind: "E",
      metadata: { name: "a" },
      spec: { replicas: 2, mode: "x", extra: 1, ports: [{ port: 80 }, { port: 81, name: "web" }] },
      status: { phase: "Ready", detail: {} },
      top: true,
    });
    assert.deepEqual(r.unknownFields, ["spec.extra", "spec.ports[1].name", "status.detail", "top"]);
    assert.deepEqual(r.object, {
      apiVersion: "e.io/v1",
      kind: "E",
      metadata: { name: "a" },
      spec: {
        replicas: 2,
        mode: "x",
        ports: [
          { port: 80, protocol: "TCP" },
          { port: 81, protocol: "TCP" },
        ],
      },
      status: { phase: "Ready" },
    });
    assert.deepEqual(r.errors, []);
  });

  it("keeps only ObjectMeta fields under metadata", () => {
    const meta = {
      name: "a",
      namespace: "ns",
      labels: { app: "a" },
      annotations: { n: "1" },
      finalizers: ["f"],
      ownerReferences: [],
      resourceVersion: "5",
      uid: "u",
      generation: 2,
      creationTimestamp: "2024-01-01T00:00:00Z",
      bogus: 1,
    };
    const r = validateCustomResource(schema, { metadata: meta, spec: {} });
    const { bogus: _bogus, ...known } = meta;
    assert.deepEqual((r.object as { metadata: unknown }).metadata, known);
    assert.deepEqual(r.unknownFields, ["metadata.bogus"]);
  });

  it("keeps unknown fields under x-kubernetes-preserve-unknown-fields but prunes inside known ones", () => {
    const r = validateCustomResource(schema, {
      spec: { config: { anything: { deep: [1] }, known: { a: "x", b: "y" } } },
    });
    assert.deepEqual((r.object as { spec: unknown }).spec, {
      replicas: 1,
      mode: "auto",
      config: { anything: { deep: [1] }, known: { a: "x" } },
    });
    assert.deepEqual(r.unknownFields, ["spec.config.known.b"]);
  });

  it("keeps apiVersion, kind and metadata of an embedded resource", () => {
    const r = validateCustomResource(schema, {
      spec: {
        template: {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { labels: { a: "b" }, x: 1 },
          spec: { image: "i", y: 2 },
        },
      },
    });
    assert.deepEqual((r.object as { spec: { template: unknown } }).spec.template, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { labels: { a: "b" } },
      spec: { image: "i" },
    });
    assert.deepEqual(r.unknownFields, ["spec.template.metadata.x", "spec.template.spec.y"]);
  });

  it("does not change the caller's object", () => {
    const input = { spec: { extra: 1, ports: [{ port: 1 }] } };
    const before = JSON.stringify(input);
    validateCustomResource(schema, input);
    assert.equal(JSON.stringify(input), before);
  });

  it("treats Object.prototype member names as unknown fields", () => {
    const r = validateCustomResource(schema, {
      spec: { constructor: 1, toString: "x", replicas: 3 },
    });
    assert.deepEqual(r.unknownFields, ["spec.constructor", "spec.toString"]);
    assert.deepEqual(r.errors, []);
  });

  it("cannot be steered into an object's prototype by a __proto__ key", () => {
    const input = JSON.parse('{"spec":{"labels":{"__proto__":"x","a":"b"}}}') as unknown;
    const r = validateCustomResource(schema, input);
    const labels = (r.object as { spec: { labels: Record<string, unknown> } }).spec.labels;
    assert.equal(Object.getPrototypeOf(labels), Object.prototype);
    assert.deepEqual(Object.keys(labels), ["__proto__", "a"]);
  });
});

describe("defaulting", () => {
  it("fills missing fields and non-nullable nulls, and leaves given values", () => {
    const r = validateCustomResource(schema, { spec: { replicas: null, mode: "manual" } });
    assert.deepEqual((r.object as { spec: unknown }).spec, { replicas: 1, mode: "manual" });
  });

  it("defaults inside a defaulted object", () => {
    const s: JSONSchemaProps = {
      type: "object",
      properties: {
        spec: {
          type: "object",
          default: {},
          properties: {
            policy: {
              type: "object",
              default: {},
              properties: { retries: { type: "integer", default: 3 } },
            },
          },
        },
      },
    };
    assert.deepEqual(validateCustomResource(s, {}).object, { spec: { policy: { retries: 3 } } });
  });
});

describe("strictDecodingMessage", () => {
  it("lists every unknown field like the apiserver's strict decoder", () => {
    assert.equal(
      strictDecodingMessage(["spec.foo", "spec.http[0].bar"]),
      'strict decoding error: unknown field "spec.foo", unknown field "spec.http[0].bar"',
    );
  });
});

describe("parseCrdYamlDocuments", () => {
  it("returns one value per non-empty document", () => {
    const docs = parseCrdYamlDocuments("---\na: 1\n---\n# only a comment\n---\n- x\n---\n");
    assert.deepEqual(docs, [{ a: 1 }, ["x"]]);
  });

  it("refuses malformed YAML", () => {
    assert.throws(() => parseCrdYamlDocuments("a: 1\na: 2\n"), /YAML document 1/);
    assert.throws(() => parseCrdYamlDocuments("a: [1\n"), /YAML document 1/);
  });
});

describe("parseGoDuration", () => {
  it("parses what Go's time.ParseDuration parses", () => {
    const cases: [string, bigint][] = [
      ["0", 0n],
      ["1ms", 1_000_000n],
      ["0.1ms", 100_000n],
      ["1.5h", 5_400_000_000_000n],
      ["1h2m3.5s", 3_723_500_000_000n],
      ["-2us", -2_000n],
      ["+3µs", 3_000n],
      ["3μs", 3_000n],
      [".5s", 500_000_000n],
      ["1.s", 1_000_000_000n],
      ["9223372036854775807ns", 9223372036854775807n],
    ];
    for (const [text, ns] of cases) assert.equal(parseGoDuration(text), ns, text);
  });

  it("rejects what Go rejects", () => {
    for (const text of [
      "",
      "1",
      "abc",
      "1d",
      "s",
      ".s",
      "1.2.3s",
      "-",
      "9223372036854775808ns",
      "3000000h",
    ]) {
      assert.equal(parseGoDuration(text), undefined, text);
    }
  });
});
