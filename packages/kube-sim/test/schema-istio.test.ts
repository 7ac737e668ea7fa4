import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  invalidMessage,
  parseCrdYamlDocuments,
  unsupportedRules,
  validateCustomResource,
  type FieldError,
  type JSONSchemaProps,
} from "../src/schema/index.js";

// CI checks out `shared/` beside the repository.
const CRDS = parseCrdYamlDocuments(
  readFileSync(new URL("../../../deploy/examples/istio-crds.yaml", import.meta.url), "utf8"),
);

interface CrdDoc {
  spec: {
    names: { kind: string };
    versions: { name: string; schema: { openAPIV3Schema: JSONSchemaProps } }[];
  };
}

function schemaOf(kind: string, version = "v1"): JSONSchemaProps {
  const crd = (CRDS as CrdDoc[]).find((d) => d.spec.names.kind === kind);
  const v = crd?.spec.versions.find((x) => x.name === version);
  assert.ok(v, `no ${kind} ${version} in istio-crds.yaml`);
  return v.schema.openAPIV3Schema;
}

const BLOCKED: FieldError = {
  type: "FieldValueInvalid",
  field: "<nil>",
  message:
    "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
};

function virtualService(http: unknown[], version = "v1"): Record<string, unknown> {
  return {
    apiVersion: `networking.istio.io/${version}`,
    kind: "VirtualService",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    spec: { hosts: ["web"], gateways: ["mesh"], http },
  };
}

function canaryRoutes(): unknown[] {
  return [
    {
      name: "primary",
      match: [{ uri: { prefix: "/api" }, headers: { "x-canary": { exact: "1" } } }],
      timeout: "10s",
      retries: { attempts: 3, perTryTimeout: "2s" },
      route: [
        { destination: { host: "web", subset: "stable", port: { number: 8080 } }, weight: 90 },
        { destination: { host: "web", subset: "canary", port: { number: 8080 } }, weight: 10 },
      ],
    },
  ];
}

function validateVs(http: unknown[], version = "v1") {
  return validateCustomResource(schemaOf("VirtualService", version), virtualService(http, version));
}

describe("Istio VirtualService schema", () => {
  for (const version of ["v1", "v1beta1", "v1alpha3"]) {
    it(`accepts a canary VirtualService with weights and ports unchanged (${version})`, () => {
      const input = virtualService(canaryRoutes(), version);
      const r = validateCustomResource(schemaOf("VirtualService", version), input);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.unknownFields, []);
      assert.deepEqual(r.object, input);
      assert.notEqual(r.object, input, "returns a copy");
    });
  }

  it("rejects a string weight with the apiserver's exact type message", () => {
    const r = validateVs([{ route: [{ destination: { host: "web" }, weight: "string" }] }]);
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueTypeInvalid",
        field: "spec.http[0].route[0].weight",
        message:
          'Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"',
      },
      BLOCKED,
    ]);
  });

  it("shows the JSON type, not the value, for any type mismatch (kube-openapi InvalidType)", () => {
    const r = validateVs([{ route: [{ destination: { host: "web" }, weight: "ninety" }] }]);
    assert.equal(
      r.errors[0]?.message,
      'Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"',
    );
  });

  it("requires destination.host", () => {
    const r = validateVs([{ route: [{ destination: { subset: "stable" }, weight: 100 }] }]);
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueRequired",
        field: "spec.http[0].route[0].destination.host",
        message: "Required value",
      },
      BLOCKED,
    ]);
  });

  it("requires a destination on every route", () => {
    const r = validateVs([{ route: [{ weight: 100 }] }]);
    assert.equal(r.errors[0]?.field, "spec.http[0].route[0].destination");
    assert.equal(r.errors[0]?.type, "FieldValueRequired");
  });

  it("accepts a negative weight: the CRD has no minimum, only istiod's webhook refuses it", () => {
    const r = validateVs([{ route: [{ destination: { host: "web" }, weight: -5 }] }]);
    assert.deepEqual(r.errors, []);
  });

  it("accepts a weight beyond int32: the apiserver strips the int32 format from CRD schemas", () => {
    const r = validateVs([{ route: [{ destination: { host: "web" }, weight: 3_000_000_000 }] }]);
    assert.deepEqual(r.errors, []);
  });

  it("rejects a fractional weight as a number", () => {
    const r = validateVs([{ route: [{ destination: { host: "web" }, weight: 1.5 }] }]);
    assert.equal(
      r.errors[0]?.message,
      'Invalid value: "number": spec.http[0].route[0].weight in body must be of type integer: "number"',
    );
  });

  it("rejects a port number above the schema maximum", () => {
    const r = validateVs([
      { route: [{ destination: { host: "web", port: { number: 4294967296 } } }] },
    ]);
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueInvalid",
        field: "spec.http[0].route[0].destination.port.number",
        message:
          "Invalid value: 4294967296: spec.http[0].route[0].destination.port.number in body should be less than or equal to 4294967295",
      },
    ]);
  });

  for (const timeout of ["0.1ms", "999us", "-1s", "0"]) {
    it(`rejects timeout ${JSON.stringify(timeout)} with the CEL rule message`, () => {
      const r = validateVs([{ timeout, route: [{ destination: { host: "web" } }] }]);
      assert.deepEqual(r.errors, [
        {
          type: "FieldValueInvalid",
          field: "spec.http[0].timeout",
          message: 'Invalid value: "string": must be a valid duration greater than 1ms',
        },
      ]);
    });
  }

  it("rejects an unparsable timeout with the CEL evaluation error and the rule message", () => {
    const r = validateVs([{ timeout: "abc", route: [{ destination: { host: "web" } }] }]);
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueInvalid",
        field: "spec.http[0].timeout",
        message:
          "Invalid value: \"string\": type conversion error from 'string' to 'google.protobuf.Duration' evaluating rule: must be a valid duration greater than 1ms",
      },
    ]);
  });

  it("checks the duration rule on retries, fault delays and CORS maxAge too", () => {
    const r = validateVs([
      {
        route: [{ destination: { host: "web" } }],
        retries: { attempts: 2, perTryTimeout: "500us" },
        fault: { delay: { fixedDelay: "1h", percentage: { value: 0.5 } } },
        corsPolicy: { maxAge: "10ns" },
      },
    ]);
    // The apiserver walks object keys in Go map order, so only the set of fields is stable.
    assert.deepEqual(r.errors.map((e) => e.field).sort(), [
      "spec.http[0].corsPolicy.maxAge",
      "spec.http[0].retries.perTryTimeout",
    ]);
  });

  it("accepts Go durations at or above 1ms", () => {
    for (const timeout of ["1ms", "1.5s", "1h2m3.5s", "1000us", "+2m"]) {
      const r = validateVs([{ timeout, route: [{ destination: { host: "web" } }] }]);
      assert.deepEqual(r.errors, [], timeout);
    }
  });

  it("prunes and reports unknown fields, keeping status (preserve-unknown-fields)", () => {
    const status = { observedGeneration: 2, anything: { goes: true } };
    const input = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "web", namespace: "default", colour: "blue" },
      spec: {
        hosts: ["web"],
        foo: "bar",
        http: [{ route: [{ destination: { host: "web", zone: "a" } }], retriez: 3 }],
      },
      status,
    };
    const r = validateCustomResource(schemaOf("VirtualService"), input);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.unknownFields, [
      "metadata.colour",
      "spec.foo",
      "spec.http[0].route[0].destination.zone",
      "spec.http[0].retriez",
    ]);
    assert.deepEqual(r.object, {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "web", namespace: "default" },
      spec: { hosts: ["web"], http: [{ route: [{ destination: { host: "web" } }] }] },
      status,
    });
    assert.equal(input.spec.foo, "bar", "input untouched");
  });

  it("rejects a StringMatch with both exact and prefix (oneOf)", () => {
    const r = validateVs([
      {
        match: [{ uri: { exact: "/a", prefix: "/b" } }],
        route: [{ destination: { host: "web" } }],
      },
    ]);
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueInvalid",
        field: "<nil>",
        message:
          'Invalid value: "": "spec.http[0].match[0].uri" must validate one and only one schema (oneOf). Found 2 valid alternatives',
      },
    ]);
  });

  it("accepts an empty StringMatch and each single alternative", () => {
    for (const uri of [{}, { exact: "/a" }, { prefix: "/" }, { regex: "^/a.*" }]) {
      const r = validateVs([{ match: [{ uri }], route: [{ destination: { host: "web" } }] }]);
      assert.deepEqual(r.errors, [], JSON.stringify(uri));
    }
  });

  it("rejects an unknown enum value", () => {
    const r = validateVs([{ redirect: { uri: "/x", derivePort: "FROM_NOWHERE" } }]);
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueNotSupported",
        field: "spec.http[0].redirect.derivePort",
        message:
          'Unsupported value: "FROM_NOWHERE": supported values: "FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"',
      },
      BLOCKED,
    ]);
  });

  it("has no CEL rule kube-sim cannot evaluate", () => {
    for (const version of ["v1", "v1beta1", "v1alpha3"]) {
      assert.deepEqual(unsupportedRules(schemaOf("VirtualService", version)), []);
    }
  });
});

describe("Istio DestinationRule schema", () => {
  function dr(spec: Record<string, unknown>) {
    return {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "web" },
      spec,
    };
  }

  it("accepts subsets with labels and a traffic policy", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({
        host: "web",
        trafficPolicy: {
          loadBalancer: { simple: "ROUND_ROBIN" },
          connectionPool: { tcp: { connectTimeout: "3s" } },
        },
        subsets: [
          { name: "stable", labels: { version: "v1" } },
          { name: "canary", labels: { version: "v2" } },
        ],
      }),
    );
    assert.deepEqual(r.errors, []);
  });

  it("requires host", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({ subsets: [{ name: "stable" }] }),
    );
    assert.deepEqual(r.errors, [
      { type: "FieldValueRequired", field: "spec.host", message: "Required value" },
      BLOCKED,
    ]);
  });

  it("requires a subset name", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({ host: "web", subsets: [{ labels: { v: "1" } }] }),
    );
    assert.equal(r.errors[0]?.field, "spec.subsets[0].name");
    assert.equal(r.errors[0]?.message, "Required value");
  });

  it("rejects an unknown load balancer", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({ host: "web", trafficPolicy: { loadBalancer: { simple: "FASTEST" } } }),
    );
    assert.equal(r.errors[0]?.type, "FieldValueNotSupported");
    assert.equal(
      r.errors[0]?.message,
      'Unsupported value: "FASTEST": supported values: "UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"',
    );
  });

  it("rejects wildcards in workloadSelector labels (map key and value rules)", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({ host: "web", workloadSelector: { matchLabels: { app: "we*", "ti*er": "x" } } }),
    );
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueInvalid",
        field: "spec.workloadSelector.matchLabels",
        message: 'Invalid value: "object": wildcard not allowed in label key match',
      },
      {
        type: "FieldValueInvalid",
        field: "spec.workloadSelector.matchLabels[app]",
        message: 'Invalid value: "string": wildcard not allowed in label value match',
      },
    ]);
  });

  it("rejects a too long label value", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({ host: "web", workloadSelector: { matchLabels: { app: "x".repeat(64) } } }),
    );
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueTooLong",
        field: "spec.workloadSelector.matchLabels.app",
        message: "Too long: may not be more than 63 bytes",
      },
      BLOCKED,
    ]);
  });

  it("checks connection pool durations", () => {
    const r = validateCustomResource(
      schemaOf("DestinationRule"),
      dr({
        host: "web",
        subsets: [
          { name: "a", trafficPolicy: { connectionPool: { http: { idleTimeout: "1us" } } } },
        ],
      }),
    );
    assert.deepEqual(
      r.errors.map((e) => `${e.field}: ${e.message}`),
      [
        'spec.subsets[0].trafficPolicy.connectionPool.http.idleTimeout: Invalid value: "string": must be a valid duration greater than 1ms',
      ],
    );
  });
});

describe("Istio Gateway schema", () => {
  function gw(servers: unknown[]) {
    return {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "gw" },
      spec: { selector: { istio: "ingressgateway" }, servers },
    };
  }

  it("accepts an HTTPS server", () => {
    const r = validateCustomResource(
      schemaOf("Gateway"),
      gw([
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*.example.com"],
          tls: { mode: "SIMPLE", credentialName: "cert" },
        },
      ]),
    );
    assert.deepEqual(r.errors, []);
  });

  it("requires port and hosts on a server", () => {
    const r = validateCustomResource(schemaOf("Gateway"), gw([{ name: "http" }]));
    assert.deepEqual(r.errors, [
      { type: "FieldValueRequired", field: "spec.servers[0].port", message: "Required value" },
      { type: "FieldValueRequired", field: "spec.servers[0].hosts", message: "Required value" },
      BLOCKED,
    ]);
  });

  it("requires number, protocol and name on a port", () => {
    const r = validateCustomResource(schemaOf("Gateway"), gw([{ port: {}, hosts: ["*"] }]));
    assert.deepEqual(
      r.errors.map((e) => e.field),
      [
        "spec.servers[0].port.number",
        "spec.servers[0].port.protocol",
        "spec.servers[0].port.name",
        "<nil>",
      ],
    );
  });

  it("allows only one of credentialName and credentialNames (CEL)", () => {
    const r = validateCustomResource(
      schemaOf("Gateway"),
      gw([
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { mode: "SIMPLE", credentialName: "a", credentialNames: ["b"] },
        },
      ]),
    );
    assert.deepEqual(r.errors, [
      {
        type: "FieldValueInvalid",
        field: "spec.servers[0].tls",
        message:
          'Invalid value: "object": only one of credentialName or credentialNames can be set',
      },
    ]);
  });

  it("limits credentialNames to two items", () => {
    const r = validateCustomResource(
      schemaOf("Gateway"),
      gw([
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { credentialNames: ["a", "b", "c"] },
        },
      ]),
    );
    assert.deepEqual(r.errors[0], {
      type: "FieldValueTooMany",
      field: "spec.servers[0].tls.credentialNames",
      message: "Too many: 3: must have at most 2 items",
    });
  });
});

describe("Istio CRD bundle", () => {
  it("lists the CEL rules of other Istio kinds that are not evaluated", () => {
    const rules = unsupportedRules(schemaOf("ServiceEntry"));
    assert.ok(rules.includes("0 < self && self <= 65535"), rules.join("\n"));
  });
});

describe("invalidMessage", () => {
  const weight: FieldError = {
    type: "FieldValueTypeInvalid",
    field: "spec.http[0].route[0].weight",
    message:
      'Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"',
  };
  const host: FieldError = {
    type: "FieldValueRequired",
    field: "spec.host",
    message: "Required value",
  };

  it("renders one error without brackets", () => {
    assert.equal(
      invalidMessage("VirtualService", "networking.istio.io", "web", [weight]),
      'VirtualService.networking.istio.io "web" is invalid: spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"',
    );
  });

  it("joins several errors in brackets and drops repeated ones", () => {
    assert.equal(
      invalidMessage("DestinationRule", "networking.istio.io", "web", [host, weight, host]),
      'DestinationRule.networking.istio.io "web" is invalid: [spec.host: Required value, spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"]',
    );
  });

  it("omits the group of core kinds and quotes the name Go-style", () => {
    assert.equal(invalidMessage("ConfigMap", "", 'a"b', []), 'ConfigMap "a\\"b" is invalid');
  });
});
