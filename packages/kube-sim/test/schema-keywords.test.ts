import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { validateCustomResource, type JSONSchemaProps } from "../src/schema/index.js";

/** A CR schema whose spec.x is `x`; other spec fields are unknown. */
function specSchema(x: JSONSchemaProps, extra: Partial<JSONSchemaProps> = {}): JSONSchemaProps {
  return { type: "object", properties: { spec: { type: "object", properties: { x }, ...extra } } };
}

/** Errors of `spec.x: value` as `field: message` lines. */
function errorsFor(x: JSONSchemaProps, value: unknown): string[] {
  const r = validateCustomResource(specSchema(x), {
    apiVersion: "e.io/v1",
    kind: "E",
    spec: { x: value },
  });
  return r.errors.map((e) => `${e.field}: ${e.message}`);
}

describe("type checks", () => {
  it("names the JSON type of the bad value, not the value", () => {
    assert.deepEqual(errorsFor({ type: "string" }, { a: 1 }), [
      'spec.x: Invalid value: "object": spec.x in body must be of type string: "object"',
    ]);
    assert.deepEqual(errorsFor({ type: "boolean" }, [true]), [
      'spec.x: Invalid value: "array": spec.x in body must be of type boolean: "array"',
    ]);
    assert.deepEqual(errorsFor({ type: "object" }, true), [
      'spec.x: Invalid value: "boolean": spec.x in body must be of type object: "boolean"',
    ]);
  });

  it("reports type errors as FieldValueTypeInvalid causes", () => {
    const r = validateCustomResource(specSchema({ type: "integer" }), { spec: { x: "1" } });
    assert.equal(r.errors[0]?.type, "FieldValueTypeInvalid");
  });

  it("treats integral numbers as integers and lets integers be numbers", () => {
    assert.deepEqual(errorsFor({ type: "integer" }, 3), []);
    assert.deepEqual(errorsFor({ type: "number" }, 3), []);
    assert.deepEqual(errorsFor({ type: "number" }, 0.25), []);
    assert.deepEqual(errorsFor({ type: "integer" }, 0.25), [
      'spec.x: Invalid value: "number": spec.x in body must be of type integer: "number"',
    ]);
  });

  it("does not range-check int32/int64/double formats, as the apiserver strips them", () => {
    assert.deepEqual(errorsFor({ type: "integer", format: "int32" }, 2 ** 40), []);
    assert.deepEqual(errorsFor({ type: "number", format: "float" }, 1e300), []);
  });

  it("accepts integers and strings for x-kubernetes-int-or-string only", () => {
    const s: JSONSchemaProps = { "x-kubernetes-int-or-string": true };
    assert.deepEqual(errorsFor(s, 8080), []);
    assert.deepEqual(errorsFor(s, "http"), []);
    assert.deepEqual(errorsFor(s, false), [
      'spec.x: Invalid value: "boolean": spec.x in body must be of type integer,string: "boolean"',
    ]);
  });

  it("reports a null array item unless the items are nullable", () => {
    const r = validateCustomResource(specSchema({ type: "array", items: { type: "string" } }), {
      spec: { x: ["a", null] },
    });
    assert.deepEqual(
      r.errors.map((e) => `${e.field}: ${e.message}`),
      ['spec.x[1]: Invalid value: "null": spec.x[1] in body must be of type string: "null"'],
    );
    assert.deepEqual(
      errorsFor({ type: "array", items: { type: "string", nullable: true } }, ["a", null]),
      [],
    );
  });

  it("keeps a null for a nullable field and drops it for a non-nullable one", () => {
    const nullable = validateCustomResource(specSchema({ type: "boolean", nullable: true }), {
      spec: { x: null },
    });
    assert.deepEqual(nullable.object, { spec: { x: null } });
    assert.deepEqual(nullable.errors, []);
    const strict = validateCustomResource(specSchema({ type: "boolean" }, { required: ["x"] }), {
      spec: { x: null },
    });
    assert.deepEqual(strict.object, { spec: {} });
    assert.deepEqual(strict.errors, [
      { type: "FieldValueRequired", field: "spec.x", message: "Required value" },
    ]);
  });

  it("validates string formats the apiserver supports", () => {
    assert.deepEqual(
      errorsFor({ type: "string", format: "date-time" }, "2024-02-29T10:00:00Z"),
      [],
    );
    assert.deepEqual(errorsFor({ type: "string", format: "date-time" }, "yesterday"), [
      'spec.x: Invalid value: "yesterday": spec.x in body must be of type date-time: "yesterday"',
    ]);
    assert.deepEqual(errorsFor({ type: "string", format: "byte" }, "aGVsbG8="), []);
    assert.deepEqual(errorsFor({ type: "string", format: "byte" }, "not base64!").length, 1);
    assert.deepEqual(errorsFor({ type: "string", format: "ipv4" }, "10.0.0.256").length, 1);
    assert.deepEqual(errorsFor({ type: "string", format: "ipv6" }, "fe80::1"), []);
  });
});

describe("value constraints", () => {
  it("reports enum violations with Go-quoted supported values", () => {
    assert.deepEqual(errorsFor({ type: "string", enum: ["A", 'b"c'] }, "z"), [
      'spec.x: Unsupported value: "z": supported values: "A", "b\\"c"',
    ]);
    assert.deepEqual(errorsFor({ type: "integer", enum: [1, 2] }, 3), [
      'spec.x: Unsupported value: 3: supported values: "1", "2"',
    ]);
  });

  it("checks minimum and maximum, inclusive and exclusive", () => {
    assert.deepEqual(errorsFor({ type: "integer", minimum: 0 }, -1), [
      "spec.x: Invalid value: -1: spec.x in body should be greater than or equal to 0",
    ]);
    assert.deepEqual(errorsFor({ type: "integer", minimum: 0, exclusiveMinimum: true }, 0), [
      "spec.x: Invalid value: 0: spec.x in body should be greater than 0",
    ]);
    assert.deepEqual(errorsFor({ type: "integer", maximum: 10, exclusiveMaximum: true }, 10), [
      "spec.x: Invalid value: 10: spec.x in body should be less than 10",
    ]);
    assert.deepEqual(errorsFor({ type: "integer", maximum: 100 }, 100), []);
  });

  it("prints float bounds and values like Go's %v", () => {
    assert.deepEqual(errorsFor({ type: "number", maximum: 1_000_000 }, 2_000_000.5), [
      "spec.x: Invalid value: 2.0000005e+06: spec.x in body should be less than or equal to 1e+06",
    ]);
    assert.deepEqual(errorsFor({ type: "number", minimum: 0.5 }, 0.25), [
      "spec.x: Invalid value: 0.25: spec.x in body should be greater than or equal to 0.5",
    ]);
  });

  it("checks string lengths in runes and patterns", () => {
    assert.deepEqual(errorsFor({ type: "string", maxLength: 3 }, "abcd"), [
      "spec.x: Too long: may not be more than 3 bytes",
    ]);
    assert.deepEqual(errorsFor({ type: "string", maxLength: 3 }, "ééé"), []);
    assert.deepEqual(errorsFor({ type: "string", minLength: 2 }, "a"), [
      'spec.x: Invalid value: "a": spec.x in body should be at least 2 chars long',
    ]);
    assert.deepEqual(errorsFor({ type: "string", pattern: "^[a-z]+$" }, "A1"), [
      "spec.x: Invalid value: \"A1\": spec.x in body should match '^[a-z]+$'",
    ]);
  });

  it("checks item and property counts", () => {
    assert.deepEqual(
      errorsFor({ type: "array", items: { type: "string" }, maxItems: 2 }, ["a", "b", "c"]),
      ["spec.x: Too many: 3: must have at most 2 items"],
    );
    assert.deepEqual(errorsFor({ type: "array", items: { type: "string" }, minItems: 1 }, []), [
      "spec.x: Invalid value: 0: spec.x in body should have at least 1 items",
    ]);
    const map: JSONSchemaProps = {
      type: "object",
      additionalProperties: { type: "string" },
      maxProperties: 1,
    };
    assert.deepEqual(errorsFor(map, { a: "1", b: "2" }), [
      "spec.x: Too many: 2: must have at most 1 item",
    ]);
  });

  it("validates additionalProperties values under a dotted path", () => {
    assert.deepEqual(
      errorsFor({ type: "object", additionalProperties: { type: "string" } }, { app: 1 }),
      [
        'spec.x.app: Invalid value: "integer": spec.x.app in body must be of type string: "integer"',
      ],
    );
  });

  it("reports every required field that is missing, in schema order", () => {
    const s: JSONSchemaProps = {
      type: "object",
      required: ["b", "a"],
      properties: { a: { type: "string" }, b: { type: "string" } },
    };
    assert.deepEqual(errorsFor({ type: "array", items: s }, [{}]), [
      "spec.x[0].b: Required value",
      "spec.x[0].a: Required value",
    ]);
  });
});

describe("composition keywords", () => {
  const onlyOne: JSONSchemaProps = {
    type: "object",
    properties: { a: { type: "string" }, b: { type: "string" } },
    oneOf: [
      { not: { anyOf: [{ required: ["a"] }, { required: ["b"] }] } },
      { required: ["a"] },
      { required: ["b"] },
    ],
  };

  it("expresses only-one-of with oneOf/not/anyOf", () => {
    assert.deepEqual(errorsFor(onlyOne, {}), []);
    assert.deepEqual(errorsFor(onlyOne, { a: "1" }), []);
    assert.deepEqual(errorsFor(onlyOne, { a: "1", b: "2" }), [
      '<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives',
    ]);
  });

  it("reports oneOf with no valid alternative with the first failure", () => {
    const s: JSONSchemaProps = {
      type: "object",
      oneOf: [{ required: ["a"] }, { required: ["b"] }],
    };
    assert.deepEqual(errorsFor(s, {}), [
      '<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found none valid',
      "spec.x.a: Required value",
    ]);
  });

  it("reports anyOf, allOf and not failures", () => {
    assert.deepEqual(errorsFor({ anyOf: [{ type: "integer" }, { type: "string" }] }, true), [
      '<nil>: Invalid value: "": "spec.x" must validate at least one schema (anyOf)',
      'spec.x: Invalid value: "boolean": spec.x in body must be of type integer: "boolean"',
    ]);
    assert.deepEqual(errorsFor({ type: "integer", allOf: [{ minimum: 1 }, { maximum: 5 }] }, 9), [
      "spec.x: Invalid value: 9: spec.x in body should be less than or equal to 5",
      '<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf)',
    ]);
    assert.deepEqual(errorsFor({ type: "string", not: { enum: ["x"] } }, "x"), [
      '<nil>: Invalid value: "": "spec.x" must not validate the schema (not)',
    ]);
  });
});

describe("list types", () => {
  it("reports repeated set items and map keys as duplicates", () => {
    const set: JSONSchemaProps = {
      type: "array",
      items: { type: "string" },
      "x-kubernetes-list-type": "set",
    };
    assert.deepEqual(errorsFor(set, ["a", "b", "a"]), ['spec.x[2]: Duplicate value: "a"']);
    const map: JSONSchemaProps = {
      type: "array",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
      items: { type: "object", properties: { name: { type: "string" }, v: { type: "integer" } } },
    };
    assert.deepEqual(errorsFor(map, [{ name: "a", v: 1 }, { name: "b" }, { name: "a", v: 2 }]), [
      'spec.x[2]: Duplicate value: {"name":"a"}',
    ]);
  });
});

describe("CEL rules", () => {
  const ruled: JSONSchemaProps = {
    type: "string",
    "x-kubernetes-validations": [
      {
        rule: "duration(self) >= duration('1ms')",
        message: "must be a valid duration greater than 1ms",
      },
    ],
  };

  it("are skipped with a notice when a blocking schema error exists", () => {
    const s: JSONSchemaProps = {
      type: "object",
      properties: {
        spec: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string" }, t: ruled },
        },
      },
    };
    const r = validateCustomResource(s, { spec: { t: "1us" } });
    assert.deepEqual(
      r.errors.map((e) => `${e.field}: ${e.message}`),
      [
        "spec.name: Required value",
        "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
      ],
    );
  });

  it("add no notice when the schema has no rules", () => {
    const r = validateCustomResource(specSchema({ type: "string" }, { required: ["y"] }), {
      spec: {},
    });
    assert.equal(r.errors.length, 1);
  });

  it("default to `failed rule: <rule>` without a message and honour reason and fieldPath", () => {
    const s: JSONSchemaProps = {
      type: "object",
      properties: { a: { type: "string" }, b: { type: "string" } },
      "x-kubernetes-validations": [
        { rule: "(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1" },
        {
          rule: "(has(self.b) ? 1 : 0) + (has(self.a) ? 1 : 0) <= 1",
          message: "pick one",
          reason: "FieldValueForbidden",
          fieldPath: ".b",
        },
      ],
    };
    assert.deepEqual(errorsFor(s, { a: "1", b: "2" }), [
      'spec.x: Invalid value: "object": failed rule: (has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1',
      "spec.x.b: Forbidden: pick one",
    ]);
  });

  it("ignore rules kube-sim cannot evaluate", () => {
    const s: JSONSchemaProps = {
      type: "string",
      "x-kubernetes-validations": [{ rule: "self.startsWith('a')", message: "no" }],
    };
    assert.deepEqual(errorsFor(s, "b"), []);
  });
});
