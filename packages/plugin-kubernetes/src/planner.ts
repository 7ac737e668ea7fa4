import { create } from "@bufbuild/protobuf";
import { goRegExp, type ApplicationConfig } from "@pipecd-ts/config";
import {
  METADATA_APPROVERS,
  METADATA_MIN_APPROVER_NUM,
  PredefinedStageId,
  ScriptRunRollbackMetadataKey,
  StageName,
} from "@pipecd-ts/model";
import {
  ManualOperation,
  PipelineStageSchema,
  StageStatus,
  SyncStrategy,
  type PipelineStage,
} from "@pipecd-ts/proto";
import { parseResourceKey } from "@pipecd-ts/kube";
import type { PlanResult, Planner, PlannerInput } from "@pipecd-ts/plugin-sdk";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { asObj as obj, canon } from "./json.js";
import { deploymentImages, type Manifest } from "./manifest/manifest.js";
import type { ManifestSource } from "./manifest/source.js";

/** Workload key ignoring apiVersion, with "default" namespace as empty (PipeCD pairing). */
function workloadKey(m: Manifest): string {
  const ns =
    m.obj.metadata.namespace && m.obj.metadata.namespace !== "default"
      ? m.obj.metadata.namespace
      : "";
  return `${m.obj.kind}:${ns}:${m.obj.metadata.name}`;
}

function workloadsOf(cfg: ApplicationConfig, ms: Manifest[]): Manifest[] {
  if (cfg.workloads.length === 0) return ms.filter((m) => m.obj.kind === "Deployment");
  return ms.filter((m) =>
    cfg.workloads.some(
      (w) => (w.kind || "Deployment") === m.obj.kind && (!w.name || w.name === m.obj.metadata.name),
    ),
  );
}

/**
 * PipeCD `decideStrategy` (reference §3.3 step 8): a pod template change or any ConfigMap/Secret
 * change → pipeline; a replicas-only change → quick sync ("scale"); anything else → quick sync.
 */
export function decideStrategy(
  cfg: ApplicationConfig,
  running: Manifest[],
  target: Manifest[],
): { strategy: "QUICK_SYNC" | "PIPELINE"; summary: string } {
  const oldW = workloadsOf(cfg, running);
  const newW = workloadsOf(cfg, target);
  if (oldW.length === 0 || newW.length === 0)
    return {
      strategy: "QUICK_SYNC",
      summary: "Quick sync by applying all manifests because no workload was found",
    };
  const oldByKey = new Map(oldW.map((m) => [workloadKey(m), m]));
  const scaled: string[] = [];
  for (const nw of newW) {
    const ow = oldByKey.get(workloadKey(nw));
    if (!ow) continue;
    const ot = obj(ow.obj.spec)?.template;
    const nt = obj(nw.obj.spec)?.template;
    if (canon(ot) !== canon(nt)) {
      const oldImages = deploymentImages([ow]);
      const newImages = deploymentImages([nw]);
      for (const ni of newImages) {
        const oi = oldImages.find((x) => x.container === ni.container);
        if (oi && oi.image !== ni.image) {
          if (oi.name === ni.name)
            return {
              strategy: "PIPELINE",
              summary: `Sync progressively because of updating image ${ni.name} from ${oi.tag} to ${ni.tag}`,
            };
          return {
            strategy: "PIPELINE",
            summary: `Sync progressively because of updating image from ${oi.image} to ${ni.image}`,
          };
        }
      }
      return {
        strategy: "PIPELINE",
        summary: `Sync progressively because pod template of workload ${nw.obj.metadata.name} was changed`,
      };
    }
    const or = obj(ow.obj.spec)?.replicas;
    const nr = obj(nw.obj.spec)?.replicas;
    if (canon(or) !== canon(nr))
      scaled.push(
        `${nw.obj.kind}/${nw.obj.metadata.name} from ${canon(or ?? 1)} to ${canon(nr ?? 1)}`,
      );
  }
  const configs = (ms: Manifest[]): Map<string, string> =>
    new Map(
      ms
        .filter((m) => m.obj.kind === "ConfigMap" || m.obj.kind === "Secret")
        .map((m) => [
          m.key,
          canon({ data: m.obj.data, binaryData: m.obj.binaryData, stringData: m.obj.stringData }),
        ]),
    );
  const oc = configs(running);
  const nc = configs(target);
  if (oc.size !== nc.size)
    return {
      strategy: "PIPELINE",
      summary: "Sync progressively because the number of ConfigMaps/Secrets was changed",
    };
  for (const [k, v] of nc) {
    const { kind, name } = parseResourceKey(k);
    if (!oc.has(k))
      return {
        strategy: "PIPELINE",
        summary: `Sync progressively because ${kind} ${name} was added`,
      };
    if (oc.get(k) !== v)
      return {
        strategy: "PIPELINE",
        summary: `Sync progressively because ${kind} ${name} was updated`,
      };
  }
  if (scaled.length)
    return { strategy: "QUICK_SYNC", summary: `Quick sync to scale ${scaled.join(", ")}` };
  return { strategy: "QUICK_SYNC", summary: "Quick sync by applying all manifests" };
}

function predefined(
  id: string,
  name: string,
  desc: string,
  visible: boolean,
  rollback: boolean,
): PipelineStage {
  return create(PipelineStageSchema, {
    id,
    name,
    desc,
    predefined: true,
    visible,
    rollback,
    status: StageStatus.STAGE_NOT_STARTED_YET,
    availableOperation: rollback ? ManualOperation.NONE : ManualOperation.UNKNOWN,
  });
}

/**
 * Whether a failed deployment rolls back: `input.autoRollback` (what PipeCD v0's Kubernetes
 * planner reads) and `planner.autoRollback` (which it ignores); both default to true, so
 * turning either off turns rollback off.
 */
export function autoRollback(cfg: ApplicationConfig): boolean {
  return cfg.input.autoRollback && cfg.planner.autoRollback;
}

/** The stages of a quick sync: K8sSync, plus the hidden Rollback when auto-rollback is on. */
export function quickSyncStages(cfg: ApplicationConfig): PipelineStage[] {
  const stages = [
    predefined(
      PredefinedStageId.K8S_SYNC,
      StageName.K8S_SYNC,
      "Sync by applying all manifests",
      true,
      false,
    ),
  ];
  if (autoRollback(cfg)) stages.push(rollbackStage());
  return stages;
}

/** The hidden predefined Rollback stage. */
function rollbackStage(): PipelineStage {
  return predefined(
    PredefinedStageId.ROLLBACK,
    StageName.ROLLBACK,
    "Rollback the deployment",
    false,
    true,
  );
}

/** The stages of the configured pipeline (`requires` = previous stage), plus the hidden Rollback. */
export function pipelineStages(cfg: ApplicationConfig): PipelineStage[] {
  const out: PipelineStage[] = [];
  let prev: string | undefined;
  for (const s of cfg.pipeline.stages) {
    const isApproval = s.name === "WAIT_APPROVAL";
    const approvers = isApproval ? [...s.with.approvers] : [];
    out.push(
      create(PipelineStageSchema, {
        id: s.id,
        name: s.name,
        desc: s.desc,
        index: s.index,
        predefined: false,
        requires: prev ? [prev] : [],
        visible: true,
        status: StageStatus.STAGE_NOT_STARTED_YET,
        // PipeCD's MakeInitialStageMetadata: WAIT_APPROVAL carries its approvers.
        // (plus how many must approve, so that a UI can say "waiting for N more").
        metadata: isApproval
          ? {
              [METADATA_APPROVERS]: approvers.join(","),
              [METADATA_MIN_APPROVER_NUM]: String(s.with.minApproverNum),
            }
          : {},
        availableOperation: isApproval ? ManualOperation.APPROVE : ManualOperation.SKIP,
        // The control plane enforces these when an approval is made (PipeCD #2550 must not recur).
        authorizedOperators: approvers,
      }),
    );
    prev = s.id;
  }
  if (!autoRollback(cfg)) return out;
  out.push(rollbackStage());
  // PipeCD: after the Rollback stage, one SCRIPT_RUN_ROLLBACK per SCRIPT_RUN, in order (here
  // each with its own id; PipeCD gives them all "ScriptRunRollback").
  for (const s of cfg.pipeline.stages) {
    if (s.name !== "SCRIPT_RUN") continue;
    const stage = predefined(
      `${PredefinedStageId.SCRIPT_RUN_ROLLBACK}-${s.id}`,
      StageName.SCRIPT_RUN_ROLLBACK,
      "Rollback the script run stage",
      false,
      true,
    );
    stage.metadata = {
      [ScriptRunRollbackMetadataKey.BASE_STAGE_ID]: s.id,
      [ScriptRunRollbackMetadataKey.ON_ROLLBACK]: s.with.onRollback,
      [ScriptRunRollbackMetadataKey.ENV]: JSON.stringify(s.with.env),
      [ScriptRunRollbackMetadataKey.TIMEOUT_MS]: String(s.with.timeoutMs),
    };
    out.push(stage);
  }
  return out;
}

/** `tag` for one image, "tag (name), …" for several (PipeCD version detection). */
function versionOf(ms: Manifest[]): PlanResult["versions"] & { summary?: string } {
  return deploymentImages(ms).map((i) => ({
    kind: "CONTAINER_IMAGE" as const,
    name: i.name,
    version: i.tag,
    url: i.image,
  }));
}

/** Input of {@link KubernetesPlanner.plan} beyond the SDK's. */
export interface KubernetesPlannerInput extends PlannerInput {
  /** The command-requested strategy (AUTO for commits). */
  readonly requestedStrategy: SyncStrategy;
  readonly fromCommand: boolean;
}

/**
 * The Kubernetes planner (PipeCD `planner/kubernetes`, reference §3.3), in PipeCD's decision
 * order: command strategy; no pipeline → quick sync; `planner.alwaysUsePipeline`;
 * `commitMatcher` (commits only); first deployment → quick sync; then `decideStrategy`.
 */
export class KubernetesPlanner implements Planner<KubernetesPlannerInput> {
  constructor(private readonly manifests: ManifestSource) {}

  async plan(i: KubernetesPlannerInput): Promise<PlanResult> {
    const cfg = i.appConfig;
    const render = (dir: string, commit: string): Promise<Manifest[]> =>
      this.manifests.render(
        {
          id: i.deployment.applicationId,
          name: i.deployment.applicationName,
          dir,
          input: cfg.input,
        },
        commit,
        i.signal,
      );
    const target = await render(i.targetDir, i.deployment.trigger?.commit?.hash ?? "");
    const versions = versionOf(target);
    const version =
      versions.length === 1
        ? (versions[0]?.version ?? "")
        : versions.map((v) => `${v.version} (${v.name})`).join(", ");
    const hasPipeline = cfg.pipeline.stages.length > 0;
    const quick = (summary: string): PlanResult => ({
      strategy: "QUICK_SYNC",
      summary,
      version,
      versions,
      stages: quickSyncStages(cfg),
    });
    const pipeline = (summary: string): PlanResult => ({
      strategy: "PIPELINE",
      summary,
      version,
      versions,
      stages: pipelineStages(cfg),
    });
    if (i.requestedStrategy === SyncStrategy.QUICK_SYNC)
      return quick("Quick sync by applying all manifests (requested)");
    if (i.requestedStrategy === SyncStrategy.PIPELINE) {
      if (!hasPipeline)
        throw new InvalidArgumentError(
          "a pipeline sync was requested but the application has no pipeline",
        );
      return pipeline("Sync with the specified pipeline (requested)");
    }
    if (!hasPipeline)
      return quick("Quick sync by applying all manifests because no pipeline was configured");
    if (cfg.planner.alwaysUsePipeline)
      return pipeline("Sync with the specified pipeline (alwaysUsePipeline was set)");
    if (!i.fromCommand) {
      if (cfg.commitMatcher.pipeline && goRegExp(cfg.commitMatcher.pipeline).test(i.commitMessage))
        return pipeline(
          "Sync progressively because the commit message matched the pipeline matcher",
        );
      if (
        cfg.commitMatcher.quickSync &&
        goRegExp(cfg.commitMatcher.quickSync).test(i.commitMessage)
      )
        return quick("Quick sync because the commit message matched the quick sync matcher");
    }
    if (!i.runningDir || !i.runningCommit)
      return quick(
        "Quick sync by applying all manifests because it seems this is the first deployment",
      );
    const running = await render(i.runningDir, i.runningCommit);
    const d = decideStrategy(cfg, running, target);
    return d.strategy === "PIPELINE" ? pipeline(d.summary) : quick(d.summary);
  }
}
