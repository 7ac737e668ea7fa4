import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyJsonPatch, applyMergePatch, PatchError, type Json } from "../src/patch/index.js";

const deployment = (): Json => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", annotations: { "a/b": "slash", "c~d": "tilde" } },
  spec: {
    replicas: 2,
    template: { spec: { containers: [{ name: "web", image: "nginx:1.25" }], volumes: [] } },
  },
});

describe("JSON patch (RFC 6902)", () => {
  const cases: Array<{ name: string; ops: Json; check: (out: Json) => void }> = [
    {
      name: "kubectl patch --type=json replaces spec.replicas",
      ops: [{ op: "replace", path: "/spec/replicas", value: 6 }],
      check: (out) => assert.equal(get(out, "spec", "replicas"), 6),
    },
    {
      name: "add to an array index inserts before the element there",
      ops: [{ op: "add", path: "/spec/template/spec/containers/0", value: { name: "init" } }],
      check: (out) => assert.deepEqual(names(out), ["init", "web"]),
    },
    {
      name: "add with '-' appends",
      ops: [{ op: "add", path: "/spec/template/spec/containers/-", value: { name: "sidecar" } }],
      check: (out) => assert.deepEqual(names(out), ["web", "sidecar"]),
    },
    {
      name: "pointer escapes ~1 and ~0 address keys with '/' and '~'",
      ops: [
        { op: "replace", path: "/metadata/annotations/a~1b", value: "x" },
        { op: "remove", path: "/metadata/annotations/c~0d" },
      ],
      check: (out) => assert.deepEqual(get(out, "metadata", "annotations"), { "a/b": "x" }),
    },
    {
      name: "move and copy relocate values",
      ops: [
        { op: "copy", from: "/spec/replicas", path: "/spec/minReadySeconds" },
        { op: "move", from: "/metadata/annotations", path: "/metadata/labels" },
      ],
      check: (out) => {
        assert.equal(get(out, "spec", "minReadySeconds"), 2);
        assert.equal(get(out, "metadata", "annotations"), undefined);
        assert.deepEqual(get(out, "metadata", "labels"), { "a/b": "slash", "c~d": "tilde" });
      },
    },
    {
      name: "a passing test lets later operations run",
      ops: [
        { op: "test", path: "/spec/template/spec/containers/0/image", value: "nginx:1.25" },
        { op: "replace", path: "/spec/template/spec/containers/0/image", value: "nginx:1.26" },
      ],
      check: (out) =>
        assert.equal(get(out, "spec", "template", "spec", "containers", 0, "image"), "nginx:1.26"),
    },
    {
      name: "remove deletes an array element",
      ops: [{ op: "remove", path: "/spec/template/spec/containers/0" }],
      check: (out) => assert.deepEqual(names(out), []),
    },
  ];
  for (const c of cases) {
    it(c.name, () => c.check(applyJsonPatch(deployment(), c.ops)));
  }

  const failures: Array<{ name: string; ops: unknown; code: number; detail?: RegExp }> = [
    {
      name: "a failing test is a 422",
      ops: [{ op: "test", path: "/spec/replicas", value: 3 }],
      code: 422,
      detail: /testing value \/spec\/replicas failed/,
    },
    {
      name: "removing a missing key is a 422",
      ops: [{ op: "remove", path: "/spec/paused" }],
      code: 422,
      detail: /missing/,
    },
    {
      name: "replacing a missing key is a 422",
      ops: [{ op: "replace", path: "/spec/paused", value: true }],
      code: 422,
    },
    {
      name: "adding under a missing parent is a 422",
      ops: [{ op: "add", path: "/spec/strategy/type", value: "Recreate" }],
      code: 422,
    },
    {
      name: "an index past the end is a 422",
      ops: [{ op: "add", path: "/spec/template/spec/containers/5", value: {} }],
      code: 422,
    },
    { name: "an unknown op is a 422", ops: [{ op: "frobnicate", path: "/spec" }], code: 422 },
    { name: "a plain object body is a 400", ops: { spec: { replicas: 3 } }, code: 400 },
    { name: "a non-object operation is a 400", ops: [1], code: 400 },
  ];
  for (const f of failures) {
    it(f.name, () => {
      const err = catchPatchError(() => applyJsonPatch(deployment(), f.ops));
      assert.equal(err.code, f.code);
      if (f.code === 422) {
        assert.equal(err.message, "the server rejected our request due to an error in our request");
        if (f.detail) assert.match(err.causes?.[0]?.message ?? "", f.detail);
      }
    });
  }

  it("a plain object body names the Go type in its 400 message", () => {
    const err = catchPatchError(() => applyJsonPatch(deployment(), { spec: {} }));
    assert.equal(
      err.message,
      "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    );
  });

  it("more than 10000 operations is a 413", () => {
    const ops = Array.from({ length: 10001 }, () => ({
      op: "test",
      path: "/kind",
      value: "Deployment",
    }));
    assert.equal(catchPatchError(() => applyJsonPatch(deployment(), ops)).code, 413);
    assert.doesNotThrow(() => applyJsonPatch(deployment(), ops.slice(1)));
  });

  it("does not mutate the input document, even when a later operation fails", () => {
    const doc = deployment();
    const before = JSON.stringify(doc);
    applyJsonPatch(doc, [{ op: "replace", path: "/spec/replicas", value: 9 }]);
    catchPatchError(() =>
      applyJsonPatch(doc, [
        { op: "remove", path: "/spec/template" },
        { op: "test", path: "/kind", value: "Pod" },
      ]),
    );
    assert.equal(JSON.stringify(doc), before);
  });
});

describe("JSON merge patch (RFC 7386)", () => {
  // The RFC 7386 appendix examples.
  const cases: Array<[Json, Json, Json]> = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [
      ["a", "b"],
      ["c", "d"],
      ["c", "d"],
    ],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(applyMergePatch(target, patch), expected);
    });
  }

  it("kubectl scale's body replaces replicas and keeps the rest; the input is untouched", () => {
    const live = deployment();
    const before = JSON.stringify(live);
    const out = applyMergePatch(live, { spec: { replicas: 3 } });
    assert.equal(get(out, "spec", "replicas"), 3);
    assert.deepEqual(names(out), ["web"]);
    assert.equal(JSON.stringify(live), before);
  });

  it("lists are replaced wholesale, never merged", () => {
    const out = applyMergePatch(deployment(), {
      spec: { template: { spec: { containers: [{ name: "other" }] } } },
    });
    assert.deepEqual(names(out), ["other"]);
  });
});

function get(v: Json | undefined, ...path: Array<string | number>): Json | undefined {
  let cur = v;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, Json>)[p];
  }
  return cur;
}

function names(obj: Json): Json[] {
  const list = get(obj, "spec", "template", "spec", "containers");
  return Array.isArray(list) ? list.map((c) => get(c, "name") ?? null) : [];
}

function catchPatchError(fn: () => unknown): PatchError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PatchError) return e;
    throw e;
  }
  assert.fail("expected a PatchError");
}
