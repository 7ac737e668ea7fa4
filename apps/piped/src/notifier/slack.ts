import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { SlackReceiver } from "@pipecd-ts/config";
import { ApplicationKind, type Deployment, type PipelineStage } from "@pipecd-ts/proto";
import { SLACK_APPROVE_ACTION, SLACK_REJECT_ACTION } from "@pipecd-ts/model";
import type { NotificationEvent } from "./event.js";

/** PipeCD's Slack colours. */
const COLOR = { info: "#222429", success: "#629650", error: "#9C3C31", warn: "#C1A337" } as const;

/** One field of a Slack attachment. */
interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

/** The JSON PipeCD posts to Slack, plus our Approve / Reject buttons on WAIT_APPROVAL. */
export interface SlackMessage {
  username: "PipeCD";
  attachments: {
    title: string;
    title_link: string;
    text: string;
    fields: SlackField[];
    color: string;
    mrkdwn_in: ["text"];
    ts: number;
  }[];
  blocks?: unknown[];
}

const truncate = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}...` : s);
const link = (text: string, url: string): string => `<${url}|${text}>`;
const date = (t: Timestamp | undefined): string => {
  const d = t ? timestampDate(t) : new Date(0);
  return `<!date^${Math.floor(d.getTime() / 1000)}^{date_num} {time_secs}|${d.toISOString()}>`;
};
const accounts = (xs: readonly string[]): string => xs.map((a) => `<@${a}>`).join(" ");
const groups = (xs: readonly string[]): string =>
  xs.map((g) => (g.includes("!subteam^") ? g : `<!subteam^${g}>`)).join(" ");
const kind = (k: ApplicationKind): string => (ApplicationKind[k] ?? "KUBERNETES").toLowerCase();
/** PipeCD `Deployment.TriggeredBy`: the commander, else the commit's author. */
const triggeredBy = (d: Deployment): string =>
  d.trigger?.commander || d.trigger?.commit?.author || "";

/**
 * PipeCD's `buildSlackMessage` (features §5.5): the title, link, text, colour and fields of each
 * event; undefined for events Slack does not get. Mentions are the app config's (deployment
 * events) and the receiver's. `approvals` adds Approve / Reject buttons to WAIT_APPROVAL (the
 * control plane's Slack app receives the clicks).
 */
export function buildSlackMessage(
  e: NotificationEvent,
  o: { webURL: string; receiver: SlackReceiver; approvals: boolean; now: Date },
): SlackMessage | undefined {
  const r = o.receiver;
  const users = [...(e.mentionedAccounts ?? []), ...r.mentionedAccounts];
  const teams = [...(e.mentionedGroups ?? []), ...r.mentionedGroups];
  let title: string;
  let text = "";
  let color: string = COLOR.info;
  let titleLink = "";
  let fields: SlackField[] = [];
  const f = (t: string, value: string): SlackField => ({ title: t, value, short: true });
  const deploymentFields = (d: Deployment, stage?: PipelineStage): void => {
    titleLink = `${o.webURL}/deployments/${d.id}?project=${d.projectId}`;
    fields = [
      f("Project", truncate(d.projectId, 8)),
      f(
        "Application",
        link(
          d.applicationName,
          `${o.webURL}/applications/${d.applicationId}?project=${d.projectId}`,
        ),
      ),
      f("Kind", kind(d.kind)),
      f("Deployment", link(truncate(d.id, 8), titleLink)),
      ...(stage ? [f("Stage", stage.name)] : []),
      f("Triggered By", triggeredBy(d)),
      f("Mention To Users", accounts(stage ? r.mentionedAccounts : users)),
      f("Mention To Groups", groups(stage ? r.mentionedGroups : teams)),
      ...(stage ? [] : [f("Started At", date(d.createdAt))]),
    ];
  };
  const d = e.deployment;
  const app = d?.applicationName ?? "";
  switch (e.type) {
    case "DEPLOYMENT_TRIGGERED":
      title = `Triggered a new deployment for "${app}"`;
      break;
    case "DEPLOYMENT_PLANNED":
      title = `Deployment for "${app}" was planned`;
      text = e.summary ?? "";
      break;
    case "DEPLOYMENT_STARTED":
      title = `Deployment for "${app}" was started`;
      break;
    case "DEPLOYMENT_WAIT_APPROVAL":
      title = `Deployment for "${app}" is waiting for an approval`;
      break;
    case "DEPLOYMENT_APPROVED":
      title = `Deployment for "${app}" was approved`;
      text = `Approved by ${e.approver ?? ""}`;
      break;
    case "DEPLOYMENT_ROLLING_BACK":
      title = `Deployment for "${app}" is rolling back`;
      text = e.reason ?? "";
      color = COLOR.warn;
      break;
    case "DEPLOYMENT_SUCCEEDED":
      title = `Deployment for "${app}" was completed successfully`;
      color = COLOR.success;
      break;
    case "DEPLOYMENT_FAILED":
      title = `Deployment for "${app}" was failed`;
      text = e.reason ?? "";
      color = COLOR.error;
      break;
    case "DEPLOYMENT_CANCELLED":
      title = `Deployment for "${app}" was cancelled`;
      text = `Cancelled by ${e.commander ?? ""}`;
      color = COLOR.warn;
      break;
    case "DEPLOYMENT_TRIGGER_FAILED": {
      const a = e.application;
      if (!a) return undefined;
      title = `Failed to trigger a new deployment for ${a.name}`;
      text = e.reason ?? "";
      titleLink = `${o.webURL}/applications/${a.id}?project=${a.projectId}`;
      fields = [
        f("Project", truncate(a.projectId, 8)),
        f("Application", link(a.name, titleLink)),
        f("Kind", kind(a.kind)),
        f("Mention To Users", accounts(users)),
        f("Mention To Groups", groups(teams)),
      ];
      break;
    }
    case "PIPED_STARTED":
    case "PIPED_STOPPED": {
      const p = e.piped;
      if (!p) return undefined;
      title = `A piped has been ${e.type === "PIPED_STARTED" ? "started" : "stopped"}`;
      titleLink = `${o.webURL}/settings/piped?project=${p.projectId}`;
      fields = [
        f("Name", p.name),
        f("Version", p.version),
        f("Project", truncate(p.projectId, 8)),
        f("Id", p.id),
        f("Mention To Users", accounts(r.mentionedAccounts)),
        f("Mention To Groups", groups(r.mentionedGroups)),
      ];
      break;
    }
    case "STAGE_STARTED":
    case "STAGE_SKIPPED":
    case "STAGE_SUCCEEDED":
    case "STAGE_FAILED":
    case "STAGE_CANCELLED": {
      if (!d || !e.stage) return undefined;
      const verb = {
        STAGE_STARTED: "was started",
        STAGE_SKIPPED: "was skipped",
        STAGE_SUCCEEDED: "was completed successfully",
        STAGE_FAILED: "was failed",
        STAGE_CANCELLED: "was cancelled",
      }[e.type];
      title = `Stage "${e.stage.name}" ${verb}`;
      if (e.type === "STAGE_SUCCEEDED") color = COLOR.success;
      if (e.type === "STAGE_FAILED") {
        color = COLOR.error;
        text = e.stage.statusReason;
      }
      if (e.type === "STAGE_CANCELLED") color = COLOR.warn;
      deploymentFields(d, e.stage);
      break;
    }
    default:
      return undefined;
  }
  if (e.type.startsWith("DEPLOYMENT_") && e.type !== "DEPLOYMENT_TRIGGER_FAILED") {
    if (!d) return undefined;
    deploymentFields(d);
  }
  const msg: SlackMessage = {
    username: "PipeCD",
    attachments: [
      {
        title,
        title_link: titleLink,
        text,
        fields,
        color,
        mrkdwn_in: ["text"],
        ts: Math.floor(o.now.getTime() / 1000),
      },
    ],
  };
  if (o.approvals && e.type === "DEPLOYMENT_WAIT_APPROVAL" && d && e.stage) {
    const value = `${d.id}/${e.stage.id}`;
    msg.blocks = [
      {
        type: "section",
        text: { type: "mrkdwn", text: `*${title}*` },
      },
      {
        type: "actions",
        block_id: "pipecd_approval",
        elements: [
          {
            type: "button",
            action_id: SLACK_APPROVE_ACTION,
            text: { type: "plain_text", text: "Approve" },
            style: "primary",
            value,
          },
          {
            type: "button",
            action_id: SLACK_REJECT_ACTION,
            text: { type: "plain_text", text: "Reject" },
            style: "danger",
            value,
          },
        ],
      },
    ];
  }
  return msg;
}
