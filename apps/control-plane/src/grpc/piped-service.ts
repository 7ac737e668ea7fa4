import type * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ApplicationDeploymentReferenceSchema,
  ApplicationLiveStateSnapshotSchema,
  ApplicationSyncStateSchema,
  KubernetesResourceState_HealthStatus,
  CommandStatus,
  DeploymentStatus,
  EventStatus,
  StageStatus,
  PipelineStageSchema,
  type Application,
  type Deployment,
  type GrpcServiceImpl,
  type PipedService,
} from "@pipecd-ts/proto";
import { redactRemote, type ControlPlaneLimits } from "@pipecd-ts/config";
import type { Datastore } from "@pipecd-ts/datastore";
import {
  configWarningsProblem,
  isDeploymentCompleted,
  sameConfigStages,
  sameConfigWarnings,
  type ConfigWarningLike,
} from "@pipecd-ts/model";
import {
  AlreadyExistsError,
  AppError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  grpcStatusOf,
  toAppError,
  type Clock,
  type Logger,
} from "@pipecd-ts/runtime";
import type { Authenticator } from "../auth/authenticator.js";
import type { PipedPrincipal } from "../auth/principal.js";
import type { ChainController } from "../chains.js";
import type { Hub } from "../hub.js";
import { applyLiveStateDelta, checkedResources } from "../live-state.js";

/** App configs one piped may offer for adding (one report holds them all). */
const MAX_UNREGISTERED_APPS = 2_000;

/** A command's output (a plan preview's results) at most. */
export const MAX_COMMAND_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Pipeline stages one app config may show (PipeCD has no limit; a config this long is a mistake). */
const MAX_CONFIG_STAGES = 200;

import type { Metrics } from "../metrics.js";
import { checkRequest, inputOf } from "./request-checks.js";
import { Turns } from "./turns.js";
import { createWatchHandler, type WatchOptions } from "./watch.js";
import { parsePublicKey } from "@pipecd-ts/runtime/hybrid";

/** Options of {@link createPipedServiceImpl}. */
export interface PipedServiceOptions extends Pick<
  WatchOptions,
  "heartbeatIntervalMs" | "stopping"
> {
  ds: Datastore;
  auth: Authenticator;
  hub: Hub;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
  webBaseUrl: string;
  /** What one piped may store (spec.limits of the control-plane config). */
  limits: ControlPlaneLimits;
  /** Deployment chains: told of chained deployments and of CHAIN_SYNC answers. */
  chains: ChainController;
}

type Impl = GrpcServiceImpl<typeof PipedService.method>;

/**
 * A log block's text cut to `maxBytes` of UTF-8 (never inside a character), with a note of how
 * much was cut: one runaway line must not fill a stage's whole log.
 */
export function capLogText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  const note = ` … [${bytes.length - maxBytes} more bytes cut: limits.stageLogBlockBytes is ${maxBytes}]`;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // a continuation byte
  return bytes.subarray(0, end).toString() + note;
}

function need(value: string, field: string): string {
  if (!value) throw new InvalidArgumentError(`${field} is required`);
  return value;
}

/** Config warnings within the limits (model `capConfigWarnings`), else InvalidArgument. */
function checkedWarnings<W extends ConfigWarningLike>(warnings: W[]): W[] {
  const problem = configWarningsProblem(warnings);
  if (problem) throw new InvalidArgumentError(problem);
  return warnings;
}

/** Builds the PipedService handlers: auth, validation, ownership, idempotent reports. */
export function createPipedServiceImpl(o: PipedServiceOptions): Impl {
  const { ds, hub, clock } = o;
  const turns = new Turns(o.limits.rpcsInFlightPerPiped, 256, "piped");
  const now = () => timestampFromDate(clock.now());
  const lastTouched = new Map<string, number>();

  /** Marks a piped as seen (at most every 30 s per piped, off the hot path). */
  const touch = (pipedId: string, force = false): void => {
    const t = clock.now().getTime();
    if (!force && (lastTouched.get(pipedId) ?? 0) + 30_000 > t) return;
    lastTouched.set(pipedId, t);
    ds.pipeds
      .update(pipedId, (p) => {
        p.lastSeenAt = timestampFromDate(new Date(t));
      })
      .catch((err: unknown) =>
        o.logger.warn({ err, pipedId }, "could not record piped last-seen time"),
      );
  };

  /** Wraps a unary handler with auth, the wire checks of its request, error mapping and metrics. */
  function unary<Req, Res>(
    method: string,
    fn: (req: Req, piped: PipedPrincipal) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    const input = inputOf(method);
    return (call, callback) => {
      const started = performance.now();
      const header = call.metadata.get("authorization")[0];
      o.auth
        .piped(typeof header === "string" ? header : undefined)
        .then(async (piped) => {
          touch(piped.pipedId);
          checkRequest(input, call.request);
          return turns.run(piped.pipedId, () => fn(call.request, piped));
        })
        .then(
          (res) => {
            o.metrics.rpcRequests.inc({ method, code: "OK" });
            o.metrics.rpcDuration.observe({ method }, (performance.now() - started) / 1000);
            callback(null, res);
          },
          (err: unknown) => {
            const e = toAppError(err);
            if (e.code === "INTERNAL") o.logger.error({ err, method }, "PipedService call failed");
            o.metrics.rpcRequests.inc({ method, code: e.code });
            callback({ code: grpcStatusOf(e.code), details: e.message });
          },
        );
    };
  }

  async function ownedApp(id: string, piped: PipedPrincipal): Promise<Application> {
    const app = await ds.applications.get(need(id, "application_id"));
    if (app.pipedId !== piped.pipedId || app.projectId !== piped.projectId)
      throw new PermissionDeniedError(
        `application ${id} does not belong to piped ${piped.pipedId}`,
      );
    return app;
  }

  function assertOwns(d: Deployment, piped: PipedPrincipal): void {
    if (d.pipedId !== piped.pipedId || d.projectId !== piped.projectId)
      throw new PermissionDeniedError(
        `deployment ${d.id} does not belong to piped ${piped.pipedId}`,
      );
  }

  /** Read-modify-write of an owned deployment, then an SSE notice. */
  async function updateDeployment(
    id: string,
    piped: PipedPrincipal,
    fn: (d: Deployment) => void,
    stageId?: string,
  ): Promise<Deployment> {
    const d = await ds.deployments.update(need(id, "deployment_id"), (d) => {
      assertOwns(d, piped);
      fn(d);
    });
    hub.emit({
      type: stageId ? "stage" : "deployment",
      id: stageId ?? d.id,
      deploymentId: d.id,
      applicationId: d.applicationId,
      pipedId: d.pipedId,
      stageId,
      status: stageId
        ? StageStatus[
            d.stages.find((s) => s.id === stageId)?.status ?? StageStatus.STAGE_NOT_STARTED_YET
          ]
        : DeploymentStatus[d.status],
    });
    return d;
  }

  function deploymentRef(d: Deployment) {
    return create(ApplicationDeploymentReferenceSchema, {
      deploymentId: d.id,
      trigger: d.trigger,
      summary: d.summary,
      version: d.version,
      configFilename: d.gitPath?.configFilename ?? "",
      versions: d.versions,
      startedAt: d.createdAt,
      completedAt: d.completedAt,
    });
  }

  /** Stores a PENDING deployment of the piped (idempotent on its id) and tells who follows. */
  async function createDeploymentRecord(d: Deployment, piped: PipedPrincipal) {
    need(d.id, "deployment.id");
    const app = await ownedApp(d.applicationId, piped);
    d.pipedId = piped.pipedId;
    d.projectId = piped.projectId;
    d.applicationName ||= app.name;
    d.status = DeploymentStatus.DEPLOYMENT_PENDING;
    d.stages = [];
    d.createdAt ??= now();
    d.updatedAt = now();
    const res = await ds.deployments.create(d);
    if (res.created) {
      await updateApp(app.id, (a) => {
        a.mostRecentlyTriggeredDeployment = deploymentRef(res.deployment);
      });
      hub.emit({
        type: "deployment",
        id: d.id,
        deploymentId: d.id,
        applicationId: d.applicationId,
        pipedId: d.pipedId,
        status: DeploymentStatus[d.status],
      });
    }
    return res;
  }

  async function updateApp(id: string, fn: (a: Application) => void): Promise<void> {
    const a = await ds.applications.update(id, fn);
    hub.emit({ type: "application", id: a.id, applicationId: a.id, pipedId: a.pipedId });
  }

  /**
   * Refuses a metadata save whose keys are too long or after which the whole metadata would
   * pass its limit: a deployment's metadata is read and rewritten on every update of it.
   */
  function checkMetadata(
    saved: Record<string, string>,
    merged: Record<string, string>,
    limit: "deploymentMetadataBytes" | "stageMetadataBytes",
    of: string,
  ): void {
    for (const k of Object.keys(saved)) {
      const n = Buffer.byteLength(k);
      if (n > o.limits.metadataKeyBytes)
        throw new InvalidArgumentError(
          `metadata key ${JSON.stringify(k.slice(0, 40))}… is ${n} bytes (limits.metadataKeyBytes: ${o.limits.metadataKeyBytes})`,
        );
    }
    let total = 0;
    for (const [k, v] of Object.entries(merged))
      total += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (total > o.limits[limit])
      throw new InvalidArgumentError(
        `the metadata of ${of} would be ${total} bytes (limits.${limit}: ${o.limits[limit]})`,
      );
  }

  const impl: Impl = {
    reportPipedMeta: unary("ReportPipedMeta", async (req, piped) => {
      const configWarnings = checkedWarnings(req.configWarnings);
      const enc = req.secretEncryption;
      if (enc && enc.type !== "NONE" && enc.type !== "") {
        if (enc.type !== "KEY_PAIR")
          throw new InvalidArgumentError(
            `secret_encryption.type must be KEY_PAIR or NONE, got "${enc.type}"`,
          );
        parsePublicKey(enc.publicKey, "secret_encryption.public_key");
      }
      const p = await ds.pipeds.update(piped.pipedId, (p) => {
        p.secretEncryption = enc;
        p.configWarnings = configWarnings;
        p.version = req.version;
        p.platformProviders = req.platformProviders;
        // An older or misconfigured piped may send `https://user:token@host/…`: never store it.
        p.repositories = req.repositories.map((r) => ({ ...r, remote: redactRemote(r.remote) }));
        p.startedAt = now();
        p.lastSeenAt = now();
      });
      hub.emit({ type: "piped", id: p.id, pipedId: p.id });
      return { name: p.name, projectId: p.projectId, webBaseUrl: o.webBaseUrl };
    }),

    listEvents: unary("ListEvents", async (req, piped) => {
      if (req.limit < 0 || req.limit > 1000)
        throw new InvalidArgumentError(`limit ${req.limit} is outside 0..1000`);
      const since = req.since
        ? timestampDate(req.since)
        : new Date(clock.now().getTime() - 24 * 3_600_000);
      const events = await ds.events.list({
        projectId: piped.projectId,
        status: EventStatus.EVENT_NOT_HANDLED,
        since,
        limit: req.limit || 1000,
      });
      return { events };
    }),

    reportEventStatuses: unary("ReportEventStatuses", async (req, piped) => {
      if (req.statuses.some((st) => st.status === EventStatus.EVENT_NOT_HANDLED))
        throw new InvalidArgumentError("statuses: a handled status is required for each event");
      for (const st of req.statuses) {
        const ev = await ds.events.get(need(st.id, "id")).catch((err: unknown) => {
          if (err instanceof AppError && err.code === "NOT_FOUND") return undefined;
          throw err;
        });
        // Unknown or another project's: skipped, so one bad id does not fail the batch forever.
        if (!ev || ev.projectId !== piped.projectId) continue;
        await ds.events.update(ev.id, (e) => {
          // The first piped to handle an event decides; a late report changes nothing.
          if (e.status !== EventStatus.EVENT_NOT_HANDLED) return;
          e.status = st.status;
          e.statusDescription = st.description.slice(0, 2048);
          e.handledAt = now();
        });
      }
      return {};
    }),

    reportUnregisteredApplications: unary("ReportUnregisteredApplications", async (req, piped) => {
      if (req.applications.length > MAX_UNREGISTERED_APPS)
        throw new InvalidArgumentError(
          `applications: ${req.applications.length}, more than the ${MAX_UNREGISTERED_APPS} allowed`,
        );
      const p = await ds.pipeds.update(piped.pipedId, (p) => {
        p.unregisteredApplications = req.applications;
      });
      hub.emit({ type: "piped", id: p.id, pipedId: p.id });
      return {};
    }),

    watch: createWatchHandler({
      ds,
      auth: o.auth,
      hub,
      metrics: o.metrics,
      clock,
      logger: o.logger,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      stopping: o.stopping,
      limits: o.limits,
      touch: (pipedId) => touch(pipedId, true),
    }),

    listApplications: unary("ListApplications", async (req, piped) => {
      if (req.limit < 0 || req.limit > 1000)
        throw new InvalidArgumentError(`limit ${req.limit} is outside 0..1000`);
      const page = await ds.applications.list({
        projectId: piped.projectId,
        pipedId: piped.pipedId,
        disabled: false,
        limit: req.limit || 500,
        cursor: req.cursor,
      });
      return { applications: page.items, cursor: page.cursor };
    }),

    listNotCompletedDeployments: unary("ListNotCompletedDeployments", async (req, piped) => {
      const page = await ds.deployments.listNotCompleted(piped.pipedId, {
        cursor: req.cursor,
        limit: req.limit || 100,
      });
      return { deployments: page.items, cursor: page.cursor };
    }),

    getDeployment: unary("GetDeployment", async (req, piped) => {
      const d = await ds.deployments.get(need(req.id, "id"));
      assertOwns(d, piped);
      return { deployment: d };
    }),

    getApplicationMostRecentDeployment: unary(
      "GetApplicationMostRecentDeployment",
      async (req, piped) => {
        const app = await ownedApp(req.applicationId, piped);
        const ref =
          req.status === DeploymentStatus.DEPLOYMENT_SUCCESS
            ? app.mostRecentlySuccessfulDeployment
            : req.status === DeploymentStatus.DEPLOYMENT_PENDING
              ? app.mostRecentlyTriggeredDeployment
              : undefined;
        if (
          req.status !== DeploymentStatus.DEPLOYMENT_SUCCESS &&
          req.status !== DeploymentStatus.DEPLOYMENT_PENDING
        )
          throw new InvalidArgumentError(
            "status must be DEPLOYMENT_PENDING (last triggered) or DEPLOYMENT_SUCCESS",
          );
        if (!ref) throw new NotFoundError(`application ${app.id} has no such deployment yet`);
        return { deployment: ref };
      },
    ),

    createDeployment: unary("CreateDeployment", async (req, piped) => {
      const d = req.deployment;
      if (!d) throw new InvalidArgumentError("deployment is required");
      if (d.deploymentChainId) {
        // A block of a chain: the chain must be this project's and list the application there.
        const chain = await ds.chains.get(d.deploymentChainId).catch((err: unknown) => {
          if (err instanceof AppError && err.code === "NOT_FOUND") return undefined;
          throw err;
        });
        const node = chain?.blocks[d.deploymentChainBlockIndex]?.nodes.find(
          (n) => n.applicationId === d.applicationId,
        );
        if (!chain || chain.projectId !== piped.projectId || !node)
          throw new InvalidArgumentError(
            `deployment chain ${d.deploymentChainId} has no block ${d.deploymentChainBlockIndex} with application ${d.applicationId}`,
          );
        // One deployment per chain slot: a second one (a command delivered twice) is refused.
        if (node.deploymentId && node.deploymentId !== d.id)
          throw new AlreadyExistsError(
            `block ${d.deploymentChainBlockIndex} of deployment chain ${chain.id} already deployed ${d.applicationId} (deployment ${node.deploymentId})`,
          );
      }
      const res = await createDeploymentRecord(d, piped);
      if (res.created) await o.chains.deploymentCreated(res.deployment);
      return {};
    }),

    createDeploymentChain: unary("CreateDeploymentChain", async (req, piped) => {
      const d = req.deployment;
      if (!d) throw new InvalidArgumentError("deployment is required");
      if (req.matchers.length === 0 || req.matchers.length > 50)
        throw new InvalidArgumentError("matchers: 1 to 50 blocks");
      for (const m of req.matchers)
        if (!m.name && !m.kind && Object.keys(m.labels).length === 0)
          throw new InvalidArgumentError("a matcher needs a name, a kind or labels");
      d.deploymentChainId = "";
      const res = await createDeploymentRecord(d, piped);
      // Idempotent: a retried call finds the chain the first one made.
      if (res.deployment.deploymentChainId)
        return { deploymentChainId: res.deployment.deploymentChainId };
      const chain = await o.chains.create(res.deployment, req.matchers);
      await updateDeployment(res.deployment.id, piped, (x) => {
        x.deploymentChainId = chain.id;
        x.deploymentChainBlockIndex = 0;
      });
      return { deploymentChainId: chain.id };
    }),

    reportDeploymentPlanned: unary("ReportDeploymentPlanned", async (req, piped) => {
      const stamp = now();
      const d = await updateDeployment(req.deploymentId, piped, (d) => {
        d.status = DeploymentStatus.DEPLOYMENT_PLANNED;
        d.summary = req.summary;
        d.statusReason = req.statusReason;
        d.runningCommitHash = req.runningCommitHash;
        d.runningConfigFilename = req.runningConfigFilename;
        d.version = req.version;
        d.versions = req.versions;
        d.configWarnings = checkedWarnings(req.configWarnings);
        if (d.trigger) {
          d.trigger.syncStrategy = req.syncStrategy;
          d.trigger.strategySummary = req.strategySummary;
        }
        const ids = new Set<string>();
        d.stages = req.stages.map((s) => {
          need(s.id, "stages[].id");
          if (ids.has(s.id)) throw new InvalidArgumentError(`duplicate stage id ${s.id}`);
          ids.add(s.id);
          return create(PipelineStageSchema, {
            ...s,
            createdAt: s.createdAt ?? stamp,
            updatedAt: stamp,
          });
        });
      });
      await updateApp(d.applicationId, (a) => {
        a.deploying = true;
      });
      return {};
    }),

    reportDeploymentStatusChanged: unary("ReportDeploymentStatusChanged", async (req, piped) => {
      if (
        req.status !== DeploymentStatus.DEPLOYMENT_RUNNING &&
        req.status !== DeploymentStatus.DEPLOYMENT_ROLLING_BACK
      )
        throw new InvalidArgumentError(
          "status must be DEPLOYMENT_RUNNING or DEPLOYMENT_ROLLING_BACK (use ReportDeploymentCompleted to finish)",
        );
      await updateDeployment(req.deploymentId, piped, (d) => {
        d.status = req.status;
        d.statusReason = req.statusReason;
        if (Object.keys(req.metadata).length) {
          Object.assign(d.metadata, req.metadata);
          checkMetadata(req.metadata, d.metadata, "deploymentMetadataBytes", `deployment ${d.id}`);
        }
      });
      return {};
    }),

    reportDeploymentCompleted: unary("ReportDeploymentCompleted", async (req, piped) => {
      if (!isDeploymentCompleted(req.status))
        throw new InvalidArgumentError(
          "status must be DEPLOYMENT_SUCCESS, DEPLOYMENT_FAILURE or DEPLOYMENT_CANCELLED",
        );
      const completedAt = req.completedAt ?? now();
      const d = await updateDeployment(req.deploymentId, piped, (d) => {
        const wasCompleted = isDeploymentCompleted(d.status);
        d.status = req.status;
        if (wasCompleted) return; // idempotent re-report: keep what was recorded first
        d.statusReason = req.statusReason;
        d.completedAt = completedAt;
        for (const [stageId, status] of Object.entries(req.stageStatuses)) {
          const s = d.stages.find((x) => x.id === stageId);
          if (!s) throw new InvalidArgumentError(`stage_statuses names unknown stage ${stageId}`);
          if (s.status !== status) {
            s.status = status;
            s.updatedAt = completedAt;
            s.completedAt ??= completedAt;
          }
        }
      });
      await updateApp(d.applicationId, (a) => {
        a.deploying = false;
        // The reference now carries when it completed (onOutOfSync's minWindow counts from it).
        if (a.mostRecentlyTriggeredDeployment?.deploymentId === d.id)
          a.mostRecentlyTriggeredDeployment = deploymentRef(d);
        if (d.status === DeploymentStatus.DEPLOYMENT_SUCCESS) {
          const prev = a.mostRecentlySuccessfulDeployment?.startedAt;
          if (!prev || !d.createdAt || timestampDate(prev) <= timestampDate(d.createdAt))
            a.mostRecentlySuccessfulDeployment = deploymentRef(d);
        }
      });
      await o.chains.deploymentCompleted(d);
      return {};
    }),

    reportStageStatusChanged: unary("ReportStageStatusChanged", async (req, piped) => {
      need(req.stageId, "stage_id");
      await updateDeployment(
        req.deploymentId,
        piped,
        (d) => {
          const s = d.stages.find((x) => x.id === req.stageId);
          if (!s) throw new NotFoundError(`deployment ${d.id} has no stage ${req.stageId}`);
          // Metadata that comes with the report (its start time) is merged in the same write.
          const metadata = Object.entries(req.metadata);
          if (metadata.length && metadata.some(([k, v]) => s.metadata[k] !== v)) {
            Object.assign(s.metadata, req.metadata);
            checkMetadata(
              req.metadata,
              s.metadata,
              "stageMetadataBytes",
              `stage ${s.id} of ${d.id}`,
            );
          }
          if (
            s.status === req.status &&
            s.retriedCount === req.retriedCount &&
            s.statusReason === req.statusReason
          )
            return; // idempotent re-report
          s.status = req.status;
          s.statusReason = req.statusReason;
          s.retriedCount = req.retriedCount;
          s.visible = req.visible || s.visible;
          if (req.requires.length) s.requires = req.requires;
          if (req.completedAt) s.completedAt = req.completedAt;
          s.updatedAt = now();
        },
        req.stageId,
      );
      return {};
    }),

    reportStageLogs: unary("ReportStageLogs", async (req, piped) => {
      const d = await ds.deployments.get(need(req.deploymentId, "deployment_id"));
      assertOwns(d, piped);
      need(req.stageId, "stage_id");
      if (!d.stages.some((s) => s.id === req.stageId))
        throw new NotFoundError(`deployment ${d.id} has no stage ${req.stageId}`);
      if (req.retriedCount < 0)
        throw new InvalidArgumentError(`retried_count ${req.retriedCount} is negative`);
      const key = { deploymentId: d.id, stageId: req.stageId, retriedCount: req.retriedCount };
      for (const b of req.blocks) b.log = capLogText(b.log, o.limits.stageLogBlockBytes);
      if (req.blocks.length)
        await ds.stageLogs.append(key, req.blocks, { maxBytes: o.limits.stageLogBytes });
      if (req.completed) await ds.stageLogs.complete(key);
      return {};
    }),

    saveDeploymentMetadata: unary("SaveDeploymentMetadata", async (req, piped) => {
      await updateDeployment(req.deploymentId, piped, (d) => {
        Object.assign(d.metadata, req.metadata);
        checkMetadata(req.metadata, d.metadata, "deploymentMetadataBytes", `deployment ${d.id}`);
      });
      return {};
    }),

    saveStageMetadata: unary("SaveStageMetadata", async (req, piped) => {
      need(req.stageId, "stage_id");
      await updateDeployment(
        req.deploymentId,
        piped,
        (d) => {
          const s = d.stages.find((x) => x.id === req.stageId);
          if (!s) throw new NotFoundError(`deployment ${d.id} has no stage ${req.stageId}`);
          Object.assign(s.metadata, req.metadata);
          checkMetadata(req.metadata, s.metadata, "stageMetadataBytes", `stage ${s.id} of ${d.id}`);
        },
        req.stageId,
      );
      return {};
    }),

    reportCommandHandled: unary("ReportCommandHandled", async (req, piped) => {
      const cmd = await ds.commands.get(need(req.commandId, "command_id"));
      if (cmd.pipedId !== piped.pipedId)
        throw new PermissionDeniedError(
          `command ${cmd.id} does not belong to piped ${piped.pipedId}`,
        );
      if (req.output.length > MAX_COMMAND_OUTPUT_BYTES)
        throw new InvalidArgumentError(
          `output: ${req.output.length} bytes, more than the ${MAX_COMMAND_OUTPUT_BYTES} allowed`,
        );
      const handled = await ds.commands.markHandled(
        cmd.id,
        req.status,
        req.metadata,
        req.handledAt ? timestampDate(req.handledAt) : clock.now(),
        req.output,
      );
      await o.chains.commandHandled(handled);
      hub.emit({
        type: "command",
        id: handled.id,
        pipedId: handled.pipedId,
        deploymentId: handled.deploymentId || undefined,
        stageId: handled.stageId || undefined,
        status: CommandStatus[handled.status],
      });
      return {};
    }),

    reportApplicationSyncState: unary("ReportApplicationSyncState", async (req, piped) => {
      const app = await ownedApp(req.applicationId, piped);
      if (!req.state) throw new InvalidArgumentError("state is required");
      const state = create(ApplicationSyncStateSchema, {
        ...req.state,
        timestamp: req.state.timestamp ?? now(),
      });
      await updateApp(app.id, (a) => {
        a.syncState = state;
      });
      return {};
    }),

    reportApplicationConfigWarnings: unary(
      "ReportApplicationConfigWarnings",
      async (req, piped) => {
        const app = await ownedApp(req.applicationId, piped);
        const warnings = checkedWarnings(req.warnings);
        if (req.stages.length > MAX_CONFIG_STAGES)
          throw new InvalidArgumentError(
            `stages: ${req.stages.length} stages, more than the ${MAX_CONFIG_STAGES} allowed`,
          );
        if (
          app.configCommitHash === req.commitHash &&
          sameConfigWarnings(app.configWarnings, warnings) &&
          sameConfigStages(app.configStages, req.stages)
        )
          return {};
        await updateApp(app.id, (a) => {
          a.configWarnings = warnings;
          a.configCommitHash = req.commitHash;
          a.configStages = req.stages;
        });
        return {};
      },
    ),

    reportApplicationLiveState: unary("ReportApplicationLiveState", async (req, piped) => {
      const { snapshot: snap, delta } = req;
      if (!snap === !delta)
        throw new InvalidArgumentError("exactly one of snapshot and delta is required");
      const appId = snap?.applicationId ?? delta?.applicationId ?? "";
      const app = await ownedApp(appId, piped);
      const stored = await ds.liveStates.update(appId, (cur) => {
        if (snap)
          return create(ApplicationLiveStateSnapshotSchema, {
            ...snap,
            pipedId: piped.pipedId,
            projectId: piped.projectId,
            kubernetesResources: checkedResources(snap.kubernetesResources),
            updatedAt: now(),
          });
        const d = delta!;
        if (!cur || cur.version !== d.baseVersion || cur.pipedId !== piped.pipedId)
          throw new FailedPreconditionError(
            `live state of ${appId} is at version ${cur?.version ?? 0n}, not ${d.baseVersion}: send a snapshot`,
          );
        return applyLiveStateDelta(cur, d, now());
      });
      if (
        app.healthStatus !== stored.healthStatus ||
        app.healthDescription !== stored.healthDescription
      ) {
        // What is stored now (a report racing this one may have stored a newer version).
        const latest = await ds.liveStates.get(appId);
        await updateApp(appId, (a) => {
          a.healthStatus = latest.healthStatus;
          a.healthDescription = latest.healthDescription;
        });
      }
      hub.emit({
        type: "live-state",
        id: appId,
        applicationId: appId,
        pipedId: piped.pipedId,
        status: KubernetesResourceState_HealthStatus[stored.healthStatus],
      });
      return { version: stored.version };
    }),
  };
  return impl;
}
