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
  SCRIPT_RUN: "SCRIPT_RUN",
  ROLLBACK: "ROLLBACK",
  /** Predefined: runs a SCRIPT_RUN's `onRollback` after the Rollback stage (PipeCD). */
  SCRIPT_RUN_ROLLBACK: "SCRIPT_RUN_ROLLBACK",
} as const;

/** One of {@link StageName}. */
export type StageName = (typeof StageName)[keyof typeof StageName];

/** Ids of predefined stages. */
export const PredefinedStageId = {
  K8S_SYNC: "K8sSync",
  ROLLBACK: "Rollback",
  /**
   * Prefix of the SCRIPT_RUN_ROLLBACK stages: `ScriptRunRollback-<the SCRIPT_RUN's id>`. PipeCD
   * gives them all the id "ScriptRunRollback"; ids must be unique here.
   */
  SCRIPT_RUN_ROLLBACK: "ScriptRunRollback",
} as const;

/** Stage metadata key listing users who approved (comma-separated), as PipeCD's `ApprovedBy`. */
export const METADATA_APPROVED_BY = "ApprovedBy";
/** Stage metadata key listing allowed approvers (comma-separated), as PipeCD's `Approvers`. */
export const METADATA_APPROVERS = "Approvers";
/** Stage metadata key holding how many approvers a WAIT_APPROVAL needs (pipecd-ts; for the UI). */
export const METADATA_MIN_APPROVER_NUM = "MinApproverNum";
/** Command metadata key carrying the deployment a SYNC_APPLICATION command triggered. */
export const METADATA_TRIGGERED_DEPLOYMENT_ID = "TriggeredDeploymentID";

/** Stage metadata of a SCRIPT_RUN_ROLLBACK stage, written by the planner (PipeCD's keys). */
export const ScriptRunRollbackMetadataKey = {
  /** The SCRIPT_RUN stage it rolls back. */
  BASE_STAGE_ID: "baseStageID",
  ON_ROLLBACK: "onRollback",
  /** The SCRIPT_RUN's `env`, as JSON. */
  ENV: "env",
  /** pipecd-ts: the SCRIPT_RUN's timeout in ms (PipeCD runs `onRollback` without one). */
  TIMEOUT_MS: "timeoutMs",
} as const;
