import { StageStatus, type Deployment } from "@pipecd-ts/proto";
import {
  ToolError,
  runTool,
  type StageExecutor,
  type StageInput,
  type StageOptionsOf,
  type StageResult,
} from "@pipecd-ts/plugin-sdk";
import { ScriptRunRollbackMetadataKey } from "@pipecd-ts/model";
import { formatDuration } from "@pipecd-ts/runtime";

/**
 * PipeCD's `ContextInfo.BuildEnv`: the `SR_*` variables of a script. `SR_CONTEXT_RAW` is the
 * JSON PipeCD marshals (its field order, empty fields left out, labels by key).
 */
export function scriptRunEnv(d: Deployment, isRollback: boolean): Record<string, string> {
  const triggeredAt = d.trigger?.timestamp ? Number(d.trigger.timestamp.seconds) : 0;
  const labels = Object.fromEntries(
    Object.entries(d.labels).sort(([a], [b]) => a.localeCompare(b)),
  );
  const ctx = {
    deploymentID: d.id,
    applicationID: d.applicationId,
    applicationName: d.applicationName,
    triggeredAt,
    triggeredCommitHash: d.trigger?.commit?.hash ?? "",
    triggeredCommander: d.trigger?.commander ?? "",
    repositoryURL: d.gitPath?.repo?.remote ?? "",
    summary: d.summary,
    labels: Object.keys(labels).length > 0 ? labels : undefined,
    isRollback,
  };
  const raw = Object.fromEntries(
    Object.entries(ctx).filter(([, v]) => v !== "" && v !== 0 && v !== false && v !== undefined),
  );
  const env: Record<string, string> = {
    SR_DEPLOYMENT_ID: ctx.deploymentID,
    SR_APPLICATION_ID: ctx.applicationID,
    SR_APPLICATION_NAME: ctx.applicationName,
    SR_TRIGGERED_AT: String(triggeredAt),
    SR_TRIGGERED_COMMIT_HASH: ctx.triggeredCommitHash,
    SR_TRIGGERED_COMMANDER: ctx.triggeredCommander,
    SR_REPOSITORY_URL: ctx.repositoryURL,
    SR_SUMMARY: ctx.summary,
    SR_IS_ROLLBACK: String(isRollback),
    SR_CONTEXT_RAW: JSON.stringify(raw),
  };
  for (const [k, v] of Object.entries(labels)) env[`SR_LABELS_${k.toUpperCase()}`] = v;
  return env;
}

/**
 * Runs `script` as PipeCD does (`/bin/sh -l -c`, in the app directory, the `SR_*` variables then
 * `env` on top of the piped's environment), streaming its output into the stage log. Better than
 * PipeCD: the script has its own process group, and a timeout or a cancel ends all of it.
 */
async function runScript(
  input: StageInput,
  script: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<StageResult> {
  const log = input.logger;
  log.info("Running commands...");
  for (const line of script.split("\n")) if (line !== "") log.info(`   ${line}`);
  for (const [k, v] of Object.entries(env))
    if (k.startsWith("SR_") && k !== "SR_CONTEXT_RAW") log.info(`${k}=${v}`);
  try {
    await runTool("/bin/sh", ["-l", "-c", script], {
      cwd: input.targetDir,
      env,
      timeoutMs,
      signal: input.signal,
      what: "the script",
      onOutput: (chunk) => log.info(chunk.replace(/\n$/, "")),
    });
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    switch (err.failure) {
      case "timeout": {
        const reason = `Canceled because of timeout: the script ran for ${formatDuration(timeoutMs)}; its process group was ended`;
        log.error(reason);
        return { status: StageStatus.STAGE_FAILURE, reason };
      }
      case "aborted":
        return StageStatus.STAGE_CANCELLED; // the scheduler maps the stop reason
      default: {
        const reason = `failed to exec command: ${err.message}`;
        log.error(reason);
        return { status: StageStatus.STAGE_FAILURE, reason };
      }
    }
  }
  log.success("The script finished successfully");
  return StageStatus.STAGE_SUCCESS;
}

/** SCRIPT_RUN (PipeCD `scriptrun.Executor`). An empty `run` succeeds, as in PipeCD. */
export class ScriptRunExecutor implements StageExecutor<StageOptionsOf<"SCRIPT_RUN">> {
  async execute(input: StageInput<StageOptionsOf<"SCRIPT_RUN">>): Promise<StageResult> {
    const { run, env, timeoutMs } = input.stageConfig;
    if (run.trim() === "") {
      input.logger.info("No commands to run");
      return StageStatus.STAGE_SUCCESS;
    }
    return runScript(input, run, { ...scriptRunEnv(input.deployment, false), ...env }, timeoutMs);
  }
}

/**
 * SCRIPT_RUN_ROLLBACK (PipeCD `ensureScriptRunRollback`): during a rollback, runs the
 * `onRollback` of the SCRIPT_RUN named in its metadata, unless that stage never started or was
 * skipped.
 */
export class ScriptRunRollbackExecutor implements StageExecutor {
  async execute(input: StageInput): Promise<StageResult> {
    const meta = input.stage.metadata;
    const baseId = meta[ScriptRunRollbackMetadataKey.BASE_STAGE_ID];
    const base = input.deployment.stages.find((s) => s.id === baseId);
    if (!baseId || !base) {
      const reason = `the stage it rolls back (${baseId ?? "none"}) is not in the deployment`;
      input.logger.error(reason);
      return { status: StageStatus.STAGE_FAILURE, reason };
    }
    if (
      base.status === StageStatus.STAGE_NOT_STARTED_YET ||
      base.status === StageStatus.STAGE_SKIPPED
    ) {
      input.logger.info(`Stage ${baseId} did not run: nothing to roll back`);
      return StageStatus.STAGE_SKIPPED;
    }
    const script = meta[ScriptRunRollbackMetadataKey.ON_ROLLBACK] ?? "";
    if (script.trim() === "") {
      input.logger.info("No commands to run");
      return StageStatus.STAGE_SUCCESS;
    }
    let env: Record<string, string> = {};
    try {
      env = JSON.parse(meta[ScriptRunRollbackMetadataKey.ENV] || "{}") as Record<string, string>;
    } catch {
      input.logger.error("the env of the stage's metadata is not JSON; running without it");
    }
    const timeoutMs = Number(meta[ScriptRunRollbackMetadataKey.TIMEOUT_MS]) || 6 * 3_600_000;
    return runScript(input, script, { ...scriptRunEnv(input.deployment, true), ...env }, timeoutMs);
  }
}
