import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import type { NotificationRoute } from "@pipecd-ts/config";
import { ApplicationSchema, DeploymentSchema } from "@pipecd-ts/proto";
import type { NotificationEvent } from "../src/notifier/event.js";
import { routeMatches } from "../src/notifier/matcher.js";

// PipeCD's route matching, with its matcher_test.go tables as our own cases.

const route = (r: Partial<NotificationRoute>): NotificationRoute => ({
  name: "r",
  receiver: "x",
  events: [],
  ignoreEvents: [],
  groups: [],
  ignoreGroups: [],
  apps: [],
  ignoreApps: [],
  labels: {},
  ignoreLabels: {},
  ...r,
});
const dep = (
  type: NotificationEvent["type"],
  applicationName: string,
  labels: Record<string, string> = {},
): NotificationEvent => ({
  type,
  deployment: create(DeploymentSchema, { applicationName, labels }),
});

describe("notification routes (PipeCD matcher)", () => {
  const cases: [string, Partial<NotificationRoute>, [NotificationEvent, boolean][]][] = [
    [
      "empty config matches everything",
      {},
      [
        [{ type: "DEPLOYMENT_TRIGGERED" }, true],
        [{ type: "PIPED_STARTED" }, true],
      ],
    ],
    [
      "by event",
      { events: ["DEPLOYMENT_TRIGGERED"], ignoreEvents: ["DEPLOYMENT_ROLLING_BACK"] },
      [
        [{ type: "DEPLOYMENT_TRIGGERED" }, true],
        [{ type: "DEPLOYMENT_ROLLING_BACK" }, false],
        [{ type: "DEPLOYMENT_PLANNED" }, false],
      ],
    ],
    [
      "by group",
      { groups: ["DEPLOYMENT"], ignoreGroups: ["APPLICATION_SYNC"] },
      [
        [{ type: "DEPLOYMENT_TRIGGERED" }, true],
        [{ type: "APPLICATION_SYNCED" }, false],
        [{ type: "STAGE_STARTED" }, false],
      ],
    ],
    [
      "by app: events without an app pass",
      { apps: ["canary"], ignoreApps: ["bluegreen"] },
      [
        [dep("DEPLOYMENT_TRIGGERED", "canary"), true],
        [dep("DEPLOYMENT_PLANNED", "bluegreen"), false],
        [dep("DEPLOYMENT_SUCCEEDED", "not-specified"), false],
        [{ type: "PIPED_STARTED" }, true],
        [
          {
            type: "DEPLOYMENT_TRIGGER_FAILED",
            application: create(ApplicationSchema, { name: "bluegreen" }),
          },
          false,
        ],
        [
          {
            type: "DEPLOYMENT_TRIGGER_FAILED",
            application: create(ApplicationSchema, { name: "canary" }),
          },
          true,
        ],
      ],
    ],
    [
      "by labels: every configured pair must match; events without labels pass",
      { labels: { env: "dev", team: "pipecd" }, ignoreLabels: { env: "prod" } },
      [
        [dep("DEPLOYMENT_TRIGGERED", "a", { env: "dev", team: "pipecd" }), true],
        [dep("DEPLOYMENT_TRIGGERED", "a", { env: "dev", team: "pipecd", x: "y" }), true],
        [dep("DEPLOYMENT_TRIGGERED", "a", { env: "dev" }), false],
        [dep("DEPLOYMENT_TRIGGERED", "a", { env: "prod", team: "pipecd" }), false],
        [{ type: "PIPED_STARTED" }, true],
      ],
    ],
    [
      "PipeCD's quirk: an empty-valued label is dropped when ignoreLabels lacks its key",
      {},
      [[dep("DEPLOYMENT_TRIGGERED", "a", { env: "" }), false]],
    ],
  ];
  for (const [name, r, events] of cases)
    it(name, () => {
      for (const [e, want] of events)
        assert.equal(
          routeMatches(route(r), e),
          want,
          `${e.type} ${JSON.stringify(e.deployment?.labels ?? {})}`,
        );
    });
});
