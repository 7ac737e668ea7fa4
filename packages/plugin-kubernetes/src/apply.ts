import type { KubernetesVariantLabel, VariantName } from "@pipecd-ts/config";
import { parseResourceKey, type KubeClient } from "@pipecd-ts/kube";
import type { StageLogger } from "@pipecd-ts/plugin-sdk";
import { AppError } from "@pipecd-ts/runtime";
import { addBuiltinAnnotations, addConfigHash, type Manifest } from "./manifest/manifest.js";

/** The Kubernetes calls the stages need (the piped wires the real client). */
export type KubeApi = Pick<KubeClient, "apply" | "deleteOwned" | "waitForRollout" | "get" | "list">;

/** Options of {@link applyVariant}. */
export interface ApplyVariantOptions {
  pipedId: string;
  applicationId: string;
  /** The commit the manifests come from (the builtin commit-hash annotation). */
  commit: string;
  /** Which variant the manifests are; its label value comes from `variantLabel`. */
  variant: VariantName;
  variantLabel: KubernetesVariantLabel;
  /** `input.autoCreateNamespace`: create a missing namespace before applying into it. */
  autoCreateNamespace: boolean;
  signal: AbortSignal;
  logger: StageLogger;
}

/** The label value of a variant. */
export function variantValue(label: KubernetesVariantLabel, variant: VariantName): string {
  return variant === "primary"
    ? label.primaryValue
    : variant === "canary"
      ? label.canaryValue
      : label.baselineValue;
}

/**
 * The one way manifests reach the cluster: annotates them as `variant` of the app at `commit`
 * (builtin annotations, reference §4.3, and the config hash) and server-side applies each; the
 * API server's message goes to the stage log. False if any failed or the stage stopped.
 */
export async function applyVariant(
  kube: KubeApi,
  manifests: Manifest[],
  o: ApplyVariantOptions,
): Promise<boolean> {
  const annotations = {
    pipedId: o.pipedId,
    applicationId: o.applicationId,
    commit: o.commit,
    variantKey: o.variantLabel.key,
    variant: variantValue(o.variantLabel, o.variant),
  };
  for (const m of manifests) addBuiltinAnnotations(m, annotations);
  addConfigHash(manifests);
  let ok = true;
  const namespaces = new Set<string>();
  for (const m of manifests) {
    if (o.signal.aborted) return false;
    const ns = parseResourceKey(m.key).namespace;
    const where = ns ? `${ns}/` : "";
    try {
      if (o.autoCreateNamespace && ns && !namespaces.has(ns)) {
        await ensureNamespace(kube, ns, o);
        namespaces.add(ns);
      }
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
 * PipeCD's `input.autoCreateNamespace` (`kubectl create namespace`, AlreadyExists ignored):
 * creates the namespace when it does not exist, and leaves an existing one untouched.
 */
async function ensureNamespace(
  kube: KubeApi,
  name: string,
  o: { signal: AbortSignal; logger: StageLogger },
): Promise<void> {
  const ref = { apiVersion: "v1", kind: "Namespace", name };
  if (await kube.get(ref, { signal: o.signal })) return;
  await kube.apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name } },
    { signal: o.signal },
  );
  o.logger.info(`Created namespace ${name} (input.autoCreateNamespace)`);
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
    let ref: ReturnType<typeof parseResourceKey>;
    try {
      ref = parseResourceKey(key);
    } catch (err) {
      ok = false;
      o.logger.error(`Cannot delete ${key}: ${errorMessage(err)}`);
      continue;
    }
    const { apiVersion, kind, namespace, name } = ref;
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
