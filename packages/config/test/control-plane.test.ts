import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  DEFAULT_LIMITS,
  parseControlPlaneConfig,
  parseDuration,
} from "@pipecd-ts/config";

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

  it("spec.limits: defaults, overrides, and bad values or unknown keys named with their line", () => {
    const base = "apiVersion: pipecd-ts.dev/v1beta1\nkind: ControlPlane\nspec:\n";
    assert.deepEqual(
      parseControlPlaneConfig("cp.yaml", base + "  users: []\n").limits,
      DEFAULT_LIMITS,
    );
    const cfg = parseControlPlaneConfig(
      "cp.yaml",
      base + "  limits:\n    stageLogBytes: 1048576\n    eventStreamsPerCaller: 2\n",
    );
    assert.equal(cfg.limits.stageLogBytes, 1_048_576);
    assert.equal(cfg.limits.eventStreamsPerCaller, 2);
    assert.equal(cfg.limits.stageLogBlockBytes, DEFAULT_LIMITS.stageLogBlockBytes);
    assert.ok(Object.isFrozen(cfg.limits));
    let err: unknown;
    try {
      parseControlPlaneConfig(
        "cp.yaml",
        base + "  limits:\n    stageLogBytes: 0\n    logSize: 3\n    stageLogBlockBytes: 1.5\n",
      );
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, "expected a ConfigError");
    const byPath = new Map(err.issues.map((i) => [i.path, i]));
    assert.equal(byPath.get("spec.limits.stageLogBytes")?.line, 5);
    assert.equal(byPath.get("spec.limits.logSize")?.line, 6);
    assert.match(err.message, /cp\.yaml:7: spec\.limits\.stageLogBlockBytes: .*got 1\.5/);
  });

  it("spec.webhooks.git and spec.slack: a secret inline or as a file, Slack users mapped to users; mistakes named", () => {
    const base = `apiVersion: pipecd-ts.dev/v1beta1
kind: ControlPlane
spec:
  users:
    - { username: alice, passwordHash: "${HASH}", role: editor }
`;
    const cfg = parseControlPlaneConfig(
      "cp.yaml",
      base +
        "  webhooks:\n    git: { secretFile: /etc/pipecd/git-secret }\n" +
        "  slack:\n    signingSecret: s3cr3t\n    users: [{ slackUserId: U012AB3CD, username: alice }]\n",
    );
    assert.deepEqual(cfg.gitWebhook, { secret: { value: "", file: "/etc/pipecd/git-secret" } });
    assert.deepEqual(cfg.slack, {
      signingSecret: { value: "s3cr3t", file: "" },
      users: { U012AB3CD: "alice" },
    });
    assert.equal(parseControlPlaneConfig("cp.yaml", base).gitWebhook, undefined);
    let err: unknown;
    try {
      parseControlPlaneConfig(
        "cp.yaml",
        base +
          "  webhooks:\n    git: { secret: a, secretFile: b }\n" +
          "  slack:\n    users: [{ slackUserId: bob, username: mallory }]\n",
      );
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, "expected a ConfigError");
    assert.deepEqual(
      err.issues.map((i) => [i.path, i.message]),
      [
        ["spec.webhooks.git", "needs exactly one of secret and secretFile"],
        ["spec.slack", "needs exactly one of signingSecret and signingSecretFile"],
        ["spec.slack.users[0].slackUserId", "must be a Slack user id such as U012AB3CD"],
      ],
    );
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
