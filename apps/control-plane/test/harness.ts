import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  DeploymentSchema,
  PipedService,
  createGrpcClient,
  type GrpcClient,
  type WatchResponse,
} from "@pipecd-ts/proto";
import { createRestClient, type RestClient } from "@pipecd-ts/rest-api";
import { silentLogger, type Logger } from "@pipecd-ts/runtime";
export { eventually } from "@pipecd-ts/testkit";
import { parseControlPlaneConfig, type ControlPlaneConfig } from "@pipecd-ts/config";
import {
  formatPipedToken,
  hashPassword,
  startControlPlane,
  type ControlPlane,
} from "@pipecd-ts/control-plane";

/**
 * A control-plane config through the real parser: web users (username → [password, role]) and
 * `spec.limits`.
 */
export async function testConfig(
  users: Record<string, [password: string, role: "viewer" | "editor" | "admin"]>,
  limits: Record<string, number>,
): Promise<ControlPlaneConfig> {
  const userLines = await Promise.all(
    Object.entries(users).map(
      async ([username, [password, role]]) =>
        `    - username: ${username}\n      passwordHash: "${await hashPassword(password)}"\n      role: ${role}`,
    ),
  );
  const limitLines = Object.entries(limits).map(([k, v]) => `    ${k}: ${v}`);
  return parseControlPlaneConfig(
    "cp.yaml",
    [
      "apiVersion: pipecd-ts.dev/v1beta1",
      "kind: ControlPlane",
      "spec:",
      "  users:",
      ...userLines,
      "  limits:",
      ...limitLines,
      "",
    ].join("\n"),
  );
}

/** A control plane started for a test, with helpers to talk to it. */
export interface TestControlPlane {
  cp: ControlPlane;
  dataDir: string;
  adminKey: string;
  admin: RestClient;
  rest(apiKey?: string): RestClient;
  /** Restarts on the same data dir and datastore (stopping with `graceMs`, default 1 s). */
  restart(graceMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a control plane on `datastoreUrl` (or SQLite in a temp dir) on free ports. */
export async function startTestControlPlane(opts: {
  datastoreUrl?: string;
  config?: ControlPlaneConfig;
  heartbeatIntervalMs?: number;
  sseKeepAliveMs?: number;
  /** Where the control plane logs (default: nowhere). */
  logger?: Logger;
}): Promise<TestControlPlane> {
  const dataDir = await mkdtemp(join(tmpdir(), "pipecd-cp-"));
  const start = () =>
    startControlPlane({
      dataDir,
      datastoreUrl: opts.datastoreUrl,
      httpPort: 0,
      grpcPort: 0,
      listenHost: "127.0.0.1",
      config: opts.config,
      logger: opts.logger ?? silentLogger(),
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      sseKeepAliveMs: opts.sseKeepAliveMs,
    });
  const t: TestControlPlane = {
    cp: await start(),
    dataDir,
    adminKey: "",
    admin: undefined as unknown as RestClient,
    rest: (apiKey) => createRestClient({ baseUrl: t.cp.httpUrl, apiKey, timeoutMs: 10_000 }),
    async restart(graceMs = 1000) {
      await t.cp.close(graceMs);
      t.cp = await start();
      t.admin = t.rest(t.adminKey);
    },
    async close() {
      await t.cp.close(1000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  t.adminKey = (await readFile(join(dataDir, "admin-api-key"), "utf8")).trim();
  t.admin = t.rest(t.adminKey);
  return t;
}

/** A PipedService client authenticated as one piped. */
export interface TestPiped {
  id: string;
  key: string;
  client: GrpcClient<typeof PipedService.method>;
  md: grpc.Metadata;
  close(): void;
}

/** Connects a gRPC client with the PIPED-TOKEN of `pipedId`/`key`. */
export function pipedClient(
  cp: ControlPlane,
  pipedId: string,
  key: string,
  projectId = "default",
): TestPiped {
  const client = createGrpcClient(PipedService, cp.grpcAddress, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set("authorization", formatPipedToken(projectId, pipedId, key));
  return { id: pipedId, key, client, md, close: () => client.close() };
}

/** Registers a piped over REST and connects a gRPC client for it. */
export async function registerPiped(t: TestControlPlane, name: string): Promise<TestPiped> {
  const res = await t.admin.call("registerPiped", { body: { name } });
  return pipedClient(t.cp, res.id, res.key);
}

/** Adds an application owned by `piped`. */
export async function addApp(t: TestControlPlane, piped: TestPiped, name: string): Promise<string> {
  const res = await t.admin.call("addApplication", {
    body: { name, pipedId: piped.id, gitPath: { repoId: "repo", path: `apps/${name}` } },
  });
  return res.id;
}

/**
 * Creates a deployment through the piped API and moves it to RUNNING with the given stages, the
 * ones listed in `running` set to STAGE_RUNNING.
 */
export async function runningDeployment(
  piped: TestPiped,
  applicationId: string,
  id: string,
  stages: { id: string; name: string; approvers?: string[] }[],
  running: string[],
): Promise<void> {
  const md = { metadata: piped.md };
  await piped.client.createDeployment(
    {
      deployment: create(DeploymentSchema, {
        id,
        applicationId,
        trigger: { timestamp: timestampNow() },
      }),
    },
    md,
  );
  await piped.client.reportDeploymentPlanned(
    {
      deploymentId: id,
      summary: "test",
      stages: stages.map((s, index) => ({
        id: s.id,
        name: s.name,
        index,
        visible: true,
        authorizedOperators: s.approvers ?? [],
      })),
    },
    md,
  );
  await piped.client.reportDeploymentStatusChanged(
    { deploymentId: id, status: 2 /* RUNNING */ },
    md,
  );
  for (const stageId of running)
    await piped.client.reportStageStatusChanged(
      { deploymentId: id, stageId, status: 1 /* RUNNING */ },
      md,
    );
}

/** Collects Watch messages; `next(pred)` waits (with a deadline) for a matching one. */
export class WatchRecorder {
  readonly received: { msg: WatchResponse; at: number }[] = [];
  private waiters: { pred: (m: WatchResponse) => boolean; resolve: (m: WatchResponse) => void }[] =
    [];
  private readonly ac = new AbortController();
  readonly call: grpc.ClientReadableStream<WatchResponse>;
  error: grpc.ServiceError | undefined;

  constructor(piped: TestPiped, afterSequence = 0n) {
    this.call = piped.client.watch(
      { afterSequence },
      { metadata: piped.md, signal: this.ac.signal },
    );
    this.call.on("data", (msg: WatchResponse) => {
      const at = performance.now();
      this.received.push({ msg, at });
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(msg)) return true;
        w.resolve(msg);
        return false;
      });
    });
    this.call.on("error", (e: grpc.ServiceError) => {
      this.error = e;
    });
  }

  /** Resolves with the first message (already received or future) matching `pred`. */
  next(pred: (m: WatchResponse) => boolean, timeoutMs = 5_000): Promise<WatchResponse> {
    const have = this.received.find((r) => pred(r.msg));
    if (have) return Promise.resolve(have.msg);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching Watch message within ${timeoutMs}ms`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  commands() {
    return this.received.flatMap((r) =>
      r.msg.event.case === "command" ? [r.msg.event.value] : [],
    );
  }

  close(): void {
    this.ac.abort();
  }
}

/** Asserts that `p` rejects with a gRPC status `code`. */
export async function grpcCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
  return grpc.status.OK;
}

/** The HTTP status a REST call failed with (200 if it succeeded). */
export async function httpStatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}
