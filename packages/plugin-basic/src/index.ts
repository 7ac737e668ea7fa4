export { START_TIME_KEY, WaitExecutor, stageStartTime, type WaitOptions } from "./wait.js";
export { WaitApprovalExecutor, type WaitApprovalOptions } from "./wait-approval.js";
