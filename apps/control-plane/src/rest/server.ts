import type { ServerResponse } from "node:http";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Role } from "@pipecd-ts/proto";
import { roleAllows } from "@pipecd-ts/model";
import {
  Routes,
  buildOpenApiDocument,
  type Access,
  type OperationId,
  type RouteDef,
} from "@pipecd-ts/rest-api";
import { AppError, PermissionDeniedError, toAppError, type Logger } from "@pipecd-ts/runtime";
import type { ControlPlaneLimits } from "@pipecd-ts/config";
import { SESSION_COOKIE, type Authenticator } from "../auth/authenticator.js";
import type { Principal } from "../auth/principal.js";
import type { Hub } from "../hub.js";
import {
  ResumableEventStream,
  eventStreamSender,
  lastEventIdOf,
  type StreamStart,
} from "./event-stream.js";
import type { Metrics } from "../metrics.js";
import type { Handlers, HandlerContext } from "./handlers.js";
import { fastifySchema, installErrorHandling, installValidation, sendError } from "./http.js";

/** Options of {@link createRestServer}. */
export interface RestServerOptions {
  handlers: Handlers;
  auth: Authenticator;
  hub: Hub;
  metrics: Metrics;
  logger: Logger;
  version: string;
  /** Max JSON body size in bytes. */
  bodyLimit: number;
  /** Marks cookies Secure (TLS listener). */
  secureCookies: boolean;
  https?: { cert: Buffer; key: Buffer };
  /** Interval of SSE keep-alive comments. */
  sseKeepAliveMs: number;
  /** Event streams per caller and the unsent bytes one may queue (spec.limits). */
  limits: Pick<ControlPlaneLimits, "eventStreamsPerCaller" | "eventStreamBufferBytes">;
  /** Routes outside the route table (webhooks over raw bodies). */
  extraRoutes?: (app: FastifyInstance) => void;
}

const ROLE_OF: Record<Exclude<Access, "public">, Role> = {
  viewer: Role.VIEWER,
  editor: Role.EDITOR,
  admin: Role.ADMIN,
};

function cookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) {
      // Sessions we issue are URL-safe; a value that is not valid percent-encoding is no session.
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * CSRF defence for cookie-authenticated changes, on top of SameSite=Strict (which still lets a
 * sibling subdomain through): a browser says where a request comes from (`Sec-Fetch-Site`,
 * `Origin`); anything but this origin is refused. Clients that are not browsers send neither.
 */
function refuseCrossSite(req: FastifyRequest): void {
  if (req.method === "GET" || req.method === "HEAD") return;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none")
    throw new PermissionDeniedError(`cross-site request refused (Sec-Fetch-Site: ${String(site)})`);
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  const served = req.headers["x-forwarded-host"] ?? req.headers.host;
  if (host === undefined || host !== served)
    throw new PermissionDeniedError(`cross-origin request refused (Origin: ${origin})`);
}

/** Builds the fastify app serving the REST API, SSE stream, OpenAPI, health and metrics. */
export function createRestServer(o: RestServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimit,
    ...(o.https ? { https: o.https } : {}),
    return503OnClosing: true,
    forceCloseConnections: "idle",
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  installValidation(app);
  installErrorHandling(app, o.logger);
  // Bodies are JSON only: a text/plain POST is what an HTML form on another site can send.
  app.removeContentTypeParser("text/plain");

  async function authenticate(req: FastifyRequest, access: Access): Promise<Principal | undefined> {
    if (access === "public") return undefined;
    const principal = await o.auth.rest(req.headers.authorization, cookie(req, SESSION_COOKIE));
    if (principal.sessionHash) refuseCrossSite(req);
    if (!roleAllows(principal.role, ROLE_OF[access]))
      throw new PermissionDeniedError(
        `this needs the ${access} role; ${principal.username} has a lesser role`,
      );
    return principal;
  }

  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    o.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    o.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    done();
  });

  for (const [op, raw] of Object.entries(Routes)) {
    const def = raw as RouteDef;
    const handler = o.handlers[op as OperationId] as (
      req: unknown,
      ctx: HandlerContext,
    ) => Promise<unknown>;
    const principals = new WeakMap<FastifyRequest, Principal>();
    app.route({
      method: def.method,
      url: def.path,
      schema: fastifySchema(def),
      // Authentication comes first, before the body is parsed or validated: an unauthenticated
      // caller learns nothing of the schema and costs no parsing.
      onRequest: async (req: FastifyRequest) => {
        const principal = await authenticate(req, def.access);
        if (principal) principals.set(req, principal);
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const principal = principals.get(req) ?? { username: "", role: Role.VIEWER };
        const ctx: HandlerContext = {
          principal,
          ip: req.ip,
          setSession(token, expiresAt) {
            const attrs = `Path=/; HttpOnly; SameSite=Strict${o.secureCookies ? "; Secure" : ""}`;
            void reply.header(
              "set-cookie",
              token
                ? `${SESSION_COOKIE}=${encodeURIComponent(token)}; ${attrs}; Expires=${expiresAt?.toUTCString() ?? ""}`
                : `${SESSION_COOKIE}=; ${attrs}; Max-Age=0`,
            );
          },
        };
        const res = await handler(
          { params: req.params, query: req.query, body: req.body ?? {} },
          ctx,
        );
        return reply.code(def.status).send(res);
      },
    });
  }

  o.extraRoutes?.(app);

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/api/v1/openapi.json", async (req) => {
    await authenticate(req, "viewer");
    return buildOpenApiDocument(o.version);
  });

  app.get("/metrics", async (req, reply) => {
    await authenticate(req, "viewer");
    const body = await o.metrics.registry.metrics();
    return reply.header("content-type", o.metrics.registry.contentType).send(body);
  });

  // Open event streams end as soon as the server starts closing: they never finish on their
  // own, so a stop would otherwise wait out its whole grace period; clients reconnect (to
  // another replica, or to this one once it is back).
  const streams = new Set<ServerResponse>();
  app.addHook("preClose", (done) => {
    for (const res of streams) res.end();
    done();
  });

  /** Open event streams per caller (user or API key). */
  const streamsOf = new Map<string, number>();
  app.get("/api/v1/stream", async (req, reply) => {
    const recheck = (): Promise<Principal | undefined> => authenticate(req, "viewer");
    let caller: string;
    try {
      const p = await recheck();
      caller = p?.apiKeyId ? `API key ${p.apiKeyId}` : `user ${p?.username ?? ""}`;
    } catch (err) {
      return sendError(reply, toAppError(err));
    }
    // HEAD (fastify adds it to every GET) says what a GET would open, and holds nothing open.
    if (req.method === "HEAD")
      return reply.code(200).header("content-type", "text/event-stream; charset=utf-8").send();
    const open = streamsOf.get(caller) ?? 0;
    if (open >= o.limits.eventStreamsPerCaller)
      return sendError(
        reply,
        new AppError(
          "RESOURCE_EXHAUSTED",
          `${caller} has ${open} event streams open (limits.eventStreamsPerCaller: ${o.limits.eventStreamsPerCaller}); close one first`,
        ),
      );
    // Subscribed first, then the stored events are read, then the headers go out: a change made
    // after a client saw the headers has an id past where its stream starts, so it is sent (what
    // `pipectl deployment wait` relies on). Live events are held until the backlog is out.
    streamsOf.set(caller, open + 1);
    const release = (): void => {
      const left = (streamsOf.get(caller) ?? 1) - 1;
      if (left > 0) streamsOf.set(caller, left);
      else streamsOf.delete(caller);
    };
    /** Set once the response is open; until then the stream holds what arrives. */
    const out: { send?: (text: string) => void } = {};
    const stream = new ResumableEventStream(
      (text) => out.send?.(text),
      (afterId, beforeId) => o.hub.gap(afterId, beforeId),
    );
    const off = o.hub.onEvents((batch) => stream.live(batch));
    let start: StreamStart;
    try {
      start = await o.hub.replay(lastEventIdOf(req));
    } catch (err) {
      off();
      release();
      o.logger.warn({ err }, "could not read stored events for a stream");
      return sendError(
        reply,
        new AppError("UNAVAILABLE", "could not read the stored events; try again"),
      );
    }
    if (req.raw.destroyed) {
      off(); // the client left while its backlog was read
      release();
      return;
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const send = eventStreamSender(res, o.limits.eventStreamBufferBytes);
    out.send = send;
    res.write(": connected\n\n");
    stream.start(start);
    // Each keep-alive re-checks the caller: a signed-out session, a disabled key or a user
    // removed from the config stops receiving events within one interval.
    const keepAlive = setInterval(() => {
      recheck().then(
        () => send(": keep-alive\n\n"),
        () => res.end(),
      );
    }, o.sseKeepAliveMs);
    streams.add(res);
    let cleaned = false;
    const cleanup = (): void => {
      if (cleaned) return;
      cleaned = true;
      off();
      clearInterval(keepAlive);
      streams.delete(res);
      release();
    };
    req.raw.on("close", cleanup);
    res.on("close", cleanup);
  });

  return app;
}
