import type { ResponseOf } from "@pipecd-ts/rest-api";

/** A deployment as the REST API returns it. */
export type DeploymentJson = ResponseOf<"getDeployment">["deployment"];
/** One stage of a deployment. */
export type StageJson = NonNullable<DeploymentJson["stages"]>[number];

/** The final deployment statuses (PipeCD's `IsCompleted`). */
export const FINAL_STATUSES = [
  "DEPLOYMENT_SUCCESS",
  "DEPLOYMENT_FAILURE",
  "DEPLOYMENT_CANCELLED",
] as const;

/** Whether a deployment status is final. */
export function isFinal(status: string | undefined): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status ?? "");
}

/**
 * The stages a person sees: the pipeline's visible stages plus the hidden Rollback stage once it
 * has started (PipeCD shows it only then).
 */
export function shownStages(d: DeploymentJson): StageJson[] {
  return (d.stages ?? []).filter(
    (s) => s.visible || (s.status !== undefined && s.status !== "STAGE_NOT_STARTED_YET"),
  );
}

/** The stage running now, or else the last one that ran (between two stages, or at the end). */
export function currentStage(d: DeploymentJson): StageJson | undefined {
  const stages = shownStages(d);
  return (
    stages.find((s) => s.status === "STAGE_RUNNING") ??
    stages.filter((s) => s.status !== "STAGE_NOT_STARTED_YET").at(-1)
  );
}

/** "stage 3/6 WAIT_APPROVAL (waiting for approval)" — where a deployment is, for progress. */
export function describeProgress(d: DeploymentJson): string {
  const status = (d.status ?? "DEPLOYMENT_PENDING").replace(/^DEPLOYMENT_/, "");
  const stages = shownStages(d);
  const cur = currentStage(d);
  if (!cur) return stages.length ? `${status}, ${stages.length} stages planned` : status;
  const n = stages.indexOf(cur) + 1;
  const what =
    cur.status === "STAGE_RUNNING"
      ? cur.name === "WAIT_APPROVAL"
        ? "waiting for approval"
        : "running"
      : (cur.status ?? "").replace(/^STAGE_/, "").toLowerCase();
  return `${status} · stage ${n}/${stages.length} ${cur.name ?? "?"} (${what})`;
}
