import type { PlanPreviewApplication, PlanPreviewResult } from "@pipecd-ts/rest-api";

/** PipeCD's `ReadableResult` (the `--out` JSON, with its Go field names). */
export interface ReadableResult {
  Applications: (AppInfo & {
    SyncStrategy: string;
    StrategyReason: string;
    PlanSummary: string;
    PlanDetails: string;
    NoChange: boolean;
    Stages: string[];
  })[];
  FailureApplications: (AppInfo & { Reason: string; PlanDetails: string })[];
  FailurePipeds: { PipedID: string; PipedName: string; PipedURL: string; Reason: string }[];
}

interface AppInfo {
  ApplicationID: string;
  ApplicationName: string;
  ApplicationURL: string;
  ApplicationKind: string;
  ApplicationDirectory: string;
  Env: string;
}

/**
 * PipeCD `convert` + `sortResults`: pipeds that failed as a whole, apps that failed, and the
 * rest; sorted by piped id, then by each of `sortLabelKeys`, then by app name.
 */
export function readableResult(
  results: readonly PlanPreviewResult[],
  o: { webUrl: string; sortLabelKeys: readonly string[] },
): ReadableResult {
  const out: ReadableResult = { Applications: [], FailureApplications: [], FailurePipeds: [] };
  const sorted = [...results].sort((a, b) => cmp(a.pipedId, b.pipedId));
  for (const r of sorted) {
    if (r.status !== "SUCCEEDED") {
      out.FailurePipeds.push({
        PipedID: r.pipedId,
        PipedName: r.pipedName,
        PipedURL: `${o.webUrl}/pipeds`,
        Reason: r.error || (r.status === "WAITING" ? "no answer yet" : r.status),
      });
      continue;
    }
    const apps = [...r.applications].sort((a, b) => {
      for (const k of o.sortLabelKeys) {
        const c = cmp(a.labels[k] ?? "", b.labels[k] ?? "");
        if (c) return c;
      }
      return cmp(a.applicationName, b.applicationName);
    });
    for (const a of apps) {
      const info = appInfo(a, o.webUrl);
      if (a.error)
        out.FailureApplications.push({ ...info, Reason: a.error, PlanDetails: a.planDetails });
      else
        out.Applications.push({
          ...info,
          SyncStrategy: a.syncStrategy,
          StrategyReason: a.strategyReason,
          PlanSummary: a.planSummary,
          PlanDetails: a.planDetails,
          NoChange: a.noChange,
          Stages: a.stages,
        });
    }
  }
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function appInfo(a: PlanPreviewApplication, webUrl: string): AppInfo {
  return {
    ApplicationID: a.applicationId,
    ApplicationName: a.applicationName,
    ApplicationURL: `${webUrl}/applications/${a.applicationId}`,
    ApplicationKind: a.applicationKind,
    ApplicationDirectory: a.applicationDirectory,
    Env: a.labels.env ?? "",
  };
}

const plural = (n: number, one: string, many: string): string => (n > 1 ? many : one);

/** PipeCD `ReadableResult.String()`, text for a pull-request comment. */
export function renderReadableResult(r: ReadableResult): string {
  const { Applications: apps, FailureApplications: failedApps, FailurePipeds: failedPipeds } = r;
  if (apps.length + failedApps.length + failedPipeds.length === 0)
    return "\nThere are no updated applications. It means no deployment will be triggered once this pull request got merged.\n";
  const title = (i: number, a: AppInfo): string =>
    a.Env
      ? `\n${i + 1}. app: ${a.ApplicationName}, env: ${a.Env}, kind: ${a.ApplicationKind}\n`
      : `\n${i + 1}. app: ${a.ApplicationName}, kind: ${a.ApplicationKind}\n`;
  const details = (d: string): string =>
    `  details:\n\n  ---DETAILS_BEGIN---\n${d}\n  ---DETAILS_END---\n`;
  let b = "";
  if (apps.length) {
    b += `\nHere are plan-preview for ${apps.length > 1 ? `${apps.length} applications` : "1 application"}:\n`;
    apps.forEach((a, i) => {
      b += title(i, a);
      b += `  sync strategy: ${a.SyncStrategy}\n`;
      b += `  summary: ${a.PlanSummary}\n`;
      b += details(a.PlanDetails);
    });
  }
  if (failedApps.length) {
    b += `\nNOTE: An error occurred while building plan-preview for the following ${plural(failedApps.length, "application", `${failedApps.length} applications`)}:\n`;
    failedApps.forEach((a, i) => {
      b += title(i, a);
      b += `  reason: ${a.Reason}\n`;
      if (a.PlanDetails) b += details(a.PlanDetails);
    });
  }
  if (failedPipeds.length) {
    b += `\nNOTE: An error occurred while building plan-preview for applications of the following ${plural(failedPipeds.length, "Piped", `${failedPipeds.length} Pipeds`)}:\n`;
    failedPipeds.forEach((p, i) => {
      b += `\n${i + 1}. piped: ${p.PipedName} (${p.PipedID})\n`;
      b += `  reason: ${p.Reason}\n`;
    });
  }
  return b;
}
