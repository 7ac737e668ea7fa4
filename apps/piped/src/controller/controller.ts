import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Command_Type, DeploymentStatus, type Command, type Deployment } from "@pipecd-ts/proto";
import { capConfigWarnings, formatConfigWarning, isDeploymentCompleted } from "@pipecd-ts/model";
import type { PlanResult } from "@pipecd-ts/plugin-sdk";
import { AppError, backoffDelay, sleep, type Service } from "@pipecd-ts/runtime";
import { DeploymentRun, type RunContext, type RunDeps } from "./scheduler.js";
import { mentionsFor, type NotificationEvent } from "../notifier/event.js";

/** A prepared deployment workspace: checked-out commits and loaded configs. */
export interface Workspace extends RunContext {
  /** The app config file that was read, relative to the repository root. */
  appConfigFile: string;
  commitMessage: string;
  /** Removes checkouts. */
  cleanup(): Promise<void>;
}

/** How the controller prepares and plans deployments (wired by main: git + config + planner). */
export interface ControllerHooks {
  prepare(d: Deployment, signal: AbortSignal): Promise<Workspace>;
  plan(d: Deployment, ws: Workspace, signal: AbortSignal): Promise<PlanResult>;
}

/** Dependencies of {@link Controller}. */
export interface ControllerDeps extends RunDeps {
  hooks: ControllerHooks;
  /** How often to re-list not-completed deployments (a safety net; commands push). */
  resyncIntervalMs?: number;
  /** Deployments of different apps that run at once (the piped's maxConcurrentDeployments). */
  maxConcurrentDeployments?: number;
  /** Called when a deployment job of an app ends here (completed, or the piped stopping). */
  onDeploymentEnded?(appId: string): void;
}

interface Job {
  deploymentId: string;
  run?: DeploymentRun;
  done: Promise<void>;
}

const PLANNING = "The deployment is being planned";

/**
 * Picks deployments to plan and run (PipeCD `controller/controller.go`): one at a time per
 * application — never a second one while another is PLANNED/RUNNING/ROLLING_BACK (PipeCD #3086
 * cannot happen: the job map is keyed by application and a job ends only when its deployment is
 * completed or the piped stops) — resuming PLANNED/RUNNING/ROLLING_BACK ones first, otherwise the
 * oldest PENDING one (commit time, then trigger time). Routes cancel/approve/reject/skip
 * commands to the running deployment, buffering those that arrive before it runs.
 */
export class Controller implements Service {
  readonly name = "controller";
  private readonly jobs = new Map<string, Job>();
  private readonly early = new Map<string, Command[]>();
  /** When each buffered command arrived (a count), to know which listings came after it. */
  private readonly earlyAt = new Map<string, number>();
  private received = 0;
  private readonly prepareFailures = new Map<string, number>();
  private wake: (() => void) | undefined;
  private kicked = false;
  private terminate: AbortSignal | undefined;

  constructor(private readonly deps: ControllerDeps) {}

  /** Whether a deployment of `appId` is being planned or run here. */
  isDeploying(appId: string): boolean {
    return this.jobs.has(appId);
  }

  private redact(text: string): string {
    return this.deps.redact ? this.deps.redact(text) : text;
  }

  /** Re-lists deployments now (after a reconnect, a new deployment, a finished job). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Handles a deployment command (the command store hands each one over once). */
  onCommand(cmd: Command): void {
    const job = [...this.jobs.values()].find((j) => j.deploymentId === cmd.deploymentId);
    if (!job?.run) {
      this.earlyAt.set(cmd.id, ++this.received);
      const list = this.early.get(cmd.deploymentId) ?? [];
      if (!list.some((c) => c.id === cmd.id)) list.push(cmd);
      this.early.set(cmd.deploymentId, list);
      this.kick();
      return;
    }
    this.deliver(job.run, cmd);
  }

  private deliver(run: DeploymentRun, cmd: Command): void {
    switch (cmd.type) {
      case Command_Type.CANCEL_DEPLOYMENT: {
        const p = cmd.payload.case === "cancelDeployment" ? cmd.payload.value : undefined;
        run.cancel(cmd.commander, cmd.id, !p?.forceNoRollback);
        return;
      }
      case Command_Type.APPROVE_STAGE:
        run.stageCommand(cmd.stageId, {
          kind: "approve",
          commandId: cmd.id,
          commander: cmd.commander,
        });
        return;
      case Command_Type.REJECT_STAGE: {
        const reason = cmd.payload.case === "rejectStage" ? cmd.payload.value.reason : "";
        run.stageCommand(cmd.stageId, {
          kind: "reject",
          commandId: cmd.id,
          commander: cmd.commander,
          reason,
        });
        return;
      }
      case Command_Type.SKIP_STAGE:
        run.skip(cmd.stageId, cmd.commander, cmd.id);
        return;
      case Command_Type.SYNC_APPLICATION:
      case Command_Type.RESTART_PIPED:
      case Command_Type.BUILD_PLAN_PREVIEW:
      case Command_Type.CHAIN_SYNC_APPLICATION:
        return;
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    this.terminate = signal;
    signal.addEventListener("abort", () => this.wake?.(), { once: true });
    while (!signal.aborted) {
      this.kicked = false;
      try {
        await this.sync(signal);
      } catch (err) {
        this.deps.logger.warn(
          { err: (err as Error).message },
          "could not list deployments; retrying",
        );
      }
      if (this.kicked) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.deps.resyncIntervalMs ?? 5_000);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    // Jobs see the same signal (terminate) and return promptly; wait for them to report.
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  private async listNotCompleted(signal: AbortSignal): Promise<Deployment[]> {
    const out: Deployment[] = [];
    let cursor = "";
    do {
      const res = await this.deps.api.call(
        "listNotCompletedDeployments",
        { cursor, limit: 200 },
        { signal },
      );
      out.push(...res.deployments);
      cursor = res.cursor;
    } while (cursor);
    return out;
  }

  private async sync(signal: AbortSignal): Promise<void> {
    const listedAfter = this.received;
    const all = await this.listNotCompleted(signal);
    // A buffered command whose deployment was already completed when the list was read (it
    // arrived before the listing) will never find a run: it fails now instead of waiting forever.
    const active = new Set(all.map((d) => d.id));
    for (const [deploymentId, cmds] of this.early) {
      if (
        active.has(deploymentId) ||
        [...this.jobs.values()].some((j) => j.deploymentId === deploymentId)
      )
        continue;
      const stale = cmds.filter((c) => (this.earlyAt.get(c.id) ?? Infinity) <= listedAfter);
      if (stale.length === 0) continue;
      const left = cmds.filter((c) => !stale.includes(c));
      if (left.length) this.early.set(deploymentId, left);
      else this.early.delete(deploymentId);
      for (const c of stale) {
        this.earlyAt.delete(c.id);
        void this.deps.commands.ack(c, false, { reason: "the deployment is not running" });
      }
    }
    const byApp = new Map<string, Deployment[]>();
    for (const d of all) byApp.set(d.applicationId, [...(byApp.get(d.applicationId) ?? []), d]);
    const next: Deployment[] = [];
    for (const [appId, ds] of byApp) {
      if (this.jobs.has(appId)) continue;
      const active = ds.find((d) => d.status !== DeploymentStatus.DEPLOYMENT_PENDING);
      const first = active ?? ds.sort(olderFirst)[0];
      if (first) next.push(first);
    }
    // Within the limit: deployments that already started (resumed after a restart) first, then
    // the oldest pending ones. The rest wait for a slot; a finished job kicks the next sync.
    const limit = this.deps.maxConcurrentDeployments ?? 10;
    next.sort(
      (a, b) =>
        Number(a.status === DeploymentStatus.DEPLOYMENT_PENDING) -
          Number(b.status === DeploymentStatus.DEPLOYMENT_PENDING) || olderFirst(a, b),
    );
    for (const d of next) {
      if (this.jobs.size >= limit) {
        this.deps.logger.debug(
          { waiting: next.length - next.indexOf(d), limit },
          "deployments waiting for a slot (maxConcurrentDeployments)",
        );
        break;
      }
      this.start(d.applicationId, d);
    }
  }

  private start(appId: string, d: Deployment): void {
    const job: Job = { deploymentId: d.id, done: Promise.resolve() };
    this.jobs.set(appId, job);
    const signal = this.terminate ?? new AbortController().signal;
    job.done = this.runJob(job, d, signal)
      .catch((err: unknown) =>
        this.deps.logger.error(
          { err: (err as Error).message, deploymentId: d.id },
          "deployment job failed",
        ),
      )
      .finally(() => {
        this.jobs.delete(appId);
        if (!signal.aborted) {
          this.deps.onDeploymentEnded?.(appId);
          this.kick();
        }
      });
  }

  private async runJob(job: Job, d: Deployment, signal: AbortSignal): Promise<void> {
    const log = this.deps.logger.child({ deploymentId: d.id, applicationId: d.applicationId });
    const report = (what: string, fn: (s: AbortSignal) => Promise<unknown>): Promise<void> =>
      this.deps.reporter.report(d.id, what, fn);
    /** The notifier's event of this deployment, with the app config's mentions when known. */
    const notify = (e: Omit<NotificationEvent, "deployment">): void =>
      this.deps.notify?.({
        ...e,
        ...(ws ? mentionsFor(ws.appConfig.notification.mentions, e.type) : {}),
        deployment: { ...d },
      });
    /** Ends the deployment before its stages run (prepare or plan failed, or cancelled). */
    const complete = (
      what: string,
      status: DeploymentStatus,
      statusReason: string,
      commander = "",
    ) => {
      notify(
        status === DeploymentStatus.DEPLOYMENT_CANCELLED
          ? { type: "DEPLOYMENT_CANCELLED", commander }
          : { type: "DEPLOYMENT_FAILED", reason: statusReason },
      );
      return report(`deployment ${what}`, (s) =>
        this.deps.api.call(
          "reportDeploymentCompleted",
          {
            deploymentId: d.id,
            status,
            statusReason,
            completedAt: timestampFromDate(this.deps.clock.now()),
          },
          { signal: s },
        ),
      );
    };
    let ws: Workspace | undefined;
    try {
      try {
        ws = await this.deps.hooks.prepare(d, signal);
      } catch (err) {
        if (signal.aborted) return;
        const msg = this.redact((err as Error).message);
        if (d.status === DeploymentStatus.DEPLOYMENT_PENDING) {
          // Nothing ran yet: a deployment that cannot be prepared fails with the reason.
          log.warn({ err: msg }, "could not prepare the deployment");
          await complete(
            "FAILURE (prepare)",
            DeploymentStatus.DEPLOYMENT_FAILURE,
            `Unable to prepare the deployment (${msg})`,
          );
          return;
        }
        // A resumed deployment must finish: retry later, with a growing, jittered delay.
        const attempt = (this.prepareFailures.get(d.id) ?? 0) + 1;
        this.prepareFailures.set(d.id, attempt);
        const delay = backoffDelay(attempt, { initialDelayMs: 1_000, maxDelayMs: 60_000 });
        log.warn(
          { err: msg, attempt, delayMs: delay },
          "could not prepare a resumed deployment; retrying",
        );
        await sleep(delay, signal).catch(() => undefined);
        return;
      }
      this.prepareFailures.delete(d.id);
      if (d.status === DeploymentStatus.DEPLOYMENT_PENDING) {
        // A cancel that arrived while pending ends the deployment before planning.
        const cancel = this.early.get(d.id)?.find((c) => c.type === Command_Type.CANCEL_DEPLOYMENT);
        if (cancel) {
          await complete(
            "CANCELLED",
            DeploymentStatus.DEPLOYMENT_CANCELLED,
            `Cancelled by ${cancel.commander} before planning`,
            cancel.commander,
          );
          await this.ackCommand(d.id, cancel.id, true);
          return;
        }
        log.info(PLANNING);
        let plan: PlanResult;
        try {
          plan = await this.deps.hooks.plan(d, ws, signal);
        } catch (err) {
          if (signal.aborted) return;
          const msg = this.redact(
            err instanceof AppError || err instanceof Error ? err.message : String(err),
          );
          log.warn({ err: msg }, "planning failed");
          await complete(
            "FAILURE (plan)",
            DeploymentStatus.DEPLOYMENT_FAILURE,
            `Unable to plan the deployment (${msg})`,
          );
          return;
        }
        const configWarnings = capConfigWarnings(ws.appConfigFile, ws.appConfig.warnings);
        if (configWarnings.length > 0)
          log.warn(
            { warnings: configWarnings.map(formatConfigWarning) },
            "the app config has warnings",
          );
        await report("deployment PLANNED", (s) =>
          this.deps.api.call(
            "reportDeploymentPlanned",
            {
              deploymentId: d.id,
              summary: plan.summary,
              statusReason: "The deployment has been planned",
              runningCommitHash: ws?.runningCommit ?? "",
              version: plan.version,
              versions: plan.versions.map((v) => ({
                kind: 1,
                name: v.name,
                version: v.version,
                url: v.url,
              })),
              stages: plan.stages,
              syncStrategy: plan.strategy === "QUICK_SYNC" ? 1 : 2,
              strategySummary: plan.summary,
              configWarnings,
            },
            { signal: s },
          ),
        );
        d.status = DeploymentStatus.DEPLOYMENT_PLANNED;
        d.stages = plan.stages;
        d.summary = plan.summary;
        notify({ type: "DEPLOYMENT_PLANNED", summary: plan.summary });
      }
      if (isDeploymentCompleted(d.status) || signal.aborted) return;
      const run = new DeploymentRun(this.deps, d, ws);
      job.run = run;
      for (const cmd of this.early.get(d.id) ?? []) {
        this.earlyAt.delete(cmd.id);
        this.deliver(run, cmd);
      }
      this.early.delete(d.id);
      await run.run(signal);
    } finally {
      await ws?.cleanup().catch(() => undefined);
    }
  }

  private ackCommand(deploymentId: string, commandId: string, ok: boolean): Promise<void> {
    return this.deps.commands.ack({ id: commandId, deploymentId }, ok);
  }
}

/** PipeCD `Deployment.TriggerBefore`: commit time, then trigger time, then creation. */
function olderFirst(a: Deployment, b: Deployment): number {
  const t = (x: Timestamp | undefined): number => (x ? timestampDate(x).getTime() : 0);
  return (
    t(a.trigger?.commit?.createdAt) - t(b.trigger?.commit?.createdAt) ||
    t(a.trigger?.timestamp) - t(b.trigger?.timestamp) ||
    t(a.createdAt) - t(b.createdAt)
  );
}
