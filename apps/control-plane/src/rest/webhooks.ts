import type { FastifyInstance } from "fastify";
import type { Datastore } from "@pipecd-ts/datastore";
import { NotFoundError, type Logger } from "@pipecd-ts/runtime";
import type { Hub } from "../hub.js";
import { normalizeRemote, readGitWebhook } from "./git-webhook.js";

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
}

/**
 * Endpoints called by other systems, authenticated by their signatures rather than our keys,
 * over the raw body (a signature covers the exact bytes):
 * - `POST /api/v1/webhooks/git`: a push to a repository tells every enabled piped that deploys
 *   from it (same remote, same branch) to fetch now, so a commit becomes a deployment without
 *   waiting for `syncInterval`. Answers 202 with the pipeds told.
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
  });
}
