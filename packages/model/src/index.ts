export {
  NOT_COMPLETED_DEPLOYMENT_STATUSES,
  assertDeploymentTransition,
  assertStageTransition,
  canTransitionDeployment,
  canTransitionStage,
  deploymentStatusName,
  isCommandHandled,
  isDeploymentCompleted,
  isStageCompleted,
  stageStatusName,
} from "./status.js";
export {
  METADATA_APPROVED_BY,
  METADATA_APPROVERS,
  METADATA_MIN_APPROVER_NUM,
  METADATA_TRIGGERED_DEPLOYMENT_ID,
  PredefinedStageId,
  ScriptRunRollbackMetadataKey,
  StageName,
} from "./stages.js";
export { roleName, parseRole, roleAllows, type RoleName } from "./roles.js";
export {
  MAX_CONFIG_WARNINGS,
  MAX_CONFIG_WARNING_TEXT,
  capConfigWarnings,
  configWarningsProblem,
  formatConfigWarning,
  sameConfigStages,
  sameConfigWarnings,
  type ConfigStageLike,
  type ConfigWarningLike,
} from "./warnings.js";
export { SLACK_APPROVE_ACTION, SLACK_REJECT_ACTION } from "./slack.js";
export { makeEventKey } from "./events.js";
