import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { labels, parseDuration } from "../src/args.js";
import { describeProgress, type DeploymentJson } from "../src/deployments.js";
import { UsageError } from "../src/errors.js";
import { age, elapsed, table } from "../src/output.js";
import { resourceTree } from "@pipecd-ts/rest-api";

// The pure helpers behind the command line: durations, labels, tables and progress lines.

describe("parseDuration", () => {
  const ok: [string, number][] = [
    ["500ms", 500],
    ["30s", 30_000],
    ["2m", 120_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["1h2m3s4ms", 3_723_004],
  ];
  for (const [text, ms] of ok)
    it(`${text} is ${ms} ms`, () => assert.equal(parseDuration("timeout", text), ms));
  for (const text of ["", "10", "s", "5x", "1m 30s", "-5s", "0s", "5s!"])
    it(`"${text}" is refused naming the flag`, () =>
      assert.throws(
        () => parseDuration("timeout", text),
        (e: unknown) => e instanceof UsageError && e.message.startsWith(`--timeout: "${text}"`),
      ));
});

describe("labels", () => {
  it("takes key=value and key:value, splitting at the first separator", () =>
    assert.deepEqual(labels({ label: ["team=pay", "env:prod", "url=http://x:1"] }, "label", "h"), {
      team: "pay",
      env: "prod",
      url: "http://x:1",
    }));
  it("refuses a label without a key", () =>
    assert.throws(() => labels({ label: ["=x"] }, "label", "h"), UsageError));
});

describe("output", () => {
  it("table aligns columns and trims trailing spaces", () =>
    assert.equal(
      table(
        ["ID", "NAME"],
        [
          ["a", "first"],
          ["long-id", ""],
        ],
      ),
      "ID       NAME\na        first\nlong-id\n",
    ));
  it("age is kubectl-style and '-' when unset", () => {
    const now = Date.parse("2026-01-02T00:00:00Z");
    assert.equal(age("2026-01-01T23:59:15Z", now), "45s");
    assert.equal(age("2026-01-01T23:00:00Z", now), "60m");
    assert.equal(age("2026-01-01T00:00:00Z", now), "24h");
    assert.equal(age("2025-12-29T00:00:00Z", now), "4d");
    assert.equal(age(undefined, now), "-");
  });
  it("elapsed shows tenths under a minute, m:ss after", () => {
    assert.equal(elapsed(12_345), "12.3s");
    assert.equal(elapsed(125_000), "2m05s");
  });
});

describe("describeProgress", () => {
  const stage = (name: string, status: string, visible = true) =>
    ({ id: name, name, status, visible }) as NonNullable<DeploymentJson["stages"]>[number];
  it("names the running stage with its position among the visible stages", () =>
    assert.equal(
      describeProgress({
        status: "DEPLOYMENT_RUNNING",
        stages: [
          stage("K8S_CANARY_ROLLOUT", "STAGE_SUCCESS"),
          stage("WAIT_APPROVAL", "STAGE_RUNNING"),
          stage("K8S_PRIMARY_ROLLOUT", "STAGE_NOT_STARTED_YET"),
          stage("ROLLBACK", "STAGE_NOT_STARTED_YET", false),
        ],
      }),
      "RUNNING · stage 2/3 WAIT_APPROVAL (waiting for approval)",
    ));
  it("shows the hidden rollback stage once it runs", () =>
    assert.equal(
      describeProgress({
        status: "DEPLOYMENT_ROLLING_BACK",
        stages: [
          stage("WAIT_APPROVAL", "STAGE_FAILURE"),
          stage("ROLLBACK", "STAGE_RUNNING", false),
        ],
      }),
      "ROLLING_BACK · stage 2/2 ROLLBACK (running)",
    ));
  it("before planning: just the status", () =>
    assert.equal(describeProgress({ status: "DEPLOYMENT_PENDING", stages: [] }), "PENDING"));
});

describe("resourceTree", () => {
  const lines = (rs: { id: string; kind: string; name: string; ownerIds?: string[] }[]) =>
    resourceTree(rs).map(({ depth, resource: r }) => `${"  ".repeat(depth)}${r.kind}/${r.name}`);

  it("a resource whose owner was not reported is a root; one with two owners appears once", () =>
    assert.deepEqual(
      lines([
        { id: "p1", kind: "Pod", name: "orphan", ownerIds: ["gone"] },
        { id: "j", kind: "Job", name: "migrate" },
        { id: "p2", kind: "Pod", name: "shared", ownerIds: ["j", "p1"] },
      ]),
      ["Job/migrate", "  Pod/shared", "Pod/orphan"],
    ));
  it("resources that own each other are still shown, from the top", () =>
    assert.deepEqual(
      lines([
        { id: "a", kind: "ConfigMap", name: "a", ownerIds: ["b"] },
        { id: "b", kind: "ConfigMap", name: "b", ownerIds: ["a"] },
        { id: "c", kind: "Secret", name: "self", ownerIds: ["c"] },
      ]),
      ["Secret/self", "ConfigMap/a", "  ConfigMap/b"],
    ));
});
