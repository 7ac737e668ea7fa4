export { START_TIME_KEY, WaitExecutor, stageStartTime } from "./wait.js";
export { WaitApprovalExecutor } from "./wait-approval.js";
