import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ReportDeploymentCompletedRequestSchema,
  ReportDeploymentPlannedRequestSchema,
  ReportStageLogsRequestSchema,
} from "@pipecd-ts/proto";
import { elementCountPrecheck } from "../src/wire.js";

describe("elementCountPrecheck: repeated fields counted in the bytes, before decoding", () => {
  const precheck = elementCountPrecheck(
    (f) => (f.name === "blocks" ? { max: 1000, name: "limits.stageLogBlocksPerCall" } : undefined),
    { maxStringLength: 1 << 20, maxElements: 50 },
  );
  const logs = (n: number) =>
    toBinary(
      ReportStageLogsRequestSchema,
      create(ReportStageLogsRequestSchema, {
        deploymentId: "d",
        stageId: "s",
        blocks: Array.from({ length: n }, (_, i) => ({ index: BigInt(i), log: `line ${i}` })),
      }),
    );

  it("a field with its own limit: at the limit passes, past it is refused naming field and limit", () => {
    assert.equal(precheck(ReportStageLogsRequestSchema, logs(1000)), undefined);
    assert.equal(
      precheck(ReportStageLogsRequestSchema, logs(100_000)),
      "blocks holds 100000 elements; at most 1000 in one call (limits.stageLogBlocksPerCall), send the rest in further calls",
    );
  });

  it("other repeated and map fields keep the general limit; nested elements are not top-level", () => {
    const planned = (stages: number, requires: number) =>
      toBinary(
        ReportDeploymentPlannedRequestSchema,
        create(ReportDeploymentPlannedRequestSchema, {
          deploymentId: "d",
          stages: Array.from({ length: stages }, (_, i) => ({
            id: `s${i}`,
            requires: Array.from({ length: requires }, (_, j) => `r${j}`),
          })),
        }),
      );
    assert.equal(precheck(ReportDeploymentPlannedRequestSchema, planned(50, 60)), undefined);
    assert.match(
      precheck(ReportDeploymentPlannedRequestSchema, planned(51, 0)) ?? "",
      /^stages holds 51 elements; at most 50 in one call \(the element limit\)/,
    );
    const completed = (n: number) =>
      toBinary(
        ReportDeploymentCompletedRequestSchema,
        create(ReportDeploymentCompletedRequestSchema, {
          deploymentId: "d",
          stageStatuses: Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, 1])),
        }),
      );
    assert.equal(precheck(ReportDeploymentCompletedRequestSchema, completed(50)), undefined);
    assert.match(
      precheck(ReportDeploymentCompletedRequestSchema, completed(51)) ?? "",
      /^stage_statuses holds 51/,
    );
  });

  it("bytes that are not a message are left to the decoder", () => {
    for (const bad of [
      [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // a length past the end
      [0x80], // a truncated varint
      [0x0b], // a group start
      [0x22, 0x05, 0x01], // blocks, cut short
    ])
      assert.equal(precheck(ReportStageLogsRequestSchema, Uint8Array.from(bad)), undefined);
    assert.equal(precheck(ReportStageLogsRequestSchema, new Uint8Array()), undefined);
  });
});
