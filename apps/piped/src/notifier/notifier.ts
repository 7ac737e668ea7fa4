import { readFile } from "node:fs/promises";
import type {
  NotificationReceiver,
  NotificationRoute,
  NotificationsConfig,
} from "@pipecd-ts/config";
import {
  InvalidArgumentError,
  backoffDelay,
  sleep,
  type Clock,
  type Logger,
  type Service,
} from "@pipecd-ts/runtime";
import type { NotificationEvent } from "./event.js";
import { untilWoken } from "../livestate/work-set.js";
import { routeMatches } from "./matcher.js";
import { buildSlackMessage } from "./slack.js";
import { webhookBody } from "./webhook.js";

/** Messages one route may hold waiting (the oldest are dropped beyond, with a warning). */
const QUEUE_LIMIT = 1_000;
/** Attempts per message: the first and 5 retries (0.5 s, 1 s, 2 s, 4 s, 8 s, jittered). */
const MAX_ATTEMPTS = 6;
/** Each attempt's deadline (PipeCD: 5 s). */
const ATTEMPT_TIMEOUT_MS = 5_000;
/** How long the stop waits for queued messages (PipeCD: 10 s). */
const DRAIN_MS = 10_000;

/** What was delivered, per receiver (the piped's metrics). */
export interface DeliveryStats {
  sent: number;
  retried: number;
  failed: number;
  dropped: number;
}

/** Options of {@link Notifier}. */
export interface NotifierOptions {
  config: NotificationsConfig | undefined;
  /** The web UI's address, for links (the piped config's `webAddress`). */
  webURL: string;
  /** Who this piped is (PIPED_STARTED / STOPPED). */
  piped: { id: string; name: string; version: string; projectId: string };
  /** Slack's Web API base (tests point it at a loopback server). Default https://slack.com/api. */
  slackApiURL?: string;
  fetch?: typeof fetch;
  clock: Clock;
  logger: Logger;
}

/** A message for one receiver: where it goes and how. */
interface Delivery {
  what: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Slack's Web API answers 200 with {ok:false} on errors. */
  slackApi: boolean;
}

/**
 * PipeCD's notifier (features §5): every event is matched against each route, and a match
 * queues the receiver's message on the route's own sender (two routes to one receiver send
 * twice, as in PipeCD). Better than PipeCD: `notify` never blocks the caller (a full queue drops
 * its oldest message with a warning), and a failed delivery (network error, timeout, 429, 5xx)
 * is retried with a growing, jittered delay up to 6 attempts, in order; failures are logged and
 * counted per receiver.
 */
export class Notifier implements Service {
  readonly name = "notifier";
  private readonly senders: {
    route: NotificationRoute;
    receiver: NotificationReceiver;
    queue: Delivery[];
    /** A message is being delivered (taken off the queue). */
    busy?: boolean;
    wake?: () => void;
  }[] = [];
  /** Per receiver name. */
  readonly stats = new Map<string, DeliveryStats>();
  private slackToken = new Map<string, string>();
  private webhookValue = new Map<string, string>();
  private accepting = true;

  constructor(private readonly o: NotifierOptions) {
    const receivers = new Map((o.config?.receivers ?? []).map((r) => [r.name, r]));
    for (const route of o.config?.routes ?? []) {
      const receiver = receivers.get(route.receiver);
      if (receiver && (receiver.slack || receiver.webhook))
        this.senders.push({ route, receiver, queue: [] });
    }
    for (const r of receivers.values())
      this.stats.set(r.name, { sent: 0, retried: 0, failed: 0, dropped: 0 });
  }

  /** Reads the receivers' token and signature files (a failure stops the start-up). */
  async init(): Promise<void> {
    for (const { receiver: r } of this.senders) {
      if (r.slack?.oauthTokenFile)
        this.slackToken.set(
          r.name,
          await readSecret(r.slack.oauthTokenFile, `receiver ${r.name}: oauthTokenFile`, false),
        );
      if (r.webhook?.signatureValueFile)
        this.webhookValue.set(
          r.name,
          await readSecret(
            r.webhook.signatureValueFile,
            `receiver ${r.name}: signatureValueFile`,
            true,
          ),
        );
    }
  }

  /** Queues `e` for every route it matches; returns at once. */
  notify(e: NotificationEvent): void {
    if (!this.accepting) return;
    for (const s of this.senders) {
      if (!routeMatches(s.route, e)) continue;
      const d = this.delivery(s.receiver, e);
      if (!d) continue;
      if (s.queue.length >= QUEUE_LIMIT) {
        s.queue.shift();
        this.stat(s.receiver.name).dropped++;
        this.o.logger.warn(
          { receiver: s.receiver.name },
          "notification queue full: dropped the oldest message",
        );
      }
      s.queue.push(d);
      s.wake?.();
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    this.notify({ type: "PIPED_STARTED", piped: this.o.piped });
    const stop = new AbortController();
    const loops = this.senders.map((s) => this.sendLoop(s, stop.signal));
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    this.notify({ type: "PIPED_STOPPED", piped: this.o.piped });
    this.accepting = false;
    // Deliver what is queued (PIPED_STOPPED among it) for a while, then stop.
    const deadline = Date.now() + DRAIN_MS;
    while (this.senders.some((s) => s.queue.length || s.busy) && Date.now() < deadline)
      await sleep(50);
    stop.abort();
    for (const s of this.senders) s.wake?.();
    await Promise.all(loops);
  }

  private stat(receiver: string): DeliveryStats {
    let s = this.stats.get(receiver);
    if (!s) this.stats.set(receiver, (s = { sent: 0, retried: 0, failed: 0, dropped: 0 }));
    return s;
  }

  private delivery(r: NotificationReceiver, e: NotificationEvent): Delivery | undefined {
    if (r.slack) {
      const msg = buildSlackMessage(e, {
        webURL: this.o.webURL,
        receiver: r.slack,
        approvals: true,
        now: this.o.clock.now(),
      });
      if (!msg) return undefined;
      if (r.slack.hookURL)
        return {
          what: e.type,
          url: r.slack.hookURL,
          headers: { "content-type": "application/json" },
          body: JSON.stringify(msg),
          slackApi: false,
        };
      const token = this.slackToken.get(r.name) ?? r.slack.oauthToken;
      return {
        what: e.type,
        url: `${(this.o.slackApiURL ?? "https://slack.com/api").replace(/\/+$/, "")}/chat.postMessage`,
        headers: {
          "content-type": "application/json; charset=utf-8",
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ channel: r.slack.channelID, ...msg }),
        slackApi: true,
      };
    }
    if (r.webhook) {
      const value = this.webhookValue.get(r.name) ?? r.webhook.signatureValue;
      return {
        what: e.type,
        url: r.webhook.url,
        headers: { "content-type": "application/json", [r.webhook.signatureKey]: value },
        body: webhookBody(e),
        slackApi: false,
      };
    }
    return undefined;
  }

  private async sendLoop(s: (typeof this.senders)[number], stop: AbortSignal): Promise<void> {
    const log = this.o.logger.child({ receiver: s.receiver.name, route: s.route.name });
    while (!stop.aborted) {
      // Taken off the queue first: an overflow then drops a message still waiting, never the
      // one being delivered.
      const d = s.queue.shift();
      if (!d) {
        await untilWoken(stop, (wake) => (s.wake = wake));
        s.wake = undefined;
        continue;
      }
      s.busy = true;
      await this.deliver(d, s.receiver.name, log, stop);
      s.busy = false;
    }
  }

  /** Sends one message, retrying what may pass later; never throws. */
  private async deliver(
    d: Delivery,
    receiver: string,
    log: Logger,
    stop: AbortSignal,
  ): Promise<void> {
    const stat = this.stat(receiver);
    const f = this.o.fetch ?? fetch;
    for (let attempt = 1; ; attempt++) {
      let retryable: boolean;
      let why: string;
      let retryAfterMs = 0;
      try {
        const res = await f(d.url, {
          method: "POST",
          headers: d.headers,
          body: d.body,
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        const text = await res.text().catch(() => "");
        if (res.ok && d.slackApi) {
          const body = safeJson(text);
          if (body?.ok === true) return void stat.sent++;
          why = `Slack answered ${typeof body?.error === "string" ? body.error : "not ok"}`;
          retryable = body?.error === "ratelimited";
        } else if (res.ok) return void stat.sent++;
        else {
          why = `HTTP ${res.status}`;
          retryable = res.status === 429 || res.status >= 500;
          retryAfterMs = Math.min(30_000, Number(res.headers.get("retry-after") ?? 0) * 1000 || 0);
        }
      } catch (err) {
        why =
          (err as Error).name === "TimeoutError"
            ? `timed out after ${ATTEMPT_TIMEOUT_MS} ms`
            : (err as Error).message;
        retryable = true;
      }
      if (!retryable || attempt >= MAX_ATTEMPTS || stop.aborted) {
        stat.failed++;
        log.warn(
          { event: d.what, attempt, err: why },
          "could not deliver a notification; giving up",
        );
        return;
      }
      stat.retried++;
      const delay = Math.max(
        retryAfterMs,
        backoffDelay(attempt, { initialDelayMs: 500, maxDelayMs: 8_000 }),
      );
      log.warn(
        { event: d.what, attempt, err: why, retryInMs: delay },
        "could not deliver a notification; retrying",
      );
      await sleep(delay, stop).catch(() => undefined);
    }
  }
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A receiver's secret file: PipeCD trims the webhook value's one trailing newline, not the token. */
async function readSecret(file: string, what: string, trimNewline: boolean): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return trimNewline ? text.replace(/\n$/, "") : text;
  } catch (err) {
    throw new InvalidArgumentError(
      `notifications ${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
