import { resolve } from "node:path";
import type { FieldPath, FieldReader } from "./fields.js";

/** PipeCD's notification event names (without `EVENT_`), by their number. */
export const NOTIFICATION_EVENTS = {
  DEPLOYMENT_TRIGGERED: 0,
  DEPLOYMENT_PLANNED: 1,
  DEPLOYMENT_APPROVED: 2,
  DEPLOYMENT_ROLLING_BACK: 3,
  DEPLOYMENT_SUCCEEDED: 4,
  DEPLOYMENT_FAILED: 5,
  DEPLOYMENT_CANCELLED: 6,
  DEPLOYMENT_WAIT_APPROVAL: 7,
  DEPLOYMENT_TRIGGER_FAILED: 8,
  DEPLOYMENT_STARTED: 9,
  APPLICATION_SYNCED: 100,
  APPLICATION_OUT_OF_SYNC: 101,
  APPLICATION_HEALTHY: 200,
  PIPED_STARTED: 300,
  PIPED_STOPPED: 301,
  STAGE_STARTED: 400,
  STAGE_SKIPPED: 401,
  STAGE_SUCCEEDED: 402,
  STAGE_FAILED: 403,
  STAGE_CANCELLED: 404,
} as const;

/** A notification event name. */
export type NotificationEventName = keyof typeof NOTIFICATION_EVENTS;

/** PipeCD's event groups: the hundreds of the event number. */
export const NOTIFICATION_GROUPS = [
  "DEPLOYMENT",
  "APPLICATION_SYNC",
  "APPLICATION_HEALTH",
  "PIPED",
  "STAGE",
] as const;

/** A notification group. */
export type NotificationGroup = (typeof NOTIFICATION_GROUPS)[number];

/** The group of an event (PipeCD: by its number's range). */
export function groupOf(event: NotificationEventName): NotificationGroup {
  return NOTIFICATION_GROUPS[Math.floor(NOTIFICATION_EVENTS[event] / 100)]!;
}

/** `notifications.routes[]`: which events go to which receiver. */
export interface NotificationRoute {
  readonly name: string;
  readonly receiver: string;
  readonly events: readonly NotificationEventName[];
  readonly ignoreEvents: readonly NotificationEventName[];
  readonly groups: readonly NotificationGroup[];
  readonly ignoreGroups: readonly NotificationGroup[];
  readonly apps: readonly string[];
  readonly ignoreApps: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly ignoreLabels: Readonly<Record<string, string>>;
}

/** A Slack receiver: an incoming-webhook URL, or an OAuth token and a channel. */
export interface SlackReceiver {
  readonly hookURL: string;
  /** Inline token (`oauthToken`, or decoded `oauthTokenData`); never logged. */
  readonly oauthToken: string;
  /** `oauthTokenFile`, read when the piped starts (PipeCD reads it first). */
  readonly oauthTokenFile: string;
  readonly channelID: string;
  /** User ids, `@` stripped. */
  readonly mentionedAccounts: readonly string[];
  /** `<!subteam^ID>` each. */
  readonly mentionedGroups: readonly string[];
}

/** A generic webhook receiver. */
export interface WebhookReceiver {
  readonly url: string;
  /** The header that carries the signature (default `PipeCD-Signature`). */
  readonly signatureKey: string;
  readonly signatureValue: string;
  /** `signatureValueFile`, read when the piped starts (one trailing newline dropped). */
  readonly signatureValueFile: string;
}

/** `notifications.receivers[]`. */
export interface NotificationReceiver {
  readonly name: string;
  readonly slack?: SlackReceiver;
  readonly webhook?: WebhookReceiver;
}

/** The piped's `notifications`. */
export interface NotificationsConfig {
  readonly routes: readonly NotificationRoute[];
  readonly receivers: readonly NotificationReceiver[];
}

/** `notification.mentions[]` of an app config. */
export interface NotificationMention {
  /** An event name without `EVENT_`, or `*`. */
  readonly event: NotificationEventName | "*";
  readonly slackUsers: readonly string[];
  readonly slackGroups: readonly string[];
}

const isEvent = (s: string): s is NotificationEventName => s in NOTIFICATION_EVENTS;
const isGroup = (s: string): s is NotificationGroup =>
  (NOTIFICATION_GROUPS as readonly string[]).includes(s);

/** A list of event names; `EVENT_` prefixes are accepted and dropped. Unknown names refused. */
function eventList(r: FieldReader, p: FieldPath, v: unknown): NotificationEventName[] {
  return r.stringList(p, v).flatMap((s, i) => {
    const name = s.replace(/^EVENT_/, "");
    if (isEvent(name)) return [name];
    r.add([...p, i], `unknown event ${JSON.stringify(s)} (e.g. DEPLOYMENT_TRIGGERED)`);
    return [];
  });
}

function groupList(r: FieldReader, p: FieldPath, v: unknown): NotificationGroup[] {
  return r.stringList(p, v).flatMap((s, i) => {
    const name = s.replace(/^EVENT_/, "");
    if (isGroup(name)) return [name];
    r.add(
      [...p, i],
      `unknown group ${JSON.stringify(s)} (one of ${NOTIFICATION_GROUPS.join(", ")})`,
    );
    return [];
  });
}

/**
 * PipeCD's piped `notifications` (features §5.1): routes and receivers. A route must name a
 * receiver that exists; a Slack receiver has `hookURL`, or `channelID` with exactly one of
 * `oauthToken`, `oauthTokenData` (base64) and `oauthTokenFile`; a webhook receiver has `url` and
 * at most one of `signatureValue` and `signatureValueFile`.
 */
export function readNotifications(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  baseDir: string,
): NotificationsConfig | undefined {
  const m = r.map(p, v);
  if (!m) return undefined;
  r.keys(p, m, ["routes", "receivers"]);
  const receivers: NotificationReceiver[] = r
    .list([...p, "receivers"], m.receivers)
    .map((item, i) => readReceiver(r, [...p, "receivers", i], item, baseDir));
  const names = new Set(receivers.map((x) => x.name));
  const routes: NotificationRoute[] = r.list([...p, "routes"], m.routes).map((item, i) => {
    const rp = [...p, "routes", i];
    const rm = r.map(rp, item) ?? {};
    r.keys(rp, rm, [
      "name",
      "receiver",
      "events",
      "ignoreEvents",
      "groups",
      "ignoreGroups",
      "apps",
      "ignoreApps",
      "labels",
      "ignoreLabels",
    ]);
    const receiver = r.string([...rp, "receiver"], rm.receiver);
    if (!names.has(receiver))
      r.add(
        [...rp, "receiver"],
        `names no receiver (receivers: ${[...names].join(", ") || "none"})`,
      );
    return {
      name: r.string([...rp, "name"], rm.name),
      receiver,
      events: eventList(r, [...rp, "events"], rm.events),
      ignoreEvents: eventList(r, [...rp, "ignoreEvents"], rm.ignoreEvents),
      groups: groupList(r, [...rp, "groups"], rm.groups),
      ignoreGroups: groupList(r, [...rp, "ignoreGroups"], rm.ignoreGroups),
      apps: r.stringList([...rp, "apps"], rm.apps),
      ignoreApps: r.stringList([...rp, "ignoreApps"], rm.ignoreApps),
      labels: r.stringMap([...rp, "labels"], rm.labels),
      ignoreLabels: r.stringMap([...rp, "ignoreLabels"], rm.ignoreLabels),
    };
  });
  return { routes, receivers };
}

function readReceiver(
  r: FieldReader,
  p: FieldPath,
  v: unknown,
  baseDir: string,
): NotificationReceiver {
  const m = r.map(p, v) ?? {};
  r.keys(p, m, ["name", "slack", "webhook"]);
  const name = r.requiredString([...p, "name"], m.name);
  const out: { name: string; slack?: SlackReceiver; webhook?: WebhookReceiver } = { name };
  const sm = r.map([...p, "slack"], m.slack);
  if (sm) {
    const sp = [...p, "slack"];
    r.keys(sp, sm, [
      "hookURL",
      "oauthToken",
      "oauthTokenData",
      "oauthTokenFile",
      "channelID",
      "mentionedAccounts",
      "mentionedGroups",
    ]);
    const hookURL = r.string([...sp, "hookURL"], sm.hookURL);
    const token = r.string([...sp, "oauthToken"], sm.oauthToken);
    const tokenData = r.string([...sp, "oauthTokenData"], sm.oauthTokenData);
    const tokenFile = r.string([...sp, "oauthTokenFile"], sm.oauthTokenFile);
    const channelID = r.string([...sp, "channelID"], sm.channelID);
    const sources = [token, tokenData, tokenFile].filter(Boolean).length;
    if (hookURL) {
      if (sources || channelID)
        r.add(sp, "hookURL excludes oauthToken, oauthTokenData, oauthTokenFile and channelID");
      else if (!/^https?:\/\//.test(hookURL)) r.add([...sp, "hookURL"], "must be an http(s) URL");
    } else if (!channelID || sources !== 1)
      r.add(
        sp,
        "needs hookURL, or channelID with exactly one of oauthToken, oauthTokenData and oauthTokenFile",
      );
    out.slack = {
      hookURL,
      oauthToken: token || (tokenData ? Buffer.from(tokenData, "base64").toString("utf8") : ""),
      oauthTokenFile: tokenFile ? resolve(baseDir, tokenFile) : "",
      channelID,
      mentionedAccounts: r
        .stringList([...sp, "mentionedAccounts"], sm.mentionedAccounts)
        .map((a) => a.replace(/^@/, "")),
      mentionedGroups: r
        .stringList([...sp, "mentionedGroups"], sm.mentionedGroups)
        .map((g) => (g.includes("subteam^") ? g : `<!subteam^${g}>`)),
    };
  }
  const wm = r.map([...p, "webhook"], m.webhook);
  if (wm) {
    const wp = [...p, "webhook"];
    r.keys(wp, wm, ["url", "signatureKey", "signatureValue", "signatureValueFile"]);
    const url = r.requiredString([...wp, "url"], wm.url);
    if (url && !/^https?:\/\//.test(url)) r.add([...wp, "url"], "must be an http(s) URL");
    const value = r.string([...wp, "signatureValue"], wm.signatureValue);
    const file = r.string([...wp, "signatureValueFile"], wm.signatureValueFile);
    if (value && file) r.add(wp, "signatureValue and signatureValueFile exclude each other");
    out.webhook = {
      url,
      signatureKey: r.string([...wp, "signatureKey"], wm.signatureKey) || "PipeCD-Signature",
      signatureValue: value,
      signatureValueFile: file ? resolve(baseDir, file) : "",
    };
  }
  return out;
}

/** An app config's `notification.mentions` (`slack` is PipeCD's deprecated `slackusers`). */
export function readMentions(r: FieldReader, p: FieldPath, v: unknown): NotificationMention[] {
  const m = r.map(p, v);
  if (!m) return [];
  r.keys(p, m, ["mentions"]);
  return r.list([...p, "mentions"], m.mentions).flatMap((item, i) => {
    const mp = [...p, "mentions", i];
    const mm = r.map(mp, item) ?? {};
    r.keys(mp, mm, ["event", "slack", "slackusers", "slackgroups", "email"]);
    if (mm.email !== undefined)
      r.warn([...mp, "email"], "is ignored, as in PipeCD (no email receiver)");
    const raw = r.requiredString([...mp, "event"], mm.event);
    const event = raw.replace(/^EVENT_/, "");
    if (event !== "*" && !isEvent(event)) {
      r.add([...mp, "event"], `unknown event ${JSON.stringify(raw)} (or "*")`);
      return [];
    }
    return [
      {
        event,
        slackUsers: [
          ...r.stringList([...mp, "slackusers"], mm.slackusers),
          ...r.stringList([...mp, "slack"], mm.slack),
        ],
        slackGroups: r.stringList([...mp, "slackgroups"], mm.slackgroups),
      },
    ];
  });
}
