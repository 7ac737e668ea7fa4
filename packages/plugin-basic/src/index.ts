export { START_TIME_KEY, WaitExecutor, stageStartTime } from "./wait.js";
export { WaitApprovalExecutor } from "./wait-approval.js";
export { ScriptRunExecutor, ScriptRunRollbackExecutor, scriptRunEnv } from "./script-run.js";
