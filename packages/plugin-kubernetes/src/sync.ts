import { StageStatus } from "@pipecd-ts/proto";
import { resolveSafety, type ApplicationConfig, type SafetySettings } from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import {
  applyAll,
  deleteKeys,
  loadStageManifests,
  waitForWorkloads,
  type KubeApi,
} from "./apply.js";
import { loadManifests, type Manifest } from "./manifest.js";

/** Options shared by the Kubernetes executors. */
export interface K8sExecutorOptions {
  kube: KubeApi;
  /** The piped's `spec.safety` (our improvements' switches); an app's `spec.safety` overrides it. */
  safety?: Partial<SafetySettings>;
}

/** The improvements' switches for one stage: the app's over the piped's over the defaults. */
export function safetyOf(o: K8sExecutorOptions, appConfig: unknown): SafetySettings {
  return resolveSafety(o.safety, (appConfig as Partial<ApplicationConfig> | undefined)?.safety);
}

/**
 * Our readiness improvement: waits until every Deployment among `manifests` is rolled out and
 * available (failing on ProgressDeadlineExceeded or `rolloutTimeout`); with
 * `safety.waitForReady: false` it returns at once, as PipeCD does, and says so in the log.
 */
export async function awaitRollout(
  o: K8sExecutorOptions,
  input: StageInput,
  manifests: Manifest[],
): Promise<boolean> {
  const safety = safetyOf(o, input.appConfig);
  if (!safety.waitForReady) {
    if (manifests.some((m) => m.obj.kind === "Deployment"))
      input.logger.info("Not waiting for the rollout: safety.waitForReady is off");
    return true;
  }
  return waitForWorkloads(o.kube, manifests, {
    signal: input.signal,
    logger: input.logger,
    timeoutMs: safety.rolloutTimeoutMs,
  });
}

/**
 * K8S_SYNC, the quick sync (PipeCD §4.5): applies every manifest of the target commit as
 * primary, with the builtin annotations and config hash, then waits until each Deployment is
 * rolled out and available. With `quickSync.prune`, resources of the running commit that the
 * target no longer has are deleted (owner-checked) — from Git, deterministic, where PipeCD uses
 * live state after a fixed 15 s sleep.
 */
export class K8sSyncExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput): Promise<StageStatus> {
    const cfg = input.appConfig as ApplicationConfig;
    const manifests = await loadStageManifests(input.logger, input.targetDir, cfg.input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    input.logger.info(
      `Applying ${manifests.length} manifests of commit ${input.targetCommit.slice(0, 8)}`,
    );
    const common = { signal: input.signal, logger: input.logger };
    if (
      !(await applyAll(this.o.kube, manifests, {
        ...common,
        pipedId: input.pipedId,
        applicationId: input.deployment.applicationId,
        commit: input.targetCommit,
        variantKey: cfg.variantLabel.key,
        variant: cfg.variantLabel.primaryValue,
      }))
    )
      return StageStatus.STAGE_FAILURE;
    if (!(await awaitRollout(this.o, input, manifests))) return StageStatus.STAGE_FAILURE;
    if (cfg.quickSync.prune && input.runningDir) {
      const running = await loadManifests(input.runningDir, cfg.input);
      const keep = new Set(manifests.map((m) => m.key));
      const gone = running.map((m) => m.key).filter((k) => !keep.has(k));
      if (gone.length) input.logger.info(`Pruning ${gone.length} resources removed from Git`);
      if (!(await deleteKeys(this.o.kube, gone, common))) return StageStatus.STAGE_FAILURE;
    }
    input.logger.success("Successfully synced all manifests");
    return StageStatus.STAGE_SUCCESS;
  }
}
