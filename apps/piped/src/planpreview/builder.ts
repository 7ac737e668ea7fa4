import type { ApplicationConfig } from "@pipecd-ts/config";
import type { KubeObject } from "@pipecd-ts/kube";
import type { PlanPreviewApplication, PlanPreviewOutput } from "@pipecd-ts/model/plan-preview";
import {
  ApplicationKind,
  Command_Type,
  type Application,
  type Command,
  type Command_BuildPlanPreview,
} from "@pipecd-ts/proto";
import { diffManifestLists, renderDiffList } from "@pipecd-ts/plugin-kubernetes";
import {
  DeadlineExceededError,
  InvalidArgumentError,
  type Logger,
  type Service,
} from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import type { CommandAcker } from "../apiclient/commands.js";
import type { GitRepo } from "../trigger/git.js";
import { isTouched } from "../trigger/trigger.js";

/** An app checked out at a commit: its directory and config (see `withAppAt`). */
export type AppAt = <T>(
  app: Application,
  commit: string,
  use: (appDir: string, config: ApplicationConfig) => Promise<T>,
) => Promise<T>;

/** What the planner decides for a commit. */
export interface PreviewPlan {
  strategy: string;
  summary: string;
  stages: string[];
}

/** Dependencies of {@link PlanPreviewBuilder}. */
export interface PlanPreviewDeps {
  api: Pick<ApiClient, "call">;
  repos: ReadonlyMap<string, GitRepo>;
  commands: CommandAcker;
  /** The piped's `appSelector`. */
  appSelector?: Readonly<Record<string, string>>;
  appAt: AppAt;
  /** Renders the app's manifests in `appDir` at `commit`. */
  render(
    app: Application,
    appDir: string,
    config: ApplicationConfig,
    commit: string,
    signal: AbortSignal,
  ): Promise<KubeObject[]>;
  /** The real planner, as for a deployment made by a command (no commitMatcher). */
  plan(
    app: Application,
    target: { dir: string; config: ApplicationConfig; commit: string },
    running: { dir: string; commit: string } | undefined,
    signal: AbortSignal,
  ): Promise<PreviewPlan>;
  logger: Logger;
  /** Removes decrypted secrets (templated into manifests) from what is sent. */
  redact?: (text: string) => string;
}

/** Plan previews built at once at most (more wait their turn). */
const MAX_CONCURRENT = 2;

/**
 * PipeCD's plan preview (`piped/planpreview`): for a BUILD_PLAN_PREVIEW command, merges the head
 * into the repository's branch (without a worktree), picks this piped's apps the change touches
 * (their `onCommit` paths and ignores, as the trigger would), and for each runs the real planner
 * and diffs its manifests against its last successful deployment. Nothing is deployed. The
 * answer goes back as the command's output; a failure of the whole (an unknown head, a merge
 * conflict, the deadline) fails the command with the reason.
 */
export class PlanPreviewBuilder implements Service {
  readonly name = "plan-preview";
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private terminate = new AbortController().signal;

  constructor(private readonly d: PlanPreviewDeps) {}

  /** Builds the preview of `cmd` in the background and acks it with the answer. */
  handle(cmd: Command): void {
    const p = this.build1(cmd, this.terminate).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  async run(signal: AbortSignal): Promise<void> {
    this.terminate = signal;
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.allSettled([...this.inFlight]);
  }

  private async build1(cmd: Command, terminate: AbortSignal): Promise<void> {
    if (cmd.type !== Command_Type.BUILD_PLAN_PREVIEW || cmd.payload.case !== "buildPlanPreview")
      return this.d.commands.ack(cmd, false, { error: "not a plan-preview command" });
    const req = cmd.payload.value;
    const timeoutMs = Number(req.timeoutSeconds || 300n) * 1000;
    await this.slot();
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([terminate, deadline]);
    const log = this.d.logger.child({ commandId: cmd.id, repoId: req.repositoryId });
    try {
      const t0 = performance.now();
      const out = await this.build(req, signal);
      log.info(
        { ms: Math.round(performance.now() - t0), applications: out.applications.length },
        "plan preview built",
      );
      const redact = this.d.redact ?? ((x: string) => x);
      const safe = {
        ...out,
        applications: out.applications.map((a) => ({
          ...a,
          planDetails: redact(a.planDetails),
          error: redact(a.error),
        })),
      };
      await this.d.commands.ack(cmd, true, {}, new TextEncoder().encode(JSON.stringify(safe)));
    } catch (err) {
      if (terminate.aborted) return; // the piped is stopping: the command is sent again
      const error = deadline.aborted
        ? new DeadlineExceededError(`plan preview did not finish within ${timeoutMs / 1000}s`)
            .message
        : (err as Error).message;
      log.warn({ err: error }, "plan preview failed");
      await this.d.commands.ack(cmd, false, { error: this.d.redact?.(error) ?? error });
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private async slot(): Promise<void> {
    if (this.running >= MAX_CONCURRENT)
      await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
  }

  /** The preview of `req` (exported for tests through {@link handle}). */
  async build(req: Command_BuildPlanPreview, signal: AbortSignal): Promise<PlanPreviewOutput> {
    const repo = this.d.repos.get(req.repositoryId);
    if (!repo) throw new InvalidArgumentError(`this piped has no repository "${req.repositoryId}"`);
    if (req.baseBranch && req.baseBranch !== repo.branch)
      throw new InvalidArgumentError(
        `this piped deploys repository ${repo.repoId} from branch ${repo.branch}, not ${req.baseBranch}`,
      );
    await repo.sync();
    signal.throwIfAborted();
    const base = await repo.head();
    const head = await repo.resolve(req.head);
    const merged = await repo.merge(
      base,
      head,
      `Plan-preview: merged ${head} from ${req.head} branch into ${repo.branch} base branch`,
    );
    const changed = merged === base ? [] : await repo.changedFiles(base, merged);
    const apps = (await this.applications(signal)).filter(
      (a) => a.gitPath?.repo?.id === repo.repoId,
    );
    const applications: PlanPreviewApplication[] = [];
    for (const app of apps) {
      signal.throwIfAborted();
      const r = await this.previewApp(app, merged, changed, signal).catch(
        (err: unknown): PlanPreviewApplication => ({
          ...identity(app),
          syncStrategy: "",
          strategyReason: "",
          planSummary: "",
          planDetails: "",
          noChange: false,
          stages: [],
          error: (err as Error).message,
        }),
      );
      if (r) applications.push(r);
    }
    return { headCommit: merged, applications };
  }

  /** This piped's enabled applications (its appSelector applied). */
  private async applications(signal: AbortSignal): Promise<Application[]> {
    const out: Application[] = [];
    const selector = Object.entries(this.d.appSelector ?? {});
    let cursor = "";
    do {
      const page = await this.d.api.call("listApplications", { cursor }, { signal });
      out.push(...page.applications.filter((a) => selector.every(([k, v]) => a.labels[k] === v)));
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  /** One app's preview; undefined when the change does not touch it. */
  private async previewApp(
    app: Application,
    merged: string,
    changed: readonly string[],
    signal: AbortSignal,
  ): Promise<PlanPreviewApplication | undefined> {
    return this.d.appAt(app, merged, async (targetDir, config) => {
      const dir = app.gitPath?.path ?? "";
      if (config.trigger.onCommit.disabled || !isTouched(dir, changed, config.trigger.onCommit))
        return undefined;
      const runningCommit =
        app.mostRecentlySuccessfulDeployment?.trigger?.commit?.hash || undefined;
      const target = { dir: targetDir, config, commit: merged };
      const next = await this.d.render(app, targetDir, config, merged, signal);
      const withRunning = async (
        running: { dir: string; commit: string } | undefined,
        before: KubeObject[],
      ): Promise<PlanPreviewApplication> => {
        const plan = await this.d.plan(app, target, running, signal);
        const diff = diffManifestLists(before, next, {
          equateEmpty: true,
          compareNumberAndNumericString: true,
        });
        const [a, c, d] = [diff.adds.length, diff.changes.length, diff.deletes.length];
        const noChange = a + c + d === 0;
        return {
          ...identity(app),
          syncStrategy: plan.strategy,
          planSummary: noChange
            ? "No changes were detected"
            : `${a} added manifests, ${c} changed manifests, ${d} deleted manifests`,
          planDetails: noChange
            ? "No changes were detected"
            : `--- Last Deploy\n+++ Head Commit\n\n${renderDiffList(diff, { maskSecret: true })}`,
          noChange,
          stages: plan.stages,
          strategyReason: plan.summary,
          error: "",
        };
      };
      if (!runningCommit) return withRunning(undefined, []);
      return this.d.appAt(app, runningCommit, async (runningDir, runningConfig) =>
        withRunning(
          { dir: runningDir, commit: runningCommit },
          await this.d.render(app, runningDir, runningConfig, runningCommit, signal),
        ),
      );
    });
  }
}

/** The application fields every result carries. */
function identity(
  app: Application,
): Pick<
  PlanPreviewApplication,
  "applicationId" | "applicationName" | "applicationKind" | "applicationDirectory" | "labels"
> {
  return {
    applicationId: app.id,
    applicationName: app.name,
    applicationKind: ApplicationKind[app.kind] ?? "KUBERNETES",
    applicationDirectory: app.gitPath?.path ?? "",
    labels: { ...app.labels },
  };
}
