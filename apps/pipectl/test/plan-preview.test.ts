import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { PlanPreviewApplication, PlanPreviewResult } from "@pipecd-ts/rest-api";
import { readableResult, renderReadableResult } from "../src/plan-preview.js";

// PipeCD's TestReadableResultString vectors (pkg/app/pipectl/cmd/planpreview), as our results.

const app = (
  id: string,
  kind: string,
  env: string | undefined,
  r: Partial<PlanPreviewApplication>,
): PlanPreviewApplication => ({
  applicationId: id,
  applicationName: id,
  applicationKind: kind,
  applicationDirectory: `apps/${id}`,
  labels: env ? { env } : {},
  syncStrategy: "",
  strategyReason: "",
  planSummary: "",
  planDetails: "",
  noChange: false,
  stages: [],
  error: "",
  ...r,
});

const piped = (
  n: number,
  r: Partial<PlanPreviewResult> & Pick<PlanPreviewResult, "status">,
): PlanPreviewResult => ({
  commandId: `command-${n}`,
  pipedId: `piped-${n}`,
  pipedName: `piped-name-${n}`,
  error: "",
  headCommit: "",
  applications: [],
  ...r,
});

const text = (results: PlanPreviewResult[]): string =>
  renderReadableResult(
    readableResult(results, { webUrl: "https://pipecd.dev", sortLabelKeys: [] }),
  );

describe("pipectl plan-preview output (PipeCD's ReadableResult)", () => {
  it("no results: no deployment will be triggered", () => {
    assert.equal(
      text([]),
      "\nThere are no updated applications. It means no deployment will be triggered once this pull request got merged.\n",
    );
  });

  it("all kinds: plannable apps, failed apps and failed pipeds, in PipeCD's words", () => {
    const results = [
      piped(3, { status: "FAILED", error: "failed to checkout branch" }),
      piped(1, { status: "FAILED", error: "failed to clone" }),
      piped(2, {
        status: "SUCCEEDED",
        applications: [
          app("app-2", "TERRAFORM", "env-2", {
            syncStrategy: "PIPELINE",
            planSummary: "1 to add, 2 to change, 0 to destroy",
            planDetails: "changes-2",
          }),
          app("app-1", "KUBERNETES", "env-1", {
            syncStrategy: "QUICK_SYNC",
            planSummary:
              "2 manifests will be added, 1 manifest will be deleted and 5 manifests will be changed",
            planDetails: "changes-1",
          }),
          app("app-3", "TERRAFORM", "env-3", { error: "wrong application configuration" }),
          app("app-4", "CLOUDRUN", undefined, { error: "missing key" }),
        ],
      }),
    ];
    assert.equal(
      text(results),
      `
Here are plan-preview for 2 applications:

1. app: app-1, env: env-1, kind: KUBERNETES
  sync strategy: QUICK_SYNC
  summary: 2 manifests will be added, 1 manifest will be deleted and 5 manifests will be changed
  details:

  ---DETAILS_BEGIN---
changes-1
  ---DETAILS_END---

2. app: app-2, env: env-2, kind: TERRAFORM
  sync strategy: PIPELINE
  summary: 1 to add, 2 to change, 0 to destroy
  details:

  ---DETAILS_BEGIN---
changes-2
  ---DETAILS_END---

NOTE: An error occurred while building plan-preview for the following 2 applications:

1. app: app-3, env: env-3, kind: TERRAFORM
  reason: wrong application configuration

2. app: app-4, kind: CLOUDRUN
  reason: missing key

NOTE: An error occurred while building plan-preview for applications of the following 2 Pipeds:

1. piped: piped-name-1 (piped-1)
  reason: failed to clone

2. piped: piped-name-3 (piped-3)
  reason: failed to checkout branch
`,
    );
  });

  it("one failed piped and one failed app use the singular", () => {
    assert.equal(
      text([
        piped(1, {
          status: "TIMED_OUT",
          error: "Timed out, maybe the piped is offline currently.",
        }),
        piped(2, {
          status: "SUCCEEDED",
          applications: [
            app("app-2", "KUBERNETES", "env-2", { error: "wrong application configuration" }),
          ],
        }),
      ]),
      `
NOTE: An error occurred while building plan-preview for the following application:

1. app: app-2, env: env-2, kind: KUBERNETES
  reason: wrong application configuration

NOTE: An error occurred while building plan-preview for applications of the following Piped:

1. piped: piped-name-1 (piped-1)
  reason: Timed out, maybe the piped is offline currently.
`,
    );
  });

  it("--sort-label-keys sorts by those labels, then by name; the JSON keeps PipeCD's field names", () => {
    const r = readableResult(
      [
        piped(1, {
          status: "SUCCEEDED",
          applications: [
            app("b", "KUBERNETES", "prod", { syncStrategy: "QUICK_SYNC" }),
            app("a", "KUBERNETES", "prod", { syncStrategy: "QUICK_SYNC" }),
            app("c", "KUBERNETES", "dev", { syncStrategy: "PIPELINE", stages: ["WAIT"] }),
          ],
        }),
      ],
      { webUrl: "https://pipecd.dev", sortLabelKeys: ["env"] },
    );
    assert.deepEqual(
      r.Applications.map((a) => a.ApplicationName),
      ["c", "a", "b"],
    );
    assert.equal(r.Applications[0]?.ApplicationURL, "https://pipecd.dev/applications/c");
    assert.deepEqual(r.Applications[0]?.Stages, ["WAIT"]);
  });
});
