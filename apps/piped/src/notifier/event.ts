import type { NotificationEventName, NotificationMention } from "@pipecd-ts/config";
import type { Application, Deployment, PipelineStage } from "@pipecd-ts/proto";

/** What happened, as the notifier tells receivers (PipeCD's NotificationEvent and its metadata). */
export interface NotificationEvent {
  type: NotificationEventName;
  /** Deployment and stage events. */
  deployment?: Deployment;
  /** Stage events: the stage as it was. */
  stage?: PipelineStage;
  /** DEPLOYMENT_TRIGGER_FAILED: the app and the commit that could not trigger. */
  application?: Application;
  commit?: { hash: string; message: string };
  /** PLANNED: the plan's summary. */
  summary?: string;
  /** FAILED, TRIGGER_FAILED: why. */
  reason?: string;
  /** CANCELLED: who. */
  commander?: string;
  /** APPROVED: who approved. */
  approver?: string;
  /** PIPED_STARTED / STOPPED. */
  piped?: { id: string; name: string; version: string; projectId: string };
  /** The app config's `notification.mentions` for this event (deployment events only). */
  mentionedAccounts?: string[];
  mentionedGroups?: string[];
}

/** The Slack users and groups an app config mentions for `event` (its own name, or "*"). */
export function mentionsFor(
  mentions: readonly NotificationMention[],
  event: NotificationEventName,
): { mentionedAccounts: string[]; mentionedGroups: string[] } {
  const hit = mentions.filter((m) => m.event === event || m.event === "*");
  return {
    mentionedAccounts: [...new Set(hit.flatMap((m) => m.slackUsers))],
    mentionedGroups: [...new Set(hit.flatMap((m) => m.slackGroups))],
  };
}

/** The application name of an event, when it has one. */
export function appNameOf(e: NotificationEvent): string {
  return e.deployment?.applicationName ?? e.application?.name ?? "";
}

/** The labels of an event (the deployment's or the app's); undefined for events without. */
export function labelsOf(e: NotificationEvent): Record<string, string> | undefined {
  return e.deployment?.labels ?? e.application?.labels;
}
