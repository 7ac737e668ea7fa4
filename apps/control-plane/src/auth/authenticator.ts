import { createHash } from "node:crypto";
import { Role } from "@pipecd-ts/proto";
import type { Datastore } from "@pipecd-ts/datastore";
import type { ControlPlaneConfig } from "@pipecd-ts/config";
import { parseRole } from "@pipecd-ts/model";
import {
  AppError,
  PermissionDeniedError,
  UnauthenticatedError,
  type Clock,
  type Logger,
} from "@pipecd-ts/runtime";
import { generateSecret, hashSecret, verifyPassword, verifySecret } from "./secrets.js";
import { parseApiKey, parsePipedToken, type PipedPrincipal, type Principal } from "./principal.js";

/** Name of the web session cookie. */
export const SESSION_COOKIE = "pipecd_session";

/** Owner of the first admin key (server.ts bootstrap) and of the keys it creates. */
export const BOOTSTRAP_ADMIN = "admin";

const PIPED_CACHE_TTL_MS = 10_000;
/** Failed sign-ins allowed per username and per address in {@link LOGIN_WINDOW_MS}. */
const LOGIN_MAX_FAILURES = 10;
const LOGIN_WINDOW_MS = 5 * 60_000;
const LAST_USED_EVERY_MS = 60_000;

/** Options of {@link Authenticator}. */
export interface AuthenticatorOptions {
  ds: Pick<Datastore, "pipeds" | "apiKeys" | "sessions">;
  config: ControlPlaneConfig;
  clock: Clock;
  logger: Logger;
}

/**
 * Authenticates pipeds (PIPED-TOKEN), API keys (Bearer) and web sessions (cookie). Verified piped
 * tokens are cached for 10 s so the report hot path pays neither a hash nor a read; disabling a
 * piped or rotating its keys on this replica invalidates the cache at once.
 */
export class Authenticator {
  private readonly pipedCache = new Map<string, { principal: PipedPrincipal; until: number }>();
  private readonly apiKeyLastUsed = new Map<string, number>();
  /** Failed sign-ins per `user:<name>` and `ip:<address>` within the current window. */
  private readonly loginFailures = new Map<string, { count: number; until: number }>();

  constructor(private readonly opts: AuthenticatorOptions) {}

  /** Authenticates a piped from its `authorization` metadata value. */
  async piped(header: string | undefined): Promise<PipedPrincipal> {
    const tok = parsePipedToken(header);
    if (!tok) throw new UnauthenticatedError("missing or malformed PIPED-TOKEN authorization");
    const cacheKey = createHash("sha256")
      .update(header ?? "")
      .digest("base64");
    const now = this.opts.clock.now().getTime();
    const hit = this.pipedCache.get(cacheKey);
    if (hit && hit.until > now) return hit.principal;
    let auth;
    try {
      auth = await this.opts.ds.pipeds.getAuth(tok.pipedId);
    } catch (err) {
      if (err instanceof AppError && err.code === "NOT_FOUND")
        throw new UnauthenticatedError("invalid piped token");
      throw err;
    }
    const { piped, keyHashes } = auth;
    if (piped.projectId !== tok.projectId || !keyHashes.some((k) => verifySecret(tok.key, k.hash)))
      throw new UnauthenticatedError("invalid piped token");
    if (piped.disabled) throw new PermissionDeniedError(`piped ${piped.id} is disabled`);
    const principal = { projectId: piped.projectId, pipedId: piped.id };
    if (this.pipedCache.size > 10_000) this.pipedCache.clear();
    this.pipedCache.set(cacheKey, { principal, until: now + PIPED_CACHE_TTL_MS });
    return principal;
  }

  /** Forgets cached tokens of a piped (after disable or key changes). */
  invalidatePiped(pipedId: string): void {
    for (const [k, v] of this.pipedCache)
      if (v.principal.pipedId === pipedId) this.pipedCache.delete(k);
  }

  /**
   * Authenticates a REST caller from `Authorization: Bearer <apiKey>` or the session cookie.
   * Throws Unauthenticated when neither is valid.
   */
  async rest(
    authorization: string | undefined,
    sessionToken: string | undefined,
  ): Promise<Principal> {
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
      const parsed = m?.[1] ? parseApiKey(m[1]) : undefined;
      if (!parsed || !m?.[1])
        throw new UnauthenticatedError(
          "malformed Authorization header; expected 'Bearer <apiKey>'",
        );
      let auth;
      try {
        auth = await this.opts.ds.apiKeys.getAuth(parsed.id);
      } catch (err) {
        if (err instanceof AppError && err.code === "NOT_FOUND")
          throw new UnauthenticatedError("invalid API key");
        throw err;
      }
      if (!verifySecret(m[1], auth.hash)) throw new UnauthenticatedError("invalid API key");
      if (auth.apiKey.disabled) throw new UnauthenticatedError("API key is disabled");
      if (auth.apiKey.projectId !== this.opts.config.projectId)
        throw new UnauthenticatedError("invalid API key");
      // A key acts as its owner and never above the owner's role *now*: removing a user from
      // the config, or demoting them, takes effect on their keys at once.
      const ownerRole = this.currentRole(auth.apiKey.creator);
      if (ownerRole === undefined)
        throw new UnauthenticatedError(
          `API key owner ${auth.apiKey.creator} is no longer a user of this control plane`,
        );
      this.touchApiKey(parsed.id);
      return {
        username: auth.apiKey.creator,
        role: Math.min(auth.apiKey.role, ownerRole) as Role,
        apiKeyId: auth.apiKey.id,
      };
    }
    if (sessionToken) {
      const s = await this.opts.ds.sessions.get(hashSecret(sessionToken), this.opts.clock.now());
      if (!s) throw new UnauthenticatedError("session expired or invalid; sign in again");
      // The role comes from the config as it is now, not as it was at sign-in.
      const role = this.currentRole(s.username);
      if (role === undefined) {
        await this.opts.ds.sessions.delete(s.tokenHash).catch(() => undefined);
        throw new UnauthenticatedError("this user no longer exists; sign in again");
      }
      return { username: s.username, role, sessionHash: s.tokenHash };
    }
    throw new UnauthenticatedError(
      "authentication required: send 'Authorization: Bearer <apiKey>' or sign in",
    );
  }

  /**
   * A user's role as the config says now: config users by name; the bootstrap identity "admin"
   * (owner of the first admin key) when no config user takes that name; undefined for anyone else.
   */
  private currentRole(username: string): Role | undefined {
    const user = this.opts.config.users.find((u) => u.username === username);
    if (user) return parseRole(user.role) ?? Role.VIEWER;
    return username === BOOTSTRAP_ADMIN ? Role.ADMIN : undefined;
  }

  /** Checks a username/password from the config and opens a session; returns its token. */
  async login(
    username: string,
    password: string,
    ip = "",
  ): Promise<{ token: string; principal: Principal; expiresAt: Date }> {
    // Guessing is throttled per username and per client address, checked before the (costly)
    // scrypt so that a flood of attempts cannot starve the API either.
    const at = this.opts.clock.now().getTime();
    const keys = [`user:${username}`, `ip:${ip}`];
    for (const k of keys) {
      const f = this.loginFailures.get(k);
      if (f && f.until > at && f.count >= LOGIN_MAX_FAILURES)
        throw new AppError(
          "RESOURCE_EXHAUSTED",
          `too many failed sign-ins; try again in ${Math.ceil((f.until - at) / 1000)} s`,
        );
    }
    const user = this.opts.config.users.find((u) => u.username === username);
    // Verify against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) {
      if (this.loginFailures.size > 10_000) this.loginFailures.clear();
      for (const k of keys) {
        const f = this.loginFailures.get(k);
        this.loginFailures.set(
          k,
          f && f.until > at
            ? { count: f.count + 1, until: f.until }
            : { count: 1, until: at + LOGIN_WINDOW_MS },
        );
      }
      this.opts.logger.warn({ username, ip }, "failed sign-in");
      throw new UnauthenticatedError("wrong username or password");
    }
    this.loginFailures.delete(`user:${username}`);
    const token = generateSecret();
    const now = this.opts.clock.now();
    const expiresAt = new Date(now.getTime() + this.opts.config.sessionTtlMs);
    const role = parseRole(user.role) ?? Role.VIEWER;
    await this.opts.ds.sessions.create({
      tokenHash: hashSecret(token),
      username,
      role,
      createdAt: now,
      expiresAt,
    });
    return { token, principal: { username, role }, expiresAt };
  }

  /** Ends a session. */
  async logout(sessionHash: string): Promise<void> {
    await this.opts.ds.sessions.delete(sessionHash);
  }

  private touchApiKey(id: string): void {
    const now = this.opts.clock.now().getTime();
    if ((this.apiKeyLastUsed.get(id) ?? 0) + LAST_USED_EVERY_MS > now) return;
    this.apiKeyLastUsed.set(id, now);
    this.opts.ds.apiKeys
      .touchLastUsed(id, new Date(now))
      .catch((err: unknown) =>
        this.opts.logger.warn({ err, apiKeyId: id }, "could not record API key use"),
      );
  }
}

// scrypt of a random password; only used to spend the same time on unknown users.
const DUMMY_HASH =
  "scrypt$16384$8$1$q2m0cY7Xo2b7kS9cYh1V0g$4m2cX0b1qg6q0m9pTq0cY4l0d1t3kVb6cYq2m0cY7Xo";
