import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { InvalidArgumentError, UnauthenticatedError } from "@pipecd-ts/runtime";

/** What a push webhook says: the pushed repository (every URL it gave), branch and commit. */
export interface GitPush {
  /** The repository's URLs as the payload names them (clone, SSH, web). */
  urls: string[];
  branch: string;
  commit: string;
}

/** How a webhook request was read. */
export type GitWebhookRequest =
  | { kind: "push"; provider: "github" | "gitlab"; push: GitPush }
  /** Not a push (GitHub's ping, a tag, a branch deletion): answered, nothing to do. */
  | { kind: "ignored"; provider: "github" | "gitlab"; reason: string };

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Constant-time string equality (lengths are not secret). */
function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Verifies and reads a Git host's push webhook: GitHub (and Gitea, Forgejo) sign the exact body
 * with HMAC-SHA256 in `X-Hub-Signature-256: sha256=<hex>`; GitLab sends the shared token in
 * `X-Gitlab-Token`. A missing or wrong signature is Unauthenticated, before the body is read.
 */
export function readGitWebhook(
  headers: IncomingHttpHeaders,
  body: Buffer,
  secret: string,
): GitWebhookRequest {
  const gitlabToken = header(headers, "x-gitlab-token");
  const signature = header(headers, "x-hub-signature-256");
  let provider: "github" | "gitlab";
  if (signature !== undefined) {
    const want = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    if (!safeEqual(signature, want))
      throw new UnauthenticatedError("X-Hub-Signature-256 does not match the body");
    provider = "github";
  } else if (gitlabToken !== undefined) {
    if (!safeEqual(gitlabToken, secret))
      throw new UnauthenticatedError("X-Gitlab-Token is not the configured secret");
    provider = "gitlab";
  } else
    throw new UnauthenticatedError(
      "a Git webhook must be signed: X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab)",
    );
  const event =
    provider === "github" ? header(headers, "x-github-event") : header(headers, "x-gitlab-event");
  const isPush = provider === "github" ? event === "push" : event === "Push Hook";
  if (!isPush) return { kind: "ignored", provider, reason: `event ${event ?? "(none)"}` };
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError("the webhook body is not JSON");
  }
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const obj = (v: unknown): Record<string, unknown> =>
    v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  const ref = str(p.ref);
  if (!ref.startsWith("refs/heads/"))
    return { kind: "ignored", provider, reason: `ref ${ref || "(none)"} is not a branch` };
  const commit = str(p.after) || str(p.checkout_sha);
  if (/^0+$/.test(commit)) return { kind: "ignored", provider, reason: "a branch deletion" };
  const repo = obj(p.repository);
  const project = obj(p.project);
  const urls = [
    repo.clone_url,
    repo.ssh_url,
    repo.git_url,
    repo.html_url,
    repo.url,
    repo.git_http_url,
    repo.git_ssh_url,
    repo.homepage,
    project.git_http_url,
    project.git_ssh_url,
    project.web_url,
  ]
    .map(str)
    .filter(Boolean);
  if (urls.length === 0) throw new InvalidArgumentError("the push names no repository URL");
  return {
    kind: "push",
    provider,
    push: { urls, branch: ref.slice("refs/heads/".length), commit },
  };
}

/**
 * A Git remote in one form for comparing: `host/owner/repo` for `https://user@host/owner/repo.git`,
 * `git@host:owner/repo.git`, `ssh://git@host:22/owner/repo`, `git://host/owner/repo`; a local path
 * (or `file://` URL) is its path. Case is kept in paths (hosts are lowered), `.git` and trailing slashes dropped.
 */
export function normalizeRemote(url: string): string {
  let u = url.trim().replace(/^file:\/\//, "");
  const scp = /^[^@/:]+@([^:/]+):(?!\/)(.*)$/.exec(u); // git@host:owner/repo
  if (scp) u = `${scp[1]!.toLowerCase()}/${scp[2]}`;
  else {
    const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:]+)(?::\d+)?(\/.*)?$/i.exec(u);
    if (m) u = `${m[1]!.toLowerCase()}${m[2] ?? ""}`;
  }
  u = u.replace(/\/+$/, "").replace(/\.git$/, "");
  // Hosted paths are case-insensitive (GitHub, GitLab); a local path is not.
  return u.startsWith("/") ? u : u.toLowerCase();
}
