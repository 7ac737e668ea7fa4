import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { SLACK_APPROVE_ACTION, SLACK_REJECT_ACTION } from "@pipecd-ts/model";
import { InvalidArgumentError, UnauthenticatedError } from "@pipecd-ts/runtime";

/** How old a signed Slack request may be (Slack's own advice: 5 minutes). */
export const SLACK_MAX_AGE_S = 300;

/** A click on an approval button. */
export interface SlackApprovalClick {
  action: "approve" | "reject";
  deploymentId: string;
  stageId: string;
  slackUserId: string;
  slackUserName: string;
  /** Where the message is updated (Slack's response_url). */
  responseUrl: string;
  /** The message clicked, to update it in place. */
  message: { blocks?: unknown[]; attachments?: unknown[]; text?: string } | undefined;
  /** The request's signature: a request seen before is a replay. */
  signature: string;
}

const header = (h: IncomingHttpHeaders, name: string): string =>
  (Array.isArray(h[name]) ? h[name][0] : h[name]) ?? "";

/**
 * Verifies a request from Slack (its signing secret: `v0=HMAC-SHA256(secret, "v0:<ts>:<body>")`
 * in `X-Slack-Signature`, the timestamp within 5 minutes of `nowS`) and reads the approval button
 * click it carries. A bad or missing signature, or a stale timestamp, is Unauthenticated.
 */
export function readSlackClick(
  headers: IncomingHttpHeaders,
  body: Buffer,
  signingSecret: string,
  nowS: number,
): SlackApprovalClick {
  const ts = header(headers, "x-slack-request-timestamp");
  const signature = header(headers, "x-slack-signature");
  if (!/^\d{1,12}$/.test(ts) || !signature)
    throw new UnauthenticatedError(
      "not signed by Slack (X-Slack-Signature, X-Slack-Request-Timestamp)",
    );
  if (Math.abs(nowS - Number(ts)) > SLACK_MAX_AGE_S)
    throw new UnauthenticatedError(
      `the request's timestamp is more than ${SLACK_MAX_AGE_S} s from now: refused as a possible replay`,
    );
  const want = `v0=${createHmac("sha256", signingSecret).update(`v0:${ts}:`).update(body).digest("hex")}`;
  const a = Buffer.from(signature);
  const b = Buffer.from(want);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new UnauthenticatedError("X-Slack-Signature does not match the request");
  const raw = new URLSearchParams(body.toString("utf8")).get("payload");
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(raw ?? "") as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError("the request has no JSON payload");
  }
  const obj = (v: unknown): Record<string, unknown> =>
    v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  if (p.type !== "block_actions")
    throw new InvalidArgumentError(`payload type ${JSON.stringify(p.type)} is not a button click`);
  const action = obj((p.actions as unknown[] | undefined)?.[0]);
  const id = str(action.action_id);
  if (id !== SLACK_APPROVE_ACTION && id !== SLACK_REJECT_ACTION)
    throw new InvalidArgumentError(`action ${JSON.stringify(id)} is not a PipeCD approval button`);
  const [deploymentId = "", stageId = ""] = str(action.value).split("/");
  if (!deploymentId || !stageId)
    throw new InvalidArgumentError("the button names no deployment and stage");
  const user = obj(p.user);
  return {
    action: id === SLACK_APPROVE_ACTION ? "approve" : "reject",
    deploymentId,
    stageId,
    slackUserId: str(user.id),
    slackUserName: str(user.username) || str(user.name),
    responseUrl: str(p.response_url),
    message: p.message ? obj(p.message) : undefined,
    signature,
  };
}

/** The clicked message with who acted added (Slack's replace_original). */
export function answeredMessage(click: SlackApprovalClick, text: string): Record<string, unknown> {
  // An approval keeps the buttons (a stage may need more approvers); a rejection ends it.
  const blocks = (click.message?.blocks ?? []).filter(
    (b) => click.action === "approve" || (b as { type?: string }).type !== "actions",
  );
  return {
    replace_original: true,
    text,
    ...(click.message?.attachments ? { attachments: click.message.attachments } : {}),
    blocks: [...blocks, { type: "context", elements: [{ type: "mrkdwn", text }] }],
  };
}
