/**
 * The action ids of the Approve / Reject buttons the piped puts on a WAIT_APPROVAL Slack message;
 * the control plane's Slack endpoint acts on clicks of these (value `<deploymentId>/<stageId>`).
 */
export const SLACK_APPROVE_ACTION = "pipecd_approve";
export const SLACK_REJECT_ACTION = "pipecd_reject";
