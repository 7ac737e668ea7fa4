import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  deploymentRolloutStatus,
  type DeploymentRolloutStatus,
  type KubeObject,
} from "../src/index.js";

/** A Deployment "web" with the given generation, spec.replicas and status. */
function d(
  generation: number,
  replicas: number | undefined,
  status: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", generation },
    spec: replicas === undefined ? {} : { replicas },
    status,
  };
}

const pde = [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }];
const W = 'Waiting for deployment "web" rollout to finish: ';

// The cases of kubectl's TestDeploymentStatusViewerStatus (rollout_status_test.go), plus the
// ordering rules of DeploymentStatusViewer.Status.
const cases: [string, KubeObject, DeploymentRolloutStatus][] = [
  [
    "spec change not yet observed",
    d(2, 1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }),
    { state: "progressing", message: "Waiting for deployment spec update to be observed..." },
  ],
  [
    "new replicas not all updated",
    d(1, 1, { observedGeneration: 1, replicas: 1, updatedReplicas: 0, availableReplicas: 1 }),
    { state: "progressing", message: `${W}0 out of 1 new replicas have been updated...` },
  ],
  [
    "old replicas pending termination",
    d(1, 1, { observedGeneration: 1, replicas: 2, updatedReplicas: 1, availableReplicas: 2 }),
    { state: "progressing", message: `${W}1 old replicas are pending termination...` },
  ],
  [
    "updated replicas not all available",
    d(1, 2, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
    { state: "progressing", message: `${W}1 of 2 updated replicas are available...` },
  ],
  [
    "rolled out",
    d(1, 2, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
    { state: "done", message: 'deployment "web" successfully rolled out' },
  ],
  [
    "observedGeneration ahead of generation counts as observed",
    d(1, 1, { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }),
    { state: "done", message: 'deployment "web" successfully rolled out' },
  ],
  [
    "progress deadline exceeded wins over replica counts",
    d(1, 2, { observedGeneration: 1, replicas: 2, updatedReplicas: 0, conditions: pde }),
    {
      state: "failed",
      reason: "ProgressDeadlineExceeded",
      message: 'deployment "web" exceeded its progress deadline',
    },
  ],
  [
    "progress deadline is ignored until the spec is observed",
    d(2, 2, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, conditions: pde }),
    { state: "progressing", message: "Waiting for deployment spec update to be observed..." },
  ],
  [
    "other Progressing reasons are ignored",
    d(1, 1, {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: [{ type: "Progressing", status: "False", reason: "ReplicaSetCreateError" }],
    }),
    { state: "done", message: 'deployment "web" successfully rolled out' },
  ],
  [
    "no spec.replicas skips the updated check (Go nil)",
    d(1, undefined, {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
    }),
    { state: "done", message: 'deployment "web" successfully rolled out' },
  ],
  [
    "scaled to zero with no status fields is done",
    d(3, 0, { observedGeneration: 3 }),
    { state: "done", message: 'deployment "web" successfully rolled out' },
  ],
  [
    "no status at all is not observed yet",
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", generation: 1 } },
    { state: "progressing", message: "Waiting for deployment spec update to be observed..." },
  ],
];

describe("deploymentRolloutStatus mirrors kubectl's DeploymentStatusViewer", () => {
  for (const [name, obj, want] of cases)
    it(name, () => assert.deepEqual(deploymentRolloutStatus(obj), want));
});
