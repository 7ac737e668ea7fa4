import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { DeploymentSchema, PipelineStageSchema, StageStatus } from "@pipecd-ts/proto";
import type { StageInput } from "@pipecd-ts/plugin-sdk";
import { systemClock } from "@pipecd-ts/runtime";
import { ScriptRunExecutor, ScriptRunRollbackExecutor, scriptRunEnv } from "../src/index.js";

const deployment = create(DeploymentSchema, {
  id: "deployment-id",
  applicationId: "application-id",
  applicationName: "application-name",
  labels: { env: "dev", "app.kubernetes.io/name": "web" },
  summary: "summary",
  gitPath: { repo: { id: "repo", remote: "https://git.example.com/r.git" } },
  trigger: {
    timestamp: { seconds: 1_700_000_000n },
    commander: "alice",
    commit: { hash: "commit-hash" },
  },
  stages: [
    create(PipelineStageSchema, {
      id: "script",
      name: "SCRIPT_RUN",
      status: StageStatus.STAGE_FAILURE,
    }),
  ],
});

function input(
  dir: string,
  stageConfig: unknown,
  meta: Record<string, string> = {},
  signal?: AbortSignal,
) {
  const logs: string[] = [];
  const inp = {
    deployment,
    stage: create(PipelineStageSchema, { id: "s", name: "SCRIPT_RUN", metadata: meta }),
    stageConfig,
    targetDir: dir,
    signal: signal ?? new AbortController().signal,
    clock: systemClock,
    logger: {
      info: (t: string) => logs.push(`I ${t}`),
      success: (t: string) => logs.push(`S ${t}`),
      error: (t: string) => logs.push(`E ${t}`),
    },
  } as unknown as StageInput<never>;
  return { inp, logs };
}

const opts = (run: string, extra: object = {}) => ({
  run,
  env: {},
  timeoutMs: 30_000,
  onRollback: "",
  skipOn: { commitMessagePrefixes: [], paths: [] },
  ...extra,
});

describe("SCRIPT_RUN (PipeCD scriptrun)", () => {
  it("builds PipeCD's SR_* variables (Test_ContextInfo_BuildEnv's shape)", () => {
    const env = scriptRunEnv(deployment, false);
    assert.deepEqual(env, {
      SR_DEPLOYMENT_ID: "deployment-id",
      SR_APPLICATION_ID: "application-id",
      SR_APPLICATION_NAME: "application-name",
      SR_TRIGGERED_AT: "1700000000",
      SR_TRIGGERED_COMMIT_HASH: "commit-hash",
      SR_TRIGGERED_COMMANDER: "alice",
      SR_REPOSITORY_URL: "https://git.example.com/r.git",
      SR_SUMMARY: "summary",
      SR_IS_ROLLBACK: "false",
      SR_CONTEXT_RAW:
        '{"deploymentID":"deployment-id","applicationID":"application-id","applicationName":"application-name","triggeredAt":1700000000,"triggeredCommitHash":"commit-hash","triggeredCommander":"alice","repositoryURL":"https://git.example.com/r.git","summary":"summary","labels":{"app.kubernetes.io/name":"web","env":"dev"}}',
      SR_LABELS_ENV: "dev",
      "SR_LABELS_APP.KUBERNETES.IO/NAME": "web",
    });
    assert.equal(
      (JSON.parse(scriptRunEnv(deployment, true).SR_CONTEXT_RAW ?? "") as { isRollback?: boolean })
        .isRollback,
      true,
    );
  });

  it("runs /bin/sh -l -c in the app directory with SR_* then env, streaming the output", async () => {
    const dir = await mkdtemp(join(tmpdir(), "script-"));
    try {
      const { inp, logs } = input(
        dir,
        opts('echo "id=$SR_DEPLOYMENT_ID sum=$SR_SUMMARY in $(pwd)"\necho oops >&2', {
          env: { SR_SUMMARY: "overridden" },
        }),
      );
      assert.equal(await new ScriptRunExecutor().execute(inp), StageStatus.STAGE_SUCCESS);
      assert.ok(logs.includes("I Running commands..."), logs.join("\n"));
      assert.ok(logs.includes('I    echo "id=$SR_DEPLOYMENT_ID sum=$SR_SUMMARY in $(pwd)"'));
      assert.ok(logs.includes("I SR_DEPLOYMENT_ID=deployment-id"));
      assert.ok(logs.includes(`I id=deployment-id sum=overridden in ${dir}`), logs.join("\n"));
      assert.ok(logs.includes("I oops"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a failing script fails the stage with the exit code; an empty run succeeds", async () => {
    const { inp } = input("/", opts("exit 3"));
    const r = await new ScriptRunExecutor().execute(inp);
    assert.ok(typeof r === "object" && r.status === StageStatus.STAGE_FAILURE);
    assert.match(
      typeof r === "object" ? r.reason : "",
      /failed to exec command: the script exited with 3/,
    );
    assert.equal(
      await new ScriptRunExecutor().execute(input("/", opts(" ")).inp),
      StageStatus.STAGE_SUCCESS,
    );
  });

  it("a timeout ends the script's whole process group, background children included", async () => {
    const dir = await mkdtemp(join(tmpdir(), "script-"));
    try {
      const { inp, logs } = input(
        dir,
        opts("sleep 60 & echo $! > bg.pid; sleep 60", { timeoutMs: 500 }),
      );
      const r = await new ScriptRunExecutor().execute(inp);
      assert.ok(typeof r === "object" && r.status === StageStatus.STAGE_FAILURE, logs.join("\n"));
      assert.match(typeof r === "object" ? r.reason : "", /Canceled because of timeout/);
      const pid = Number(await readFile(join(dir, "bg.pid"), "utf8"));
      const alive = (): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 5_000;
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(alive(), false, `the background sleep ${pid} was ended with its group`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("SCRIPT_RUN_ROLLBACK runs onRollback with SR_IS_ROLLBACK=true and the base stage's env, or skips a stage that never ran", async () => {
    const meta = {
      baseStageID: "script",
      onRollback: 'echo "undo $SR_IS_ROLLBACK $FOO"',
      env: JSON.stringify({ FOO: "bar" }),
      timeoutMs: "30000",
    };
    const { inp, logs } = input("/", {}, meta);
    assert.equal(await new ScriptRunRollbackExecutor().execute(inp), StageStatus.STAGE_SUCCESS);
    assert.ok(logs.includes("I undo true bar"), logs.join("\n"));
    const { inp: other } = input("/", {}, { ...meta, baseStageID: "never" });
    const r = await new ScriptRunRollbackExecutor().execute(other);
    assert.ok(typeof r === "object" && r.status === StageStatus.STAGE_FAILURE);
  });
});
