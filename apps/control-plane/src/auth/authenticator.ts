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
const LAST_USED_EVERY_MS = 60_000;

/**
 * Sign-in throttling (issue 13). Failures are counted per (username, address), in the datastore
 * so every replica sees them, and forgotten after {@link LOGIN_WINDOW_MS}. The first
 * {@link LOGIN_FREE_FAILURES} cost nothing; from then on each failure blocks that pair for twice
 * as long as the one before (1 s, 2 s, 4 s, … at most {@link LOGIN_MAX_BLOCK_MS}). An attacker
 * guessing a user's password is slowed to a crawl, but the user signs in from their own address
 * as always: nobody can lock a user out, and one address cannot lock out everyone behind it. A
 * username or address with very many failures across pairs is slowed down further (every attempt
 * waits {@link LOGIN_SLOWDOWN_MS}), never refused.
 */
const LOGIN_WINDOW_MS = 15 * 60_000;
const LOGIN_FREE_FAILURES = 5;
const LOGIN_MAX_BLOCK_MS = 15 * 60_000;
const LOGIN_SLOWDOWN_AFTER = { username: 50, address: 200 };
const LOGIN_SLOWDOWN_MS = 1_000;

/** How long a pair is blocked after its `failures`-th failure in the window. */
export function loginBlockMs(failures: number): number {
  return failures < LOGIN_FREE_FAILURES
    ? 0
    : Math.min(LOGIN_MAX_BLOCK_MS, 1000 * 2 ** (failures - LOGIN_FREE_FAILURES));
}

/** Options of {@link Authenticator}. */
export interface AuthenticatorOptions {
  ds: Pick<Datastore, "pipeds" | "apiKeys" | "sessions" | "loginFailures">;
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
  private failuresSinceCleanup = 0;

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
    // Checked before the (costly) scrypt, so a flood of guesses cannot starve the API either.
    const { loginFailures } = this.opts.ds;
    const now0 = this.opts.clock.now();
    const since = new Date(now0.getTime() - LOGIN_WINDOW_MS);
    const pair = await loginFailures.get(username, ip, since);
    if (pair.blockedUntil && pair.blockedUntil > now0)
      throw new AppError(
        "RESOURCE_EXHAUSTED",
        `too many failed sign-ins of ${username} from this address; try again in ${Math.ceil((pair.blockedUntil.getTime() - now0.getTime()) / 1000)} s`,
      );
    const [byUser, byAddress] = await Promise.all([
      loginFailures.count({ username }, since),
      loginFailures.count({ address: ip }, since),
    ]);
    if (byUser > LOGIN_SLOWDOWN_AFTER.username || byAddress > LOGIN_SLOWDOWN_AFTER.address)
      await new Promise((r) => setTimeout(r, LOGIN_SLOWDOWN_MS));
    const user = this.opts.config.users.find((u) => u.username === username);
    // Verify against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) {
      const at = this.opts.clock.now();
      const state = await loginFailures.recordFailure(username, ip, at, since, loginBlockMs);
      if (++this.failuresSinceCleanup >= 100) {
        this.failuresSinceCleanup = 0;
        loginFailures
          .deleteOlder(new Date(at.getTime() - 4 * LOGIN_WINDOW_MS))
          .catch((err: unknown) =>
            this.opts.logger.warn({ err }, "could not delete old sign-in failures"),
          );
      }
      this.opts.logger.warn({ username, ip, failures: state.failures }, "failed sign-in");
      throw new UnauthenticatedError("wrong username or password");
    }
    if (pair.failures > 0) await loginFailures.clear(username, ip);
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
