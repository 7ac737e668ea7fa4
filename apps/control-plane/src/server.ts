import { mkdir, readFile, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { APIKeySchema, PipedService, Role, grpcServiceDefinition } from "@pipecd-ts/proto";
import { openDatastore, type Datastore } from "@pipecd-ts/datastore";
import {
  DEFAULT_CONTROL_PLANE_CONFIG,
  type ControlPlaneConfig,
  type SecretSource,
} from "@pipecd-ts/config";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  systemClock,
  type Clock,
  type Logger,
} from "@pipecd-ts/runtime";
import { Actions } from "./actions.js";
import { Authenticator, BOOTSTRAP_ADMIN } from "./auth/authenticator.js";
import { ChainController } from "./chains.js";
import { parseApiKey } from "./auth/principal.js";
import { generateSecret, hashSecret } from "./auth/secrets.js";
import { createPipedServiceImpl } from "./grpc/piped-service.js";
import { Hub } from "./hub.js";
import { Metrics } from "./metrics.js";
import { createHandlers } from "./rest/handlers.js";
import { createRestServer } from "./rest/server.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { loadWebFiles, registerWebUi } from "./rest/web.js";
import { registerWebhooks } from "./rest/webhooks.js";
import { elementCountPrecheck } from "./wire.js";

/** Version reported by the control plane. */
export const CONTROL_PLANE_VERSION = "0.1.0";

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  dataDir: string;
  /** `sqlite:PATH`, `postgres://…`; default `sqlite:<dataDir>/pipecd.db`. */
  datastoreUrl?: string;
  httpPort: number;
  grpcPort: number;
  listenHost: string;
  config?: ControlPlaneConfig;
  bootstrapAdminKeyFile?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Mark the session cookie Secure without `tls`: TLS ends at an Ingress or proxy in front. */
  secureCookies?: boolean;
  logger: Logger;
  clock?: Clock;
  /** Watch heartbeat interval; default 30 s. */
  heartbeatIntervalMs?: number;
  /** Interval of SSE keep-alives, each of which re-checks the caller (default 15 s). */
  sseKeepAliveMs?: number;
  /** A piped not seen for this long is OFFLINE; default 2 min (PipeCD's PipedStatsRetention). */
  offlineAfterMs?: number;
  /** Max REST body size; default 256 KiB. */
  bodyLimit?: number;
  /** The built web UI (`apps/web/dist`) to serve at "/"; without it "/" says how to build it. */
  webDir?: string;
}

/** How long stored server-sent events stay resumable (`Last-Event-ID`). */
const STREAM_EVENT_RETENTION_MS = 10 * 60_000;

/** A running control plane. */
export interface ControlPlane {
  readonly httpUrl: string;
  /** host:port of the gRPC PipedService. */
  readonly grpcAddress: string;
  readonly ds: Datastore;
  /** Path of the admin key file written at first start, if this start wrote one. */
  readonly adminKeyFile?: string;
  /** Stops accepting, drains for up to `graceMs`, then closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the control plane: datastore, gRPC PipedService and REST API. */
export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const clock = o.clock ?? systemClock;
  const config = o.config ?? DEFAULT_CONTROL_PLANE_CONFIG;
  const logger = o.logger;
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const datastoreUrl = o.datastoreUrl ?? `sqlite:${join(o.dataDir, "pipecd.db")}`;
  const ds = await openDatastore(datastoreUrl, {
    logger: logger.child({ component: "datastore" }),
    clock,
  });
  /** Aborted when close() begins: ends the pipeds' Watch streams (see PipedServiceOptions.stopping). */
  const stopping = new AbortController();
  const cleanup: (() => Promise<void>)[] = [() => ds.close()];
  try {
    const adminKeyFile = await bootstrapAdminKey(ds, config.projectId, o, clock, logger);
    const hub = new Hub(ds.notifier, ds.streamEvents, logger);
    cleanup.unshift(async () => {
      await hub.flushed();
      hub.close();
    });
    // Stored stream events are kept long enough for any client to resume on another replica.
    const pruneEvents = setInterval(() => {
      ds.streamEvents
        .prune(new Date(clock.now().getTime() - STREAM_EVENT_RETENTION_MS))
        .catch((err: unknown) => logger.warn({ err }, "could not prune stored stream events"));
    }, 60_000);
    pruneEvents.unref();
    cleanup.unshift(async () => clearInterval(pruneEvents));
    const metrics = new Metrics({ ds, hub, projectId: config.projectId });
    const auth = new Authenticator({ ds, config, clock, logger });
    hub.onPipedAccessChanged((pipedId) => auth.invalidatePiped(pipedId));
    const actions = new Actions({ ds, hub, metrics, clock, logger, projectId: config.projectId });

    const grpcServer = new grpc.Server({
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 10_000,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      // No channelz service is served; its per-call bookkeeping was ~2% of CPU in `make bench`.
      "grpc.enable_channelz": 0,
    });
    const blocksPerCall = {
      max: config.limits.stageLogBlocksPerCall,
      name: "limits.stageLogBlocksPerCall",
    };
    grpcServer.addService(
      grpcServiceDefinition(
        PipedService,
        elementCountPrecheck((f) =>
          f.parent.typeName === "pipecd.piped.v1.ReportStageLogsRequest" && f.name === "blocks"
            ? blocksPerCall
            : undefined,
        ),
      ),
      createPipedServiceImpl({
        ds,
        auth,
        hub,
        metrics,
        clock,
        logger: logger.child({ component: "piped-api" }),
        webBaseUrl: config.webBaseUrl,
        heartbeatIntervalMs: o.heartbeatIntervalMs ?? 30_000,
        stopping: stopping.signal,
        limits: config.limits,
        chains: new ChainController({
          ds,
          hub,
          clock,
          logger: logger.child({ component: "chains" }),
        }),
      }),
    );
    const creds = o.tls
      ? grpc.ServerCredentials.createSsl(
          null,
          [{ cert_chain: o.tls.cert, private_key: o.tls.key }],
          false,
        )
      : grpc.ServerCredentials.createInsecure();
    const grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(`${o.listenHost}:${o.grpcPort}`, creds, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    cleanup.unshift(async () => grpcServer.forceShutdown());

    // Requests in flight per REST connection, for the drain on close.
    const inFlight = new Map<Socket, number>();
    const closeUnused = (): void => {
      for (const [socket, n] of inFlight) if (n === 0) socket.destroy();
    };
    const gitSecret = config.gitWebhook
      ? await readSecret(config.gitWebhook.secret, "spec.webhooks.git")
      : undefined;
    const slack = config.slack && {
      signingSecret: await readSecret(config.slack.signingSecret, "spec.slack.signingSecret"),
      users: config.slack.users,
    };
    const handlers = createHandlers({
      ds,
      auth,
      actions,
      hub,
      clock,
      projectId: config.projectId,
      offlineAfterMs: o.offlineAfterMs ?? 120_000,
    });
    const rest = createRestServer({
      handlers,
      auth,
      hub,
      metrics,
      logger: logger.child({ component: "rest-api" }),
      limits: config.limits,
      version: CONTROL_PLANE_VERSION,
      bodyLimit: o.bodyLimit ?? 256 * 1024,
      secureCookies: !!o.tls || !!o.secureCookies,
      https: o.tls,
      sseKeepAliveMs: o.sseKeepAliveMs ?? 15_000,
      extraRoutes: (app) =>
        registerWebhooks(app, {
          ds,
          hub,
          projectId: config.projectId,
          logger: logger.child({ component: "webhooks" }),
          gitSecret,
          slack,
          users: config.users,
          clock,
          stageAction: async (action, who, deploymentId, stageId, ip) => {
            const ctx = { principal: who, ip, setSession: () => undefined };
            const params = { id: deploymentId, stageId };
            if (action === "approve") await handlers.approveStage({ params }, ctx);
            else
              await handlers.rejectStage(
                { params, body: { reason: `Rejected from Slack by ${who.username}` } },
                ctx,
              );
          },
        }),
    });
    const web = o.webDir ? await loadWebFiles(o.webDir) : undefined;
    if (o.webDir && !web)
      logger.warn(
        { webDir: o.webDir },
        "the web UI is not built (no index.html there); run 'make bootstrap' or pass --web-dir",
      );
    registerWebUi(rest, web);
    rest.server.on("connection", (socket: Socket) => {
      inFlight.set(socket, 0);
      socket.on("close", () => inFlight.delete(socket));
    });
    rest.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
      res.on("close", () => {
        if (inFlight.has(socket))
          inFlight.set(socket, Math.max(0, (inFlight.get(socket) ?? 1) - 1));
      });
    });
    await rest.listen({ host: o.listenHost, port: o.httpPort });
    const addr = rest.server.address();
    const httpPort = typeof addr === "object" && addr ? addr.port : o.httpPort;
    const shownHost =
      o.listenHost === "0.0.0.0" || o.listenHost === "::" ? "127.0.0.1" : o.listenHost;
    const httpUrl = `${o.tls ? "https" : "http"}://${shownHost}:${httpPort}`;
    const grpcAddress = `${shownHost}:${grpcPort}`;
    logger.info({ httpUrl, grpcAddress, datastore: ds.driver }, "control plane listening");

    let closed: Promise<void> | undefined;
    return {
      httpUrl,
      grpcAddress,
      ds,
      adminKeyFile,
      close(graceMs = 5_000) {
        closed ??= (async () => {
          // Phase one: stop taking new work and let in-flight calls finish. Watch streams
          // never finish on their own: they are ended first (the pipeds reconnect).
          stopping.abort();
          const drained = Promise.all([
            rest.close(),
            new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())),
          ]);
          // Connections with no request in flight (idle keep-alives, and ones that never sent
          // a request) are closed now and as requests finish, so they never hold the drain.
          const sweep = setInterval(closeUnused, 50);
          closeUnused();
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
          clearTimeout(timer);
          clearInterval(sweep);
          // Phase two: force what is left (open Watch streams, keep-alive sockets).
          for (const c of cleanup) await c();
        })();
        return closed;
      },
    };
  } catch (err) {
    for (const c of cleanup) await c().catch(() => undefined);
    throw err;
  }
}

/**
 * On an empty datastore, creates the first admin API key: from `--bootstrap-admin-key-file`, or
 * generated and written to `<dataDir>/admin-api-key` (0600). Logs the path, never the key.
 */
async function bootstrapAdminKey(
  ds: Datastore,
  projectId: string,
  o: ControlPlaneOptions,
  clock: Clock,
  logger: Logger,
): Promise<string | undefined> {
  if ((await ds.apiKeys.list(projectId)).length > 0) return undefined;
  let key: string;
  let file: string;
  if (o.bootstrapAdminKeyFile) {
    file = o.bootstrapAdminKeyFile;
    key = (await readFile(file, "utf8")).trim();
    const parsed = parseApiKey(key);
    if (!parsed || !/^[A-Za-z0-9-]{8,64}$/.test(parsed.id) || parsed.secret.length < 32)
      throw new InvalidArgumentError(
        `--bootstrap-admin-key-file ${file}: expected "<keyId>.<secret>" (id 8-64 of [A-Za-z0-9-], secret ≥ 32 chars)`,
      );
  } else {
    const id = crypto.randomUUID();
    key = `${id}.${generateSecret()}`;
    file = join(o.dataDir, "admin-api-key");
    // Never over an existing file: that would be the key of the data this datastore lost.
    try {
      await writeFile(file, key + "\n", { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST")
        throw new FailedPreconditionError(
          `the datastore has no API keys, but ${file} exists: this looks like a new, empty datastore beside an existing data directory; point --datastore at the existing data, or move ${file} away to start a new install`,
        );
      throw err;
    }
    await chmod(file, 0o600);
  }
  const id = parseApiKey(key)?.id ?? "";
  const stamp = timestampFromDate(clock.now());
  await ds.apiKeys.create(
    create(APIKeySchema, {
      id,
      name: "bootstrap-admin",
      projectId,
      role: Role.ADMIN,
      creator: BOOTSTRAP_ADMIN,
      createdAt: stamp,
      updatedAt: stamp,
    }),
    hashSecret(key),
  );
  logger.info(
    { path: file },
    "created the first admin API key; it is stored in this file (mode 0600)",
  );
  return file;
}

/**
 * A secret of the config: its inline value, or its file's content (one trailing newline
 * dropped). An unreadable or empty file stops the start-up naming the field, never the value.
 */
export async function readSecret(src: SecretSource, field: string): Promise<string> {
  if (!src.file) return src.value;
  let text: string;
  try {
    text = await readFile(src.file, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(
      `${field}: cannot read ${src.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const v = text.replace(/\r?\n$/, "");
  if (!v) throw new InvalidArgumentError(`${field}: ${src.file} is empty`);
  return v;
}
