// The plan-preview answer a piped sends with its BUILD_PLAN_PREVIEW command (as JSON in the
// command's output) and the REST API returns. Browser-safe: no imports.

/** What a change would deploy for one application (PipeCD's ApplicationPlanPreviewResult). */
export interface PlanPreviewApplication {
  applicationId: string;
  applicationName: string;
  applicationKind: string;
  applicationDirectory: string;
  labels: Record<string, string>;
  /** QUICK_SYNC or PIPELINE; empty when `error` is set. */
  syncStrategy: string;
  /** Why the planner chose it ("Sync progressively because of updating image …"). */
  strategyReason: string;
  /** `A added manifests, C changed manifests, D deleted manifests`, or `No changes were detected`. */
  planSummary: string;
  /** The manifest diff between the last deployment and the head (Secrets masked). */
  planDetails: string;
  noChange: boolean;
  /** The stages the deployment would run, in order. */
  stages: string[];
  /** Why no plan could be built for this application. */
  error: string;
}

/** A piped's whole answer. */
export interface PlanPreviewOutput {
  /** The commit previewed: head merged into the base branch. */
  headCommit: string;
  applications: PlanPreviewApplication[];
}

const str = (v: unknown): v is string => typeof v === "string";

/**
 * Reads a piped's answer, refusing anything not of the shape (it is shown to users as is):
 * undefined when it is not a PlanPreviewOutput.
 */
export function parsePlanPreviewOutput(bytes: Uint8Array): PlanPreviewOutput | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  const o = v as Partial<PlanPreviewOutput> | null;
  if (!o || !str(o.headCommit) || !Array.isArray(o.applications)) return undefined;
  const ok = o.applications.every(
    (a: Partial<PlanPreviewApplication> | null) =>
      !!a &&
      [
        a.applicationId,
        a.applicationName,
        a.applicationKind,
        a.applicationDirectory,
        a.syncStrategy,
        a.strategyReason,
        a.planSummary,
        a.planDetails,
        a.error,
      ].every(str) &&
      typeof a.noChange === "boolean" &&
      Array.isArray(a.stages) &&
      a.stages.every(str) &&
      !!a.labels &&
      typeof a.labels === "object" &&
      Object.values(a.labels).every(str),
  );
  return ok ? (o as PlanPreviewOutput) : undefined;
}
