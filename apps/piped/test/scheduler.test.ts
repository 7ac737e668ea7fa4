import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  DeploymentSchema,
  DeploymentStatus,
  PipelineStageSchema,
  StageStatus,
} from "@pipecd-ts/proto";
import { StageName } from "@pipecd-ts/model";
import { ExecutorRegistry } from "@pipecd-ts/plugin-sdk";
import { silentLogger, systemClock } from "@pipecd-ts/runtime";
import type { ApiClient } from "../src/apiclient/client.js";
import { CommandStore } from "../src/apiclient/commands.js";
import {
  CANCEL_ROLLBACK_KEY,
  DeploymentRun,
  type RunContext,
} from "../src/controller/scheduler.js";
import { StageLogPersister } from "../src/stagelog/stage-log.js";

// A piped that dies after a cancel's CANCELLED stage report but before the deployment's end
// resumes from what the control plane recorded: with `--no-rollback` it must not roll back.
// The collaborators (the control plane API, the executors) are small fakes; the run is real.

/** Resumes a deployment whose only stage was CANCELLED, with `metadata`; returns what happened. */
async function resumeCancelled(metadata: Record<string, string>) {
  const calls: { method: string; req: Record<string, unknown> }[] = [];
  const api = {
    call: async (method: string, req: Record<string, unknown>) => {
      calls.push({ method, req });
      return {};
    },
  } as unknown as Pick<ApiClient, "call">;
  const reporter = {
    report: async (_k: string, _what: string, fn: (s: AbortSignal) => Promise<unknown>) => {
      await fn(new AbortController().signal);
    },
  };
  let rolledBack = 0;
  const registry = new ExecutorRegistry().register(StageName.ROLLBACK, {
    execute: async () => {
      rolledBack++;
      return StageStatus.STAGE_SUCCESS;
    },
  });
  const d = create(DeploymentSchema, {
    id: "d1",
    applicationId: "app",
    status: DeploymentStatus.DEPLOYMENT_RUNNING,
    metadata,
    stages: [
      create(PipelineStageSchema, {
        id: "s1",
        name: StageName.WAIT_APPROVAL,
        visible: true,
        status: StageStatus.STAGE_CANCELLED,
      }),
      create(PipelineStageSchema, {
        id: "Rollback",
        name: StageName.ROLLBACK,
        rollback: true,
        status: StageStatus.STAGE_NOT_STARTED_YET,
      }),
    ],
  });
  const logger = silentLogger();
  const run = new DeploymentRun(
    {
      api,
      reporter,
      commands: new CommandStore({ api, reporter, clock: systemClock, route: () => undefined }),
      registry,
      stageLogs: new StageLogPersister({ api, reporter, clock: systemClock, logger }),
      clock: systemClock,
      logger,
      pipedId: "p",
    },
    d,
    {
      targetDir: "/nonexistent",
      runningDir: undefined,
      targetCommit: "c2",
      runningCommit: "c1",
      appConfig: {} as RunContext["appConfig"], // only predefined stages run here
      stageConfigOf: () => undefined,
      stageTimeoutMsOf: () => 60_000,
      deploymentTimeoutMs: 3_600_000,
      commitMessage: "",
      changedFiles: undefined,
    },
  );
  await run.run(new AbortController().signal);
  const completed = calls.find((c) => c.method === "reportDeploymentCompleted")?.req;
  return { rolledBack, completed };
}

describe("DeploymentRun resumed after a cancel", () => {
  it("keeps --no-rollback across a restart: no Rollback, CANCELLED, resources left in place", async () => {
    const r = await resumeCancelled({ [CANCEL_ROLLBACK_KEY]: "false" });
    assert.equal(r.rolledBack, 0);
    assert.equal(r.completed?.["status"], DeploymentStatus.DEPLOYMENT_CANCELLED);
    assert.match(String(r.completed?.["statusReason"]), /resources were left in place/);
  });

  it("rolls back when the cancel asked for it (or said nothing)", async () => {
    for (const metadata of [{ [CANCEL_ROLLBACK_KEY]: "true" }, {}] as Record<string, string>[]) {
      const r = await resumeCancelled(metadata);
      assert.equal(r.rolledBack, 1, JSON.stringify(metadata));
      assert.equal(r.completed?.["status"], DeploymentStatus.DEPLOYMENT_CANCELLED);
    }
  });
});
