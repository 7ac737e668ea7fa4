import type { KubeClient } from "@pipecd-ts/kube";
import type { StageLogger } from "@pipecd-ts/plugin-sdk";
import { AppError } from "@pipecd-ts/runtime";
import { addBuiltinAnnotations, addConfigHash, loadManifests, type Manifest } from "./manifest.js";

/** The Kubernetes calls the stages need (the piped wires the real client). */
export type KubeApi = Pick<KubeClient, "apply" | "deleteOwned" | "waitForRollout" | "get" | "list">;

/** Options of {@link applyAll}. */
export interface ApplyAllOptions {
  pipedId: string;
  applicationId: string;
  commit: string;
  variantKey: string;
  variant: string;
  signal: AbortSignal;
  logger: StageLogger;
}

/** Annotates (builtin + config hash) and server-side applies every manifest; false if any failed. */
export async function applyAll(
  kube: KubeApi,
  manifests: Manifest[],
  o: ApplyAllOptions,
): Promise<boolean> {
  for (const m of manifests) addBuiltinAnnotations(m, o);
  addConfigHash(manifests);
  let ok = true;
  for (const m of manifests) {
    if (o.signal.aborted) return false;
    const ns = m.key.split(":")[2] ?? "";
    const where = ns ? `${ns}/` : "";
    try {
      await kube.apply(m.obj, { signal: o.signal });
      o.logger.info(`Applied ${m.obj.kind} ${where}${m.obj.metadata.name}`);
    } catch (err) {
      if (o.signal.aborted) return false;
      ok = false;
      o.logger.error(
        `Failed to apply ${m.obj.kind} ${where}${m.obj.metadata.name}: ${errorMessage(err)}`,
      );
    }
  }
  return ok;
}

/**
 * Waits until every Deployment among `manifests` is rolled out and available (our improvement
 * over PipeCD, which returns as soon as the apply does); false on ProgressDeadlineExceeded,
 * deletion or `timeoutMs`.
 */
export async function waitForWorkloads(
  kube: KubeApi,
  manifests: Manifest[],
  o: { timeoutMs: number; signal: AbortSignal; logger: StageLogger },
): Promise<boolean> {
  for (const m of manifests) {
    if (m.obj.kind !== "Deployment") continue;
    const ref = {
      apiVersion: m.obj.apiVersion,
      kind: m.obj.kind,
      namespace: m.obj.metadata.namespace ?? "default",
      name: m.obj.metadata.name,
    };
    let last = "";
    try {
      const res = await kube.waitForRollout(ref, {
        timeoutMs: o.timeoutMs,
        signal: o.signal,
        onProgress: (msg) => {
          if (msg !== last) o.logger.info(msg);
          last = msg;
        },
      });
      if (!res.done) {
        o.logger.error(`Deployment ${ref.namespace}/${ref.name} is not available: ${res.message}`);
        return false;
      }
      if (res.message !== last) o.logger.success(res.message);
    } catch (err) {
      if (o.signal.aborted) return false;
      o.logger.error(
        `Could not watch the rollout of Deployment ${ref.namespace}/${ref.name}: ${errorMessage(err)}`,
      );
      return false;
    }
  }
  return true;
}

/** Deletes (owner-checked) the resources whose keys are in `keys`; false if any deletion failed. */
export async function deleteKeys(
  kube: KubeApi,
  keys: string[],
  o: { signal: AbortSignal; logger: StageLogger },
): Promise<boolean> {
  let ok = true;
  for (const key of keys) {
    const [apiVersion = "", kind = "", namespace = "", name = ""] = key.split(":");
    try {
      const r = await kube.deleteOwned(
        { apiVersion, kind, namespace: namespace || undefined, name },
        key,
        { signal: o.signal },
      );
      if (r === "deleted")
        o.logger.info(`Deleted ${kind} ${namespace ? `${namespace}/` : ""}${name}`);
      else if (r === "not-owned")
        o.logger.info(`Kept ${kind} ${name}: it is not managed by this application`);
    } catch (err) {
      if (o.signal.aborted) return false;
      ok = false;
      o.logger.error(`Failed to delete ${kind} ${name}: ${errorMessage(err)}`);
    }
  }
  return ok;
}

/** An error's message (the API server's message for Kubernetes errors). */
export function errorMessage(err: unknown): string {
  return err instanceof AppError || err instanceof Error ? err.message : String(err);
}

/**
 * Loads the manifests a stage works on. When they cannot be read, or there are none, it logs
 * why and returns undefined (the stage fails). `runningCommit` names the commit when `dir` is
 * the running commit's checkout rather than the target's.
 */
export async function loadStageManifests(
  logger: StageLogger,
  dir: string,
  input: { manifests: readonly string[]; namespace: string },
  runningCommit?: string,
): Promise<Manifest[] | undefined> {
  const commit = runningCommit?.slice(0, 8);
  let manifests: Manifest[];
  try {
    manifests = await loadManifests(dir, input);
  } catch (err) {
    const of = commit ? ` of the running commit ${commit}` : "";
    logger.error(`Failed to load the manifests${of}: ${errorMessage(err)}`);
    return undefined;
  }
  if (manifests.length === 0) {
    const at = commit ? ` at the running commit ${commit}` : "";
    logger.error(`No manifests were found in the application directory${at}`);
    return undefined;
  }
  return manifests;
}
