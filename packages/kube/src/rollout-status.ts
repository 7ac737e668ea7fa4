import type { KubeObject } from "./types.js";

/** Where a Deployment's rollout stands, as `kubectl rollout status` sees it. */
export type DeploymentRolloutStatus =
  | { state: "done"; message: string }
  | { state: "progressing"; message: string }
  | { state: "failed"; reason: "ProgressDeadlineExceeded"; message: string };

interface DeploymentFields {
  metadata: { name?: string; generation?: number };
  spec?: { replicas?: number | null };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type?: string; reason?: string }[];
  };
}

/**
 * kubectl's `DeploymentStatusViewer.Status` (kubectl `pkg/polymorphichelpers/rollout_status.go`,
 * reference §4.2), check for check and message for message (without kubectl's trailing "\n").
 * Conditions other than a Progressing condition with reason ProgressDeadlineExceeded are ignored,
 * exactly as kubectl does.
 */
export function deploymentRolloutStatus(obj: KubeObject): DeploymentRolloutStatus {
  const d = obj as unknown as DeploymentFields;
  const name = JSON.stringify(d.metadata.name ?? ""); // Go's %q for a DNS name
  const st = d.status ?? {};
  const generation = d.metadata.generation ?? 0;
  if (generation <= (st.observedGeneration ?? 0)) {
    const progressing = st.conditions?.find((c) => c.type === "Progressing");
    if (progressing?.reason === "ProgressDeadlineExceeded")
      return {
        state: "failed",
        reason: "ProgressDeadlineExceeded",
        message: `deployment ${name} exceeded its progress deadline`,
      };
    const updated = st.updatedReplicas ?? 0;
    const replicas = st.replicas ?? 0;
    const available = st.availableReplicas ?? 0;
    const desired = d.spec?.replicas;
    if (typeof desired === "number" && updated < desired)
      return {
        state: "progressing",
        message: `Waiting for deployment ${name} rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
      };
    if (replicas > updated)
      return {
        state: "progressing",
        message: `Waiting for deployment ${name} rollout to finish: ${replicas - updated} old replicas are pending termination...`,
      };
    if (available < updated)
      return {
        state: "progressing",
        message: `Waiting for deployment ${name} rollout to finish: ${available} of ${updated} updated replicas are available...`,
      };
    return { state: "done", message: `deployment ${name} successfully rolled out` };
  }
  return { state: "progressing", message: "Waiting for deployment spec update to be observed..." };
}
