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
import { AppError, InvalidArgumentError, LruMap } from "@pipecd-ts/runtime";
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
 * Whether a deployment of this config may write into its checkout, so that it needs one of its
 * own: `encryption` and `attachment` render files in place, a SCRIPT_RUN may write anything,
 * `helm template --dependency-update` writes a local chart's `charts/`, and so does
 * `kustomize build --enable-helm` in the app directory.
 */
export function needsPrivateCheckout(config: ApplicationConfig): boolean {
  const chart = config.input.helmChart;
  return (
    config.encryption !== undefined ||
    config.attachment !== undefined ||
    config.pipeline.stages.some((s) => s.name === StageName.SCRIPT_RUN) ||
    (chart !== undefined && !chart.gitRemote && !chart.repository) ||
    // `kustomize build --enable-helm` writes the charts it pulls into the app directory.
    "enable-helm" in config.input.kustomizeOptions
  );
}

/** Parsed app configs per (repository, commit, app path, file name): a commit never changes. */
const parsedConfigs = new LruMap<string, { name: string; config: ApplicationConfig }>(500);

/**
 * The app config `key` names, parsed once: a deployment's running commit is usually the target
 * of the one before, whose config was parsed already. Failures are not kept.
 */
async function cachedAppConfig(
  key: string,
  load: () => Promise<{ name: string; config: ApplicationConfig }>,
): Promise<{ name: string; config: ApplicationConfig }> {
  const hit = parsedConfigs.get(key);
  if (hit) return hit;
  const loaded = await load();
  parsedConfigs.set(key, loaded);
  return loaded;
}

/**
 * A checkout of `commit` for one app and its loaded config: the commit's shared, read-only
 * checkout when the config writes nothing into it, else a private worktree. Its release goes to
 * `cleanups`.
 */
async function checkoutApp(
  repo: GitRepo,
  commit: string,
  path: string,
  configFilename: string,
  workDir: string,
  cleanups: (() => Promise<void>)[],
): Promise<{ dir: string; loaded: { name: string; config: ApplicationConfig } }> {
  const shared = await repo.sharedCheckout(commit, workDir);
  let loaded;
  try {
    loaded = await cachedAppConfig(`${repo.repoId}\0${commit}\0${path}\0${configFilename}`, () =>
      loadAppConfigIn(join(shared.dir, path), configFilename),
    );
  } catch (err) {
    shared.release();
    throw err;
  }
  if (!needsPrivateCheckout(loaded.config)) {
    cleanups.push(async () => shared.release());
    return { dir: shared.dir, loaded };
  }
  shared.release();
  const own = await repo.checkout(commit, workDir);
  cleanups.push(() => own.remove());
  return { dir: own.dir, loaded };
}

/**
 * Prepares a deployment's workspace: checkouts of the target commit and of the running (last
 * successful) commit (shared per commit unless the app writes into its own), and their app
 * configs. The running commit is the one recorded at plan
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
    const configFilename = d.gitPath?.configFilename ?? "";
    const checkoutOf = async (commit: string, syncFirst: boolean) => {
      try {
        return await checkoutApp(repo, commit, path, configFilename, deps.workDir, cleanups);
      } catch (err) {
        if (!syncFirst) throw err;
        await repo.sync(); // the commit may be newer than our mirror
        return checkoutApp(repo, commit, path, configFilename, deps.workDir, cleanups);
      }
    };
    const target = await checkoutOf(targetCommit, true);
    const targetDir = join(target.dir, path);
    const loaded = target.loaded;
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
      const running = await checkoutOf(runningCommit, false);
      runningDir = join(running.dir, path);
      // The running commit's own encryption and attachment (a rollback deploys its manifests).
      await processAppSource({
        appDir: runningDir,
        repoDir: running.dir,
        config: running.loaded.config,
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

/**
 * An application's app config and its checkout at `commit`, with its secrets decrypted and
 * attachments inlined, for a reader that deploys nothing (the drift detector): `use` runs with
 * them, and the checkout is released after it.
 */
export async function withAppAt<T>(
  app: { gitPath?: { repo?: { id: string }; path: string; configFilename: string } },
  commit: string,
  deps: {
    repos: ReadonlyMap<string, GitRepo>;
    workDir: string;
    decrypt?: SecretDecrypter;
    redactor: Redactor;
  },
  use: (appDir: string, config: ApplicationConfig) => Promise<T>,
): Promise<T> {
  const repo = deps.repos.get(app.gitPath?.repo?.id ?? "");
  if (!repo)
    throw new InvalidArgumentError(`this piped has no repository "${app.gitPath?.repo?.id ?? ""}"`);
  const path = app.gitPath?.path ?? "";
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const { dir, loaded } = await checkoutApp(
      repo,
      commit,
      path,
      app.gitPath?.configFilename ?? "",
      deps.workDir,
      cleanups,
    );
    const appDir = join(dir, path);
    await processAppSource({ appDir, repoDir: dir, config: loaded.config, ...deps });
    return await use(appDir, loaded.config);
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}
