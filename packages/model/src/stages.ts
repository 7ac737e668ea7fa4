/** Stage names (types) known to the product, as in PipeCD's `pkg/model/stage.go`. */
export const StageName = {
  WAIT: "WAIT",
  WAIT_APPROVAL: "WAIT_APPROVAL",
  ANALYSIS: "ANALYSIS",
  K8S_SYNC: "K8S_SYNC",
  K8S_PRIMARY_ROLLOUT: "K8S_PRIMARY_ROLLOUT",
  K8S_CANARY_ROLLOUT: "K8S_CANARY_ROLLOUT",
  K8S_CANARY_CLEAN: "K8S_CANARY_CLEAN",
  K8S_BASELINE_ROLLOUT: "K8S_BASELINE_ROLLOUT",
  K8S_BASELINE_CLEAN: "K8S_BASELINE_CLEAN",
  K8S_TRAFFIC_ROUTING: "K8S_TRAFFIC_ROUTING",
  ROLLBACK: "ROLLBACK",
} as const;

/** One of {@link StageName}. */
export type StageName = (typeof StageName)[keyof typeof StageName];

/** Ids of predefined stages. */
export const PredefinedStageId = {
  K8S_SYNC: "K8sSync",
  ROLLBACK: "Rollback",
} as const;

/** Stage metadata key listing users who approved (comma-separated), as PipeCD's `ApprovedBy`. */
export const METADATA_APPROVED_BY = "ApprovedBy";
/** Stage metadata key listing allowed approvers (comma-separated), as PipeCD's `Approvers`. */
export const METADATA_APPROVERS = "Approvers";
/** Stage metadata key holding how many approvers a WAIT_APPROVAL needs (pipecd-ts; for the UI). */
export const METADATA_MIN_APPROVER_NUM = "MinApproverNum";
/** Command metadata key carrying the deployment a SYNC_APPLICATION command triggered. */
export const METADATA_TRIGGERED_DEPLOYMENT_ID = "TriggeredDeploymentID";
