import type { SafetySettings, VariantName } from "@pipecd-ts/config";
import { resolveSafety } from "@pipecd-ts/config";
import type { StageInput } from "@pipecd-ts/plugin-sdk";
import { applyVariant, errorMessage, waitForWorkloads, type KubeApi } from "../apply.js";
import type { Manifest } from "../manifest/manifest.js";
import type { ManifestSource } from "../manifest/source.js";

/** What every Kubernetes executor is built with (the piped wires them once). */
export interface K8sExecutorOptions {
  kube: KubeApi;
  /** Where manifests come from (rendered and cached per application and commit). */
  manifests: ManifestSource;
  /** The piped's `spec.safety` (our improvements' switches); an app's `spec.safety` overrides it. */
  safety?: Partial<SafetySettings>;
}

/** The improvements' switches for one stage: the app's over the piped's over the defaults. */
export function safetyOf(
  o: K8sExecutorOptions,
  input: Pick<StageInput, "appConfig">,
): SafetySettings {
  return resolveSafety(o.safety, input.appConfig.safety);
}

/**
 * The manifests of the target commit (or, with `which: "running"`, of the running commit) as
 * this app renders them. When they cannot be rendered, or there are none, the stage log says
 * why (with helm's or kustomize's own message) and the result is undefined: the stage fails
 * and nothing is applied.
 */
export async function stageManifests(
  o: K8sExecutorOptions,
  input: StageInput,
  which: "target" | "running" = "target",
): Promise<Manifest[] | undefined> {
  const running = which === "running";
  const dir = running ? input.runningDir : input.targetDir;
  const commit = (running ? input.runningCommit : input.targetCommit) ?? "";
  const of = running ? ` of the running commit ${commit.slice(0, 8)}` : "";
  if (!dir) {
    input.logger.error(`No checkout${of} to load the manifests from`);
    return undefined;
  }
  let manifests: Manifest[];
  try {
    manifests = await o.manifests.render(
      {
        id: input.deployment.applicationId,
        name: input.deployment.applicationName,
        dir,
        input: input.appConfig.input,
      },
      commit,
      input.signal,
      (line) => input.logger.info(line),
    );
  } catch (err) {
    if (!input.signal.aborted)
      input.logger.error(`Failed to load the manifests${of}: ${errorMessage(err)}`);
    return undefined;
  }
  if (manifests.length === 0) {
    input.logger.error(`No manifests were found in the application directory${of}`);
    return undefined;
  }
  return manifests;
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
  const safety = safetyOf(o, input);
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
 * Applies `manifests` as `variant` of this app at `commit` ({@link applyVariant}), then waits
 * for their Deployments ({@link awaitRollout}). False when either failed.
 */
export async function rollOut(
  o: K8sExecutorOptions,
  input: StageInput,
  manifests: Manifest[],
  variant: VariantName,
  commit: string,
): Promise<boolean> {
  const applied = await applyVariant(o.kube, manifests, {
    pipedId: input.pipedId,
    applicationId: input.deployment.applicationId,
    commit,
    variant,
    variantLabel: input.appConfig.variantLabel,
    autoCreateNamespace: input.appConfig.input.autoCreateNamespace,
    signal: input.signal,
    logger: input.logger,
  });
  return applied && (await awaitRollout(o, input, manifests));
}
