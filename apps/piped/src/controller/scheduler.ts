import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  DeploymentStatus,
  StageStatus,
  type Deployment,
  type PipelineStage,
} from "@pipecd-ts/proto";
import {
  METADATA_APPROVED_BY,
  StageName,
  isDeploymentCompleted,
  isStageCompleted,
  stageStatusName,
} from "@pipecd-ts/model";
import {
  StopSignal,
  stopReasonOf,
  type ExecutorRegistry,
  type StageCommand,
  type StageCommandSource,
  type StageInput,
} from "@pipecd-ts/plugin-sdk";
import type { ApplicationConfig } from "@pipecd-ts/config";
import { setLongTimeout, type Clock, type Logger } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import type { Reporter } from "../apiclient/reporter.js";
import type { StageLogPersister } from "../stagelog/stage-log.js";
import { globToRegExp } from "../glob.js";
import { createMetadataStore } from "./metadata.js";
import type { CommandAcker } from "../apiclient/commands.js";
import { mentionsFor, type NotificationEvent } from "../notifier/event.js";

/** Shared-metadata key holding when the deployment started running (ms): its timeout survives restarts. */
export const DEPLOYMENT_START_KEY = "pipecd-ts.dev/started-at";
/** Shared-metadata key holding a cancel's rollback choice ("true"/"false"): it survives restarts. */
export const CANCEL_ROLLBACK_KEY = "pipecd-ts.dev/cancel-rollback";
/** Stage-metadata key holding when the stage first started (ms): its timeout survives restarts. */
export const STAGE_START_KEY = "pipecd-ts.dev/stage-started-at";

/** What a deployment run needs from its prepared workspace and config. */
export interface RunContext {
  targetDir: string;
  runningDir: string | undefined;
  targetCommit: string;
  runningCommit: string | undefined;
  appConfig: ApplicationConfig;
  /** The `with` options of a pipeline stage (by the stage's config index), undefined for predefined ones. */
  stageConfigOf(stage: PipelineStage): unknown;
  /** Per-stage `timeout` from the config, if set; for the Rollback stage, its own timeout. */
  stageTimeoutMsOf(stage: PipelineStage): number | undefined;
  /** Deployment `timeout` (PipeCD default 6h). */
  deploymentTimeoutMs: number;
  /** The target commit's message (for `skipOn.commitMessagePrefixes`). */
  commitMessage: string;
  /** Files changed between the running and target commits; undefined when unknown. */
  changedFiles: readonly string[] | undefined;
}

/** The Rollback stage's deadline when the context has none (DEFAULT_SAFETY.rollbackTimeoutMs). */
const ROLLBACK_TIMEOUT_MS = 15 * 60_000;

/** Stage types PipeCD evaluates `skipOn` for. */
const SKIPPABLE = new Set<string>([
  StageName.WAIT,
  StageName.WAIT_APPROVAL,
  StageName.ANALYSIS,
  StageName.SCRIPT_RUN,
]);

/**
 * PipeCD `skipstage.go`: a stage is skipped when the commit message starts with one of
 * `skipOn.commitMessagePrefixes`, or when every file changed since the running commit matches
 * `skipOn.paths`. Returns the reason, or undefined to run the stage.
 */
export function skipReason(
  stageName: string,
  stageConfig: unknown,
  ctx: Pick<RunContext, "commitMessage" | "changedFiles">,
): string | undefined {
  if (!SKIPPABLE.has(stageName)) return undefined;
  const skipOn = (
    stageConfig as
      | { skipOn?: { commitMessagePrefixes?: readonly string[]; paths?: readonly string[] } }
      | undefined
  )?.skipOn;
  if (!skipOn) return undefined;
  const prefix = (skipOn.commitMessagePrefixes ?? []).find(
    (p) => p && ctx.commitMessage.startsWith(p),
  );
  if (prefix) return `Skipped because the commit message starts with "${prefix}"`;
  const paths = (skipOn.paths ?? []).map(globToRegExp);
  const changed = ctx.changedFiles;
  if (
    paths.length &&
    changed &&
    changed.length > 0 &&
    changed.every((f) => paths.some((r) => r.test(f)))
  )
    return "Skipped because every changed file matches skipOn.paths";
  return undefined;
}

/** Dependencies of {@link DeploymentRun}. */
export interface RunDeps {
  api: Pick<ApiClient, "call">;
  reporter: Pick<Reporter, "report">;
  /** Acks commands (the piped's command store). */
  commands: CommandAcker;
  registry: ExecutorRegistry;
  stageLogs: StageLogPersister;
  clock: Clock;
  logger: Logger;
  pipedId: string;
  /** Removes decrypted secrets from reasons sent to the control plane. */
  redact?: (text: string) => string;
  /** Tells the notifier what happened (never blocks). */
  notify?: (e: NotificationEvent) => void;
}

/** A queue of approve/reject commands for one stage, fed by the Watch stream. */
class CommandQueue implements StageCommandSource {
  private readonly queue: StageCommand[] = [];
  private readonly waiters: ((c: StageCommand) => void)[] = [];

  constructor(
    private readonly ackFn: (
      cmd: StageCommand,
      ok: boolean,
      metadata?: Record<string, string>,
    ) => Promise<void>,
  ) {}

  push(cmd: StageCommand): void {
    const w = this.waiters.shift();
    if (w) w(cmd);
    else this.queue.push(cmd);
  }

  drain(): StageCommand[] {
    return this.queue.splice(0);
  }

  next(signal: AbortSignal): Promise<StageCommand> {
    const c = this.queue.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => {
      const w = (x: StageCommand): void => {
        signal.removeEventListener("abort", onAbort);
        resolve(x);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason as Error);
      };
      if (signal.aborted) return onAbort();
      this.waiters.push(w);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  ack(cmd: StageCommand, ok: boolean, metadata?: Record<string, string>): Promise<void> {
    return this.ackFn(cmd, ok, metadata);
  }
}

/**
 * Runs one deployment's stages (PipeCD `controller/scheduler.go`, DESIGN §7): sequentially,
 * skipping SUCCESS stages on resume; each stage gets a signal that aborts with terminate (piped
 * stopping: the stage stays RUNNING and re-runs after restart), cancel (→ CANCELLED), timeout
 * (deployment or stage deadline, both persisted so a restart does not reset them → FAILURE) or
 * skip (→ SKIPPED). On FAILURE/CANCELLED it rolls back through the hidden Rollback stage unless
 * the cancel asked for no rollback.
 */
export class DeploymentRun {
  private readonly log: Logger;
  /** Removes decrypted secrets from a text bound for the control plane or the log. */
  private readonly redact: (text: string) => string;
  private readonly metadata: ReturnType<typeof createMetadataStore>;
  private readonly stageQueues = new Map<string, CommandQueue>();
  private current: { stageId: string; ac: AbortController } | undefined;
  private cancelled: { by: string; commandId: string; rollback: boolean } | undefined;
  private readonly skips = new Map<string, { by: string; commandId: string }>();

  constructor(
    private readonly deps: RunDeps,
    private d: Deployment,
    private readonly ctx: RunContext,
  ) {
    this.log = deps.logger.child({ deploymentId: d.id, applicationId: d.applicationId });
    this.redact = deps.redact ?? ((text) => text);
    this.metadata = createMetadataStore(d, deps);
  }

  /** The deployment id. */
  get id(): string {
    return this.d.id;
  }

  /** A deployment event for the notifier, with the app config's mentions of it. */
  private notify(e: Omit<NotificationEvent, "deployment">): void {
    if (!this.deps.notify) return;
    const deployment = { ...this.d, stages: [...this.d.stages] };
    const mentions = e.type.startsWith("DEPLOYMENT_")
      ? mentionsFor(this.ctx.appConfig.notification.mentions, e.type)
      : {};
    this.deps.notify({ ...e, ...mentions, deployment });
  }

  private report(what: string, fn: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    return this.deps.reporter.report(this.d.id, what, fn);
  }

  private ackCommand(
    commandId: string,
    ok: boolean,
    metadata: Record<string, string> = {},
  ): Promise<void> {
    return this.deps.commands.ack({ id: commandId, deploymentId: this.d.id }, ok, metadata);
  }

  private queueOf(stageId: string): CommandQueue {
    let q = this.stageQueues.get(stageId);
    if (!q) {
      q = new CommandQueue((cmd, ok, md) => this.ackCommand(cmd.commandId, ok, md));
      this.stageQueues.set(stageId, q);
    }
    return q;
  }

  /** An approve/reject for a stage (buffered until the stage runs). */
  stageCommand(stageId: string, cmd: StageCommand): void {
    this.queueOf(stageId).push(cmd);
  }

  /** CANCEL_DEPLOYMENT: stops the current stage with `cancel`. */
  cancel(by: string, commandId: string, rollback: boolean): void {
    if (!this.cancelled)
      // Queued before the stage's CANCELLED report (reports are ordered), so a piped that dies
      // between the two still knows after restart whether to roll back.
      void this.metadata.shared
        .put({ [CANCEL_ROLLBACK_KEY]: String(rollback) })
        .catch((err: unknown) =>
          this.log.warn({ err: String(err) }, "could not save the cancel's rollback choice"),
        );
    this.cancelled ??= { by, commandId, rollback };
    this.current?.ac.abort(new StopSignal("cancel", `cancelled by ${by}`));
  }

  /** SKIP_STAGE: stops the stage with `skip` if it is the one running, else when it starts. */
  skip(stageId: string, by: string, commandId: string): void {
    this.skips.set(stageId, { by, commandId });
    if (this.current?.stageId === stageId)
      this.current.ac.abort(new StopSignal("skip", `skipped by ${by}`));
  }

  /** Runs to completion, or returns early (without reporting) when `terminate` aborts. */
  async run(terminate: AbortSignal): Promise<void> {
    if (isDeploymentCompleted(this.d.status)) return;
    const now = (): number => this.deps.clock.now().getTime();
    // The deployment deadline counts from the first start, recorded in the control plane (with
    // the RUNNING report itself: one call, not two).
    let started = Number(this.metadata.shared.get(DEPLOYMENT_START_KEY));
    const startKnown = Number.isFinite(started) && started > 0;
    if (!startKnown) started = now();
    if (
      this.d.status === DeploymentStatus.DEPLOYMENT_PENDING ||
      this.d.status === DeploymentStatus.DEPLOYMENT_PLANNED
    ) {
      const metadata: Record<string, string> = startKnown
        ? {}
        : { [DEPLOYMENT_START_KEY]: String(started) };
      await this.report("deployment RUNNING", (signal) =>
        this.deps.api.call(
          "reportDeploymentStatusChanged",
          {
            deploymentId: this.d.id,
            status: DeploymentStatus.DEPLOYMENT_RUNNING,
            statusReason: "The piped started running the deployment",
            metadata,
          },
          { signal },
        ),
      );
      this.metadata.stored(undefined, metadata);
      this.d.status = DeploymentStatus.DEPLOYMENT_RUNNING;
      this.notify({ type: "DEPLOYMENT_STARTED" });
    } else if (!startKnown) {
      await this.metadata.shared.put({ [DEPLOYMENT_START_KEY]: String(started) });
    }
    const deadline = started + this.ctx.deploymentTimeoutMs;

    let final: DeploymentStatus = DeploymentStatus.DEPLOYMENT_SUCCESS;
    let reason = "The deployment completed successfully";
    const visible = this.d.stages.filter((s) => !s.rollback && s.name !== StageName.ROLLBACK);

    if (this.d.status === DeploymentStatus.DEPLOYMENT_ROLLING_BACK) {
      // Resumed while rolling back: the failure is already decided.
      const failed = visible.find(
        (s) => s.status === StageStatus.STAGE_CANCELLED || s.status === StageStatus.STAGE_FAILURE,
      );
      final =
        failed?.status === StageStatus.STAGE_CANCELLED
          ? DeploymentStatus.DEPLOYMENT_CANCELLED
          : DeploymentStatus.DEPLOYMENT_FAILURE;
      reason = this.d.statusReason || "Rolling back";
    } else {
      for (const stage of visible) {
        if (
          stage.status === StageStatus.STAGE_SUCCESS ||
          stage.status === StageStatus.STAGE_SKIPPED
        )
          continue;
        if (stage.status === StageStatus.STAGE_EXITED) break;
        if (
          stage.status === StageStatus.STAGE_FAILURE ||
          stage.status === StageStatus.STAGE_CANCELLED
        ) {
          final =
            stage.status === StageStatus.STAGE_CANCELLED
              ? DeploymentStatus.DEPLOYMENT_CANCELLED
              : DeploymentStatus.DEPLOYMENT_FAILURE;
          reason = stage.statusReason || `Stage ${stage.id} ${stageStatusName(stage.status)}`;
          break;
        }
        if (this.cancelled) {
          final = DeploymentStatus.DEPLOYMENT_CANCELLED;
          reason = `Cancelled by ${this.cancelled.by} before stage ${stage.id}`;
          break;
        }
        const result = await this.runStage(stage, terminate, deadline);
        if (result === "terminated") return;
        stage.status = result.status;
        if (result.status === StageStatus.STAGE_EXITED) break;
        if (
          result.status === StageStatus.STAGE_SUCCESS ||
          result.status === StageStatus.STAGE_SKIPPED
        )
          continue;
        final =
          result.status === StageStatus.STAGE_CANCELLED
            ? DeploymentStatus.DEPLOYMENT_CANCELLED
            : DeploymentStatus.DEPLOYMENT_FAILURE;
        reason = result.reason;
        break;
      }
    }

    const rollbackStages = this.d.stages.filter((s) => s.rollback || s.name === StageName.ROLLBACK);
    const noRollback =
      this.cancelled?.rollback === false ||
      this.metadata.shared.get(CANCEL_ROLLBACK_KEY) === "false";
    const wantRollback =
      final !== DeploymentStatus.DEPLOYMENT_SUCCESS && rollbackStages.length > 0 && !noRollback;
    if (final !== DeploymentStatus.DEPLOYMENT_SUCCESS && rollbackStages.length > 0 && noRollback) {
      reason = `${reason}; rollback skipped as requested: resources were left in place`;
      this.log.info("cancelled without rollback: resources left in place");
    }
    if (wantRollback) {
      if (this.d.status !== DeploymentStatus.DEPLOYMENT_ROLLING_BACK) {
        await this.report("deployment ROLLING_BACK", (signal) =>
          this.deps.api.call(
            "reportDeploymentStatusChanged",
            {
              deploymentId: this.d.id,
              status: DeploymentStatus.DEPLOYMENT_ROLLING_BACK,
              statusReason: reason,
            },
            { signal },
          ),
        );
        this.d.status = DeploymentStatus.DEPLOYMENT_ROLLING_BACK;
        // PipeCD defines the event and never sends it (#4547); we do.
        this.notify({ type: "DEPLOYMENT_ROLLING_BACK", reason });
      }
      for (const stage of rollbackStages) {
        if (isStageCompleted(stage.status)) continue;
        // Rollback has no cancel; it has its own deadline (not PipeCD's unbounded one), counted
        // from the stage's persisted start so that it survives restarts.
        const result = await this.runStage(stage, terminate, Infinity, true);
        if (result === "terminated") return;
        stage.status = result.status;
        if (
          result.status !== StageStatus.STAGE_SUCCESS &&
          result.status !== StageStatus.STAGE_SKIPPED
        )
          reason = `${reason}; rollback failed: ${result.reason}`;
      }
    }

    await this.report(`deployment ${DeploymentStatus[final]}`, (signal) =>
      this.deps.api.call(
        "reportDeploymentCompleted",
        {
          deploymentId: this.d.id,
          status: final,
          statusReason: reason,
          stageStatuses: Object.fromEntries(this.d.stages.map((s) => [s.id, s.status])),
          completedAt: timestampFromDate(this.deps.clock.now()),
        },
        { signal },
      ),
    );
    this.d.status = final;
    this.d.statusReason = reason;
    if (final === DeploymentStatus.DEPLOYMENT_SUCCESS)
      this.notify({ type: "DEPLOYMENT_SUCCEEDED" });
    else if (final === DeploymentStatus.DEPLOYMENT_CANCELLED)
      this.notify({ type: "DEPLOYMENT_CANCELLED", commander: this.cancelled?.by ?? "" });
    else this.notify({ type: "DEPLOYMENT_FAILED", reason });
    if (this.cancelled) await this.ackCommand(this.cancelled.commandId, true);
    for (const q of this.stageQueues.values())
      for (const cmd of q.drain())
        await this.ackCommand(cmd.commandId, false, {
          reason: "the deployment is no longer waiting for this stage",
        });
    this.log.info({ status: DeploymentStatus[final], reason }, "deployment completed");
  }

  private async runStage(
    stage: PipelineStage,
    terminate: AbortSignal,
    deploymentDeadline: number,
    isRollback = false,
  ): Promise<{ status: StageStatus; reason: string } | "terminated"> {
    const log = this.log.child({ stageId: stage.id });
    const scope = this.metadata.stage(stage.id);
    // The stage's deadline counts from its first start: recorded with its RUNNING report.
    let stageStart = Number(scope.get(STAGE_START_KEY));
    const stageStartKnown = Number.isFinite(stageStart) && stageStart > 0;
    if (!stageStartKnown) stageStart = this.deps.clock.now().getTime();
    const skip = isRollback
      ? undefined
      : skipReason(stage.name, this.ctx.stageConfigOf(stage), this.ctx);
    if (skip) {
      const skipLog = this.deps.stageLogs.forStage(this.d.id, stage.id, stage.retriedCount);
      skipLog.info(skip);
      await skipLog.complete();
      await this.report(`stage ${stage.id} SKIPPED`, (signal) =>
        this.deps.api.call(
          "reportStageStatusChanged",
          {
            deploymentId: this.d.id,
            stageId: stage.id,
            status: StageStatus.STAGE_SKIPPED,
            statusReason: skip,
            requires: stage.requires,
            visible: true,
            retriedCount: stage.retriedCount,
            completedAt: timestampFromDate(this.deps.clock.now()),
          },
          { signal },
        ),
      );
      this.notify({
        type: "STAGE_SKIPPED",
        stage: { ...stage, status: StageStatus.STAGE_SKIPPED, statusReason: skip },
      });
      return { status: StageStatus.STAGE_SKIPPED, reason: skip };
    }
    const stageTimeout =
      this.ctx.stageTimeoutMsOf(stage) ?? (isRollback ? ROLLBACK_TIMEOUT_MS : undefined);
    const deadline = Math.min(
      deploymentDeadline,
      stageTimeout !== undefined ? stageStart + stageTimeout : Infinity,
    );
    const startMetadata: Record<string, string> = stageStartKnown
      ? {}
      : { [STAGE_START_KEY]: String(stageStart) };
    await this.report(`stage ${stage.id} RUNNING`, (signal) =>
      this.deps.api.call(
        "reportStageStatusChanged",
        {
          deploymentId: this.d.id,
          stageId: stage.id,
          status: StageStatus.STAGE_RUNNING,
          requires: stage.requires,
          visible: true,
          retriedCount: stage.retriedCount,
          metadata: startMetadata,
        },
        { signal },
      ),
    );
    this.metadata.stored(stage.id, startMetadata);
    this.notify({ type: "STAGE_STARTED", stage: { ...stage, status: StageStatus.STAGE_RUNNING } });
    if (stage.name === StageName.WAIT_APPROVAL && !isRollback)
      this.notify({ type: "DEPLOYMENT_WAIT_APPROVAL", stage });
    const ac = new AbortController();
    const onTerminate = (): void => ac.abort(new StopSignal("terminate"));
    if (terminate.aborted) onTerminate();
    terminate.addEventListener("abort", onTerminate, { once: true });
    const clearTimer = setLongTimeout(
      () => ac.abort(new StopSignal("timeout")),
      deadline - this.deps.clock.now().getTime(),
    );
    if (!isRollback) {
      this.current = { stageId: stage.id, ac };
      if (this.cancelled) ac.abort(new StopSignal("cancel"));
      if (this.skips.has(stage.id)) ac.abort(new StopSignal("skip"));
    }
    const stageLog = this.deps.stageLogs.forStage(this.d.id, stage.id, stage.retriedCount);
    const executor = this.deps.registry.get(stage.name);
    let status: StageStatus;
    let message = "";
    if (!executor) {
      status = StageStatus.STAGE_FAILURE;
      message = `no executor for stage ${stage.name} in this piped`;
      stageLog.error(message);
    } else {
      const input: StageInput = {
        deployment: this.d,
        stage,
        stageConfig: this.ctx.stageConfigOf(stage),
        appConfig: this.ctx.appConfig,
        targetDir: this.ctx.targetDir,
        runningDir: this.ctx.runningDir,
        targetCommit: this.ctx.targetCommit,
        runningCommit: this.ctx.runningCommit,
        pipedId: this.deps.pipedId,
        signal: ac.signal,
        logger: stageLog,
        metadata: this.metadata,
        commands: this.queueOf(stage.id),
        clock: this.deps.clock,
      };
      try {
        log.info({ stage: stage.name }, "stage started");
        const result = await executor.execute(input);
        if (typeof result === "number") status = result;
        else ({ status, reason: message } = result);
      } catch (err) {
        status = StageStatus.STAGE_FAILURE;
        message = this.redact((err as Error).message);
        stageLog.error(`Stage failed: ${message}`);
        log.warn({ err: message }, "stage executor threw");
      }
      message = this.redact(message);
    }
    clearTimer();
    terminate.removeEventListener("abort", onTerminate);
    this.current = undefined;
    const stop = stopReasonOf(ac.signal);
    if (stop === "terminate") {
      await stageLog.flush();
      log.info("piped stopping; the stage stays RUNNING and resumes after restart");
      return "terminated";
    }
    let reason: string;
    switch (stop) {
      case "cancel":
        status = StageStatus.STAGE_CANCELLED;
        reason = `Cancelled by ${this.cancelled?.by ?? "a user"} while executing stage ${stage.id}`;
        break;
      case "timeout":
        status = StageStatus.STAGE_FAILURE;
        reason = `Timed out while executing stage ${stage.id}`;
        stageLog.error(reason);
        break;
      case "skip": {
        status = StageStatus.STAGE_SKIPPED;
        const by = this.skips.get(stage.id);
        reason = `Skipped by ${by?.by ?? "a user"}`;
        stageLog.info(reason);
        if (by) await this.ackCommand(by.commandId, true);
        break;
      }
      case undefined:
        reason =
          status === StageStatus.STAGE_SUCCESS || status === StageStatus.STAGE_EXITED
            ? ""
            : message || `Failed while executing stage ${stage.id}`;
        break;
    }
    await stageLog.complete();
    await this.report(`stage ${stage.id} ${stageStatusName(status)}`, (signal) =>
      this.deps.api.call(
        "reportStageStatusChanged",
        {
          deploymentId: this.d.id,
          stageId: stage.id,
          status,
          statusReason: reason,
          requires: stage.requires,
          visible: true,
          retriedCount: stage.retriedCount,
          completedAt: timestampFromDate(this.deps.clock.now()),
        },
        { signal },
      ),
    );
    log.info({ status: stageStatusName(status) }, "stage finished");
    const done = { ...stage, status, statusReason: reason };
    if (status === StageStatus.STAGE_SUCCESS || status === StageStatus.STAGE_EXITED)
      this.notify({ type: "STAGE_SUCCEEDED", stage: done });
    else if (status === StageStatus.STAGE_SKIPPED)
      this.notify({ type: "STAGE_SKIPPED", stage: done });
    else if (status === StageStatus.STAGE_CANCELLED)
      this.notify({ type: "STAGE_CANCELLED", stage: done });
    else this.notify({ type: "STAGE_FAILED", stage: done });
    if (stage.name === StageName.WAIT_APPROVAL && status === StageStatus.STAGE_SUCCESS)
      this.notify({
        type: "DEPLOYMENT_APPROVED",
        approver: this.metadata.stage(stage.id).get(METADATA_APPROVED_BY) ?? "",
      });
    return { status, reason };
  }
}
