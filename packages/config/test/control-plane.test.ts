import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseControlPlaneConfig, parseDuration } from "@pipecd-ts/config";

const HASH = "scrypt$16384$8$1$c2FsdHNhbHQ$aGFzaGhhc2g";

describe("control-plane config", () => {
  it("parses users with roles and applies defaults", () => {
    const cfg = parseControlPlaneConfig(
      "cp.yaml",
      `apiVersion: pipecd-ts.dev/v1beta1
kind: ControlPlane
spec:
  users:
    - username: alice
      passwordHash: "${HASH}"
      role: editor
`,
    );
    assert.equal(cfg.projectId, "default");
    assert.equal(cfg.sessionTtlMs, 24 * 3_600_000);
    assert.deepEqual(cfg.users, [{ username: "alice", passwordHash: HASH, role: "editor" }]);
    assert.ok(Object.isFrozen(cfg.users));
  });

  it("lists every problem with its field path and line", () => {
    const text = `apiVersion: pipecd-ts.dev/v1beta1
kind: ControlPlane
spec:
  sessionTtl: soon
  users:
    - username: alice
      passwordHash: hunter2
      role: superuser
      colour: blue
`;
    let err: unknown;
    try {
      parseControlPlaneConfig("cp.yaml", text);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, "expected a ConfigError");
    const byPath = new Map(err.issues.map((i) => [i.path, i]));
    assert.equal(byPath.get("spec.sessionTtl")?.line, 4);
    assert.equal(byPath.get("spec.users[0].passwordHash")?.line, 7);
    assert.equal(byPath.get("spec.users[0].role")?.line, 8);
    assert.equal(byPath.get("spec.users[0].colour")?.line, 9);
    assert.match(err.message, /cp\.yaml:8: spec\.users\[0\]\.role: must be one of/);
  });

  it("rejects malformed YAML with a line number", () => {
    assert.throws(
      () => parseControlPlaneConfig("bad.yaml", "kind: ControlPlane\nspec: [\n"),
      (e: unknown) => e instanceof ConfigError && /bad\.yaml/.test(e.message),
    );
  });

  it("parses Go-style durations", () => {
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("6h"), 21_600_000);
    assert.equal(parseDuration("-1s"), undefined);
    assert.equal(parseDuration("ten"), undefined);
    assert.equal(parseDuration(""), undefined);
  });
});
