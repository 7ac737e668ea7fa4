import { StageStatus } from "@pipecd-ts/proto";
import type { ApplicationConfig } from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import {
  applyAll,
  deleteKeys,
  loadStageManifests,
  waitForWorkloads,
  type KubeApi,
} from "./apply.js";
import { loadManifests } from "./manifest.js";

/** Options shared by the Kubernetes executors. */
export interface K8sExecutorOptions {
  kube: KubeApi;
  /** How long a stage waits for Deployments to become available (our readiness improvement). */
  rolloutTimeoutMs?: number;
  /** Turn the readiness wait off (PipeCD's behaviour). */
  waitForReady?: boolean;
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
    if (
      this.o.waitForReady !== false &&
      !(await waitForWorkloads(this.o.kube, manifests, {
        ...common,
        timeoutMs: this.o.rolloutTimeoutMs ?? 10 * 60_000,
      }))
    )
      return StageStatus.STAGE_FAILURE;
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
