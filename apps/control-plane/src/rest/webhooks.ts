import type { FastifyInstance } from "fastify";
import type { Datastore } from "@pipecd-ts/datastore";
import type { ControlPlaneUser } from "@pipecd-ts/config";
import { Role } from "@pipecd-ts/proto";
import {
  AlreadyExistsError,
  LruMap,
  NotFoundError,
  PermissionDeniedError,
  type Clock,
  type Logger,
} from "@pipecd-ts/runtime";
import type { Principal } from "../auth/principal.js";
import type { Hub } from "../hub.js";
import { normalizeRemote, readGitWebhook } from "./git-webhook.js";
import { answeredMessage, readSlackClick, type SlackApprovalClick } from "./slack-webhook.js";

/** A webhook body at most (GitHub caps push payloads at 25 MB; pushes are small in practice). */
const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024;

/** What the webhook endpoints need. */
export interface WebhookDeps {
  ds: Pick<Datastore, "pipeds">;
  hub: Pick<Hub, "repositoryPushed">;
  projectId: string;
  logger: Logger;
  /** The Git webhook secret (spec.webhooks.git); undefined: the endpoint answers 404. */
  gitSecret?: string;
  /** spec.slack with its signing secret read; undefined: the Slack endpoint answers 404. */
  slack?: { signingSecret: string; users: Readonly<Record<string, string>> };
  /** The control plane's users (a Slack user acts as one of them, with their role). */
  users: readonly ControlPlaneUser[];
  /** Approves or rejects a stage as `who` (the REST handlers: approvers, quorum, audit log). */
  stageAction(
    action: "approve" | "reject",
    who: Principal,
    deploymentId: string,
    stageId: string,
    ip: string,
  ): Promise<void>;
  clock: Clock;
  fetch?: typeof fetch;
}

const ROLES: Record<ControlPlaneUser["role"], Role> = {
  viewer: Role.VIEWER,
  editor: Role.EDITOR,
  admin: Role.ADMIN,
};

/**
 * Endpoints called by other systems, authenticated by their signatures rather than our keys,
 * over the raw body (a signature covers the exact bytes):
 * - `POST /api/v1/webhooks/git`: a push to a repository tells every enabled piped that deploys
 *   from it (same remote, same branch) to fetch now, so a commit becomes a deployment without
 *   waiting for `syncInterval`. Answers 202 with the pipeds told.
 * - `POST /api/v1/webhooks/slack`: a click on a WAIT_APPROVAL message's Approve or Reject button
 *   (Slack's interactivity request URL). The clicking Slack user acts as the user of ours that
 *   `spec.slack.users` maps them to, under the same rules as the web UI (approvers, quorum, one
 *   vote per user, the audit log); the message is then updated to say who acted.
 */
export function registerWebhooks(app: FastifyInstance, d: WebhookDeps): void {
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: WEBHOOK_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    child.post("/api/v1/webhooks/git", async (req, reply) => {
      if (d.gitSecret === undefined)
        throw new NotFoundError("Git webhooks are not configured (spec.webhooks.git)");
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const r = readGitWebhook(req.headers, body, d.gitSecret);
      if (r.kind === "ignored") return reply.code(202).send({ notified: [], ignored: r.reason });
      const urls = new Set(r.push.urls.map(normalizeRemote));
      const notified: { pipedId: string; repositoryId: string }[] = [];
      for (const p of await d.ds.pipeds.list(d.projectId)) {
        if (p.disabled) continue;
        for (const repo of p.repositories)
          if (repo.branch === r.push.branch && urls.has(normalizeRemote(repo.remote))) {
            await d.hub.repositoryPushed(p.id, {
              repositoryId: repo.id,
              branch: r.push.branch,
              commit: r.push.commit,
            });
            notified.push({ pipedId: p.id, repositoryId: repo.id });
          }
      }
      d.logger.info(
        {
          provider: r.provider,
          branch: r.push.branch,
          commit: r.push.commit,
          notified: notified.length,
        },
        "git push webhook",
      );
      return reply.code(202).send({ notified });
    });

    // Replays are refused: a signature seen within Slack's 5-minute window is not acted on twice
    // here, and a vote replayed to another replica is refused by the one-vote-per-user rule.
    const seen = new LruMap<string, true>(10_000);
    child.post("/api/v1/webhooks/slack", async (req, reply) => {
      if (!d.slack) throw new NotFoundError("Slack approvals are not configured (spec.slack)");
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const click = readSlackClick(
        req.headers,
        body,
        d.slack.signingSecret,
        Math.floor(d.clock.now().getTime() / 1000),
      );
      if (seen.get(click.signature))
        throw new AlreadyExistsError("this Slack request was already handled: a replay is refused");
      seen.set(click.signature, true);
      const log = d.logger.child({
        slackUser: click.slackUserId,
        deploymentId: click.deploymentId,
      });
      try {
        const username = d.slack.users[click.slackUserId];
        const user = d.users.find((u) => u.username === username);
        if (!user)
          throw new PermissionDeniedError(
            `Slack user ${click.slackUserId} is not mapped to a user of this control plane (spec.slack.users)`,
          );
        if (ROLES[user.role] < Role.EDITOR)
          throw new PermissionDeniedError(`user ${user.username} is a viewer and cannot approve`);
        await d.stageAction(
          click.action,
          { username: user.username, role: ROLES[user.role] },
          click.deploymentId,
          click.stageId,
          req.ip,
        );
        const done = `${click.action === "approve" ? "Approved" : "Rejected"} by ${user.username} (Slack <@${click.slackUserId}>)`;
        log.info({ user: user.username, action: click.action }, "stage action from Slack");
        respond(click, answeredMessage(click, done), log);
        return reply.code(200).send({ ok: true, text: done });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // The clicker sees why, only they (ephemeral); the message keeps its buttons.
        respond(
          click,
          {
            response_type: "ephemeral",
            replace_original: false,
            text: `Could not ${click.action}: ${message}`,
          },
          log,
        );
        throw err;
      }
    });
  });

  /** Posts to the click's response_url in the background (5 s), logging a failure. */
  function respond(click: SlackApprovalClick, message: Record<string, unknown>, log: Logger): void {
    if (!/^https?:\/\//.test(click.responseUrl)) return;
    (d.fetch ?? fetch)(click.responseUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(5_000),
    }).then(
      (res) => {
        if (!res.ok) log.warn({ status: res.status }, "Slack did not take the message update");
      },
      (err: unknown) =>
        log.warn({ err: (err as Error).message }, "could not update the Slack message"),
    );
  }
}
