import { existsSync } from "node:fs";
import { join, posix } from "node:path";
import {
  DEFAULT_APP_CONFIG_FILE,
  LEGACY_APP_CONFIG_FILE,
  loadApplicationConfig,
  resolveSafety,
  type ApplicationConfig,
  type SafetySettings,
} from "@pipecd-ts/config";
import { DeploymentStatus, type Deployment, type PipelineStage } from "@pipecd-ts/proto";
import { ScriptRunRollbackMetadataKey, StageName } from "@pipecd-ts/model";
import { AppError, InvalidArgumentError } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import { processAppSource, type SecretDecrypter } from "../source/process.js";
import type { Redactor } from "../source/redactor.js";
import type { GitRepo } from "../trigger/git.js";
import type { Workspace } from "./controller.js";

/**
 * Loads the app config of an app directory (registered file name, else app.pipecd.yaml /
 * .pipe.yaml); `name` is the file's name that was read.
 */
async function loadAppConfigIn(
  appDir: string,
  configFilename: string,
): Promise<{ name: string; config: ApplicationConfig }> {
  let name = configFilename || DEFAULT_APP_CONFIG_FILE;
  if (
    !configFilename &&
    !existsSync(join(appDir, name)) &&
    existsSync(join(appDir, LEGACY_APP_CONFIG_FILE))
  )
    name = LEGACY_APP_CONFIG_FILE;
  return { name, config: await loadApplicationConfig(join(appDir, name)) };
}

/**
 * Prepares a deployment's workspace: worktrees of the target commit and of the running (last
 * successful) commit, and their app configs. The running commit is the one recorded at plan
 * time, or for a new deployment the app's most recent successful deployment.
 */
export async function prepareWorkspace(
  d: Deployment,
  deps: {
    api: Pick<ApiClient, "call">;
    repos: ReadonlyMap<string, GitRepo>;
    workDir: string;
    /** The piped's `spec.safety`, for the Rollback stage's own timeout. */
    safety?: Partial<SafetySettings>;
    /** The piped's secret decrypter; undefined without `secretManagement`. */
    decrypt?: SecretDecrypter;
    /** Remembers every decrypted secret so that no log or report shows it. */
    redactor: Redactor;
  },
  signal: AbortSignal,
): Promise<Workspace> {
  const repo = deps.repos.get(d.gitPath?.repo?.id ?? "");
  if (!repo)
    throw new InvalidArgumentError(`this piped has no repository "${d.gitPath?.repo?.id ?? ""}"`);
  const targetCommit = d.trigger?.commit?.hash ?? "";
  const path = d.gitPath?.path ?? "";
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups) await c().catch(() => undefined);
  };
  try {
    let target;
    try {
      target = await repo.checkout(targetCommit, deps.workDir);
    } catch {
      await repo.sync(); // the commit may be newer than our mirror
      target = await repo.checkout(targetCommit, deps.workDir);
    }
    cleanups.push(() => target.remove());
    const targetDir = join(target.dir, path);
    const loaded = await loadAppConfigIn(targetDir, d.gitPath?.configFilename ?? "");
    const appConfig = loaded.config;
    await processAppSource({ appDir: targetDir, repoDir: target.dir, config: appConfig, ...deps });
    let runningCommit = d.runningCommitHash || undefined;
    if (!runningCommit && d.status === DeploymentStatus.DEPLOYMENT_PENDING) {
      try {
        const res = await deps.api.call(
          "getApplicationMostRecentDeployment",
          { applicationId: d.applicationId, status: DeploymentStatus.DEPLOYMENT_SUCCESS },
          { signal },
        );
        if (res.deployment?.deploymentId !== d.id)
          runningCommit = res.deployment?.trigger?.commit?.hash || undefined;
      } catch (err) {
        if (!(err instanceof AppError && err.code === "NOT_FOUND")) throw err;
      }
    }
    let runningDir: string | undefined;
    if (runningCommit) {
      const running = await repo.checkout(runningCommit, deps.workDir);
      cleanups.push(() => running.remove());
      runningDir = join(running.dir, path);
      // The running commit's own encryption and attachment (a rollback deploys its manifests).
      const runningConfig = await loadAppConfigIn(runningDir, d.gitPath?.configFilename ?? "");
      await processAppSource({
        appDir: runningDir,
        repoDir: running.dir,
        config: runningConfig.config,
        ...deps,
      });
    }
    const changedFiles = runningCommit
      ? await repo.changedFiles(runningCommit, targetCommit).catch(() => undefined)
      : undefined;
    const stageOf = (stage: PipelineStage) =>
      stage.predefined ? undefined : appConfig.pipeline.stages.find((s) => s.id === stage.id);
    return {
      targetDir,
      runningDir,
      targetCommit,
      runningCommit,
      appConfig,
      appConfigFile: posix.join(path, loaded.name),
      commitMessage: d.trigger?.commit?.message ?? "",
      changedFiles,
      deploymentTimeoutMs: appConfig.timeoutMs,
      stageConfigOf: (stage) => stageOf(stage)?.with,
      // The hidden Rollback stage has its own deadline (`safety.rollbackTimeout`, our improvement).
      stageTimeoutMsOf: (stage) => {
        if (stage.name === StageName.ROLLBACK)
          return resolveSafety(deps.safety, appConfig.safety).rollbackTimeoutMs;
        // A SCRIPT_RUN's onRollback gets the SCRIPT_RUN's own timeout.
        if (stage.name === StageName.SCRIPT_RUN_ROLLBACK)
          return Number(stage.metadata[ScriptRunRollbackMetadataKey.TIMEOUT_MS]) || undefined;
        return stageOf(stage)?.timeoutMs;
      },
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
