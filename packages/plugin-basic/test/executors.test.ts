import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DeploymentSchema, PipelineStageSchema, StageStatus } from "@pipecd-ts/proto";
import type { MetadataScope, StageCommand, StageInput } from "@pipecd-ts/plugin-sdk";
import { systemClock } from "@pipecd-ts/runtime";
import { START_TIME_KEY, WaitApprovalExecutor, WaitExecutor } from "../src/index.js";

/** In-memory collaborators of an executor (the executor itself is real). */
function fixture(stageConfig: unknown, stageMeta: Record<string, string> = {}) {
  const meta = new Map<string, Record<string, string>>([["s", { ...stageMeta }]]);
  const scope = (id: string): MetadataScope => ({
    get: (k) => meta.get(id)?.[k],
    all: () => meta.get(id) ?? {},
    put: async (v) => {
      meta.set(id, { ...(meta.get(id) ?? {}), ...v });
    },
  });
  const queue: StageCommand[] = [];
  const waiters: ((c: StageCommand) => void)[] = [];
  const acks: { cmd: StageCommand; ok: boolean }[] = [];
  const logs: string[] = [];
  const ac = new AbortController();
  const input: StageInput<never> = {
    deployment: create(DeploymentSchema, { id: "d" }),
    stage: create(PipelineStageSchema, { id: "s", name: "WAIT_APPROVAL" }),
    stageConfig: stageConfig as never,
    appConfig: {} as StageInput["appConfig"], // WAIT and WAIT_APPROVAL do not read it
    targetDir: "/nonexistent",
    runningDir: undefined,
    targetCommit: "abc",
    runningCommit: undefined,
    pipedId: "p",
    signal: ac.signal,
    logger: {
      info: (t) => logs.push(`I ${t}`),
      success: (t) => logs.push(`S ${t}`),
      error: (t) => logs.push(`E ${t}`),
    },
    metadata: { shared: scope("shared"), stage: scope },
    commands: {
      next: (signal) =>
        new Promise((resolve, reject) => {
          const c = queue.shift();
          if (c) return resolve(c);
          const w = (x: StageCommand): void => resolve(x);
          waiters.push(w);
          signal.addEventListener(
            "abort",
            () => {
              waiters.splice(waiters.indexOf(w), 1);
              reject(signal.reason as Error);
            },
            { once: true },
          );
        }),
      ack: async (cmd, ok) => {
        acks.push({ cmd, ok });
      },
    },
    clock: systemClock,
  };
  const send = (kind: "approve" | "reject", commander: string, reason?: string): void => {
    const c: StageCommand = {
      kind,
      commander,
      commandId: `${kind}-${commander}-${acks.length}-${queue.length}`,
      reason,
    };
    const w = waiters.shift();
    if (w) w(c);
    else queue.push(c);
  };
  return { input, meta, acks, logs, send, abort: () => ac.abort() };
}

describe("WAIT", () => {
  it("waits its duration and records its start time", async () => {
    const f = fixture({ durationMs: 300 });
    const t0 = Date.now();
    assert.equal(await new WaitExecutor().execute(f.input), StageStatus.STAGE_SUCCESS);
    assert.ok(Date.now() - t0 >= 250, "waited");
    assert.ok(Number(f.meta.get("s")?.[START_TIME_KEY]) > 0, "start time persisted");
  });

  it("resumes from the recorded start time instead of starting over", async () => {
    const started = Math.floor(Date.now() / 1000) - 2;
    const f = fixture({ durationMs: 2_500 }, { [START_TIME_KEY]: String(started) });
    const t0 = Date.now();
    assert.equal(await new WaitExecutor().execute(f.input), StageStatus.STAGE_SUCCESS);
    assert.ok(
      Date.now() - t0 < 1_700,
      `resumed (took ${Date.now() - t0} ms of a 2.5 s wait started 2 s ago)`,
    );
  });
});

describe("WAIT_APPROVAL", () => {
  it("needs minApproverNum distinct listed approvers; others and repeats do not count", async () => {
    const f = fixture({
      approvers: ["reviewer-a", "reviewer-b"],
      minApproverNum: 2,
      timeoutMs: 10_000,
    });
    const done = new WaitApprovalExecutor().execute(f.input);
    f.send("approve", "mallory");
    f.send("approve", "reviewer-a");
    f.send("approve", "reviewer-a");
    f.send("approve", "reviewer-b");
    assert.equal(await done, StageStatus.STAGE_SUCCESS);
    assert.deepEqual(
      f.acks.map((a) => `${a.cmd.commander}:${a.ok}`),
      ["mallory:false", "reviewer-a:true", "reviewer-a:true", "reviewer-b:true"],
    );
    assert.equal(f.meta.get("s")?.ApprovedBy, "reviewer-a, reviewer-b");
    assert.ok(f.logs.some((l) => l.includes("will not be counted")));
  });

  it("keeps recorded approvals across a restart", async () => {
    const f = fixture(
      { approvers: [], minApproverNum: 2, timeoutMs: 10_000 },
      { ApprovedBy: "reviewer-a" },
    );
    const done = new WaitApprovalExecutor().execute(f.input);
    f.send("approve", "reviewer-b");
    assert.equal(await done, StageStatus.STAGE_SUCCESS);
    assert.equal(f.meta.get("s")?.ApprovedBy, "reviewer-a, reviewer-b");
  });

  it("fails on a rejection and on its timeout", async () => {
    const r = fixture({ approvers: [], minApproverNum: 1, timeoutMs: 10_000 });
    const rejected = new WaitApprovalExecutor().execute(r.input);
    r.send("reject", "reviewer-a", "bad canary");
    assert.equal(await rejected, StageStatus.STAGE_FAILURE);
    assert.ok(r.logs.some((l) => l.includes("Rejected by reviewer-a: bad canary")));
    const t = fixture({ approvers: [], minApproverNum: 1, timeoutMs: 200 });
    assert.equal(await new WaitApprovalExecutor().execute(t.input), StageStatus.STAGE_FAILURE);
    assert.ok(t.logs.some((l) => l.startsWith("E Timed out")));
  });
});
