import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import { create, fromJson } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ApplicationSyncStatus,
  DeploymentSchema,
  DeploymentStatus,
  SyncStrategy,
  TriggerKind,
  UnregisteredApplicationSchema,
  type Application,
  type UnregisteredApplicationJson,
  type Command,
} from "@pipecd-ts/proto";
import {
  METADATA_TRIGGERED_DEPLOYMENT_ID,
  capConfigWarnings,
  sameConfigStages,
  sameConfigWarnings,
  type ConfigStageLike,
  type ConfigWarningLike,
} from "@pipecd-ts/model";
import { AppError, backoffDelay, type Clock, type Logger, type Service } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import type { CommandAcker } from "../apiclient/commands.js";
import type { GitRepo } from "./git.js";
import { globToRegExp } from "../glob.js";
import {
  MAX_FOUND_PER_REPO,
  configFiles,
  fingerprint,
  isRegistered,
  type ConfigFile,
} from "./unregistered.js";
import type { ChainMatcher, NotificationMention } from "@pipecd-ts/config";
import { mentionsFor, type NotificationEvent } from "../notifier/event.js";

/** The part of an application config the trigger needs. */
export interface TriggerConfig {
  onCommit: { disabled: boolean; paths: readonly string[]; ignores: readonly string[] };
  onCommand: { disabled: boolean };
  /** PipeCD's default: disabled, minWindow 5m. */
  onOutOfSync?: { disabled: boolean; minWindowMs: number };
  /** PipeCD's default: disabled (a chain does not deploy the app). */
  onChain?: { disabled: boolean };
}

/**
 * Validates an app config at a commit: its trigger settings and warnings (issues that leave the
 * file valid), or the error message naming the field.
 */
export type ConfigInspector = (
  file: string,
  text: string,
) =>
  | {
      ok: true;
      trigger: TriggerConfig;
      warnings: readonly ConfigWarningLike[];
      /** The pipeline's stages (id, name, desc), shown on the application. */
      stages?: readonly ConfigStageLike[];
      /** `notification.mentions` (who Slack mentions for which event). */
      mentions?: readonly NotificationMention[];
      /** `postSync.chain.applications`: a deployment of this app starts a chain. */
      chain?: readonly ChainMatcher[];
      /** spec.name, spec.labels and spec.description (offered when the app is added). */
      app?: { name: string; labels: Readonly<Record<string, string>>; description: string };
    }
  | { ok: false; message: string };

/** Dependencies of {@link Trigger}. */
export interface TriggerDeps {
  api: Pick<ApiClient, "call" | "pipedId" | "projectId">;
  repos: ReadonlyMap<string, GitRepo>;
  inspectConfig: ConfigInspector;
  /** The piped's `appSelector`: only apps with all these labels are handled (empty: all). */
  appSelector?: Readonly<Record<string, string>>;
  syncIntervalMs: number;
  clock: Clock;
  logger: Logger;
  /** Called after a deployment was created (the controller re-lists at once). */
  onDeploymentCreated?(): void;
  /** Acks SYNC commands (the piped's command store). */
  commands: CommandAcker;
  /** Gets this piped's applications after every listing (the drift detector follows them). */
  onApplications?(apps: readonly Application[]): void;
  /** Whether an app is OUT_OF_SYNC now, as the drift detector last judged it. */
  isOutOfSync?(appId: string): boolean;
  /** Tells the notifier what happened (never blocks). */
  notify?(e: NotificationEvent): void;
  /** An app's config is valid again after INVALID_CONFIG (its sync state was reset to UNKNOWN). */
  onConfigValid?(appId: string): void;
}

/**
 * PipeCD `isTouchedByChangedFiles`: if ANY changed file matches an ignore pattern the app is not
 * touched (global exclusion, as PipeCD); else a match of `paths` touches it; else a change under
 * the app directory does.
 */
export function isTouched(
  appDir: string,
  changed: readonly string[],
  cfg: TriggerConfig["onCommit"],
): boolean {
  const ignores = cfg.ignores.map(globToRegExp);
  if (changed.some((f) => ignores.some((r) => r.test(f)))) return false;
  const paths = cfg.paths.map(globToRegExp);
  if (paths.length && changed.some((f) => paths.some((r) => r.test(f)))) return true;
  const dir = posix.normalize(appDir).replace(/\/+$/, "");
  return changed.some((f) => dir === "." || f.startsWith(`${dir}/`));
}

const DEFAULT_CONFIG = "app.pipecd.yaml";

/** At most this many config inspections are cached (one per app config version). */
const MAX_INSPECTIONS = 10_000;

/** What one pass knows of one repository at its head. */
interface RepoPass {
  repo: GitRepo;
  head: string;
  /** path → blob id at head. */
  tree: Map<string, string>;
  /** Files changed from a commit to head, by that commit. */
  diffs: Map<string, Promise<string[]>>;
  /** Contents of the config blobs read this pass. */
  texts: Map<string, string>;
}

/**
 * Watches Git for the applications of this piped (PipeCD `trigger/`): fetches every
 * `syncInterval` and at once on a SYNC_APPLICATION command, and creates a PENDING deployment when
 * a commit touches an app. The last triggered commit comes from the control plane after a
 * restart. An invalid app config is reported as INVALID_CONFIG (naming the field) and triggers
 * nothing, so the running version keeps running.
 */
export class Trigger implements Service {
  readonly name = "trigger";
  private readonly lastTriggered = new Map<string, string>();
  private readonly invalidReported = new Map<string, string>();
  private readonly commands: Command[] = [];
  private wake: (() => void) | undefined;
  /** A wake-up (kick or command) that arrived while a pass was running: run again at once. */
  private pending = false;
  /** Per app, what it was last considered at (head and git path): unchanged → no work. */
  private readonly considered = new Map<string, string>();
  /** Passes completed so far (successful or not). */
  passes = 0;
  /** Config inspections by (file, blob id): a config is parsed once per version. */
  private readonly inspections = new Map<string, ReturnType<ConfigInspector>>();
  /**
   * Apps the drift detector found OUT_OF_SYNC, to be considered for `onOutOfSync`, with the time
   * before which there is nothing to decide (the end of a `minWindow`).
   */
  private readonly outOfSyncApps = new Map<string, number>();
  /** Per repository, the app config files at the head last scanned and their inspections. */
  private readonly scans = new Map<
    string,
    { head: string; files: { f: ConfigFile; inspected: ReturnType<ConfigInspector> }[] }
  >();
  /** What was last reported of the unregistered app configs. */
  private unregisteredReported: string | undefined;
  /** A wake-up at the end of an `onOutOfSync.minWindow`. */
  private windowTimer: NodeJS.Timeout | undefined;
  private windowAt = 0;

  constructor(private readonly d: TriggerDeps) {}

  /** A SYNC_APPLICATION command: trigger that app now, whatever changed. */
  syncNow(cmd: Command): void {
    if (!this.commands.some((c) => c.id === cmd.id)) this.commands.push(cmd);
    this.kick();
  }

  /** A `minWindow` ended: decide now, and wake again for the next window still ahead. */
  private windowEnded(): void {
    this.windowTimer = undefined;
    const now = this.d.clock.now().getTime();
    const next = Math.min(...[...this.outOfSyncApps.values()].filter((t) => t > now));
    if (Number.isFinite(next)) {
      this.windowAt = next;
      this.windowTimer = setTimeout(() => this.windowEnded(), next - now);
      this.windowTimer.unref?.();
    }
    this.kick();
  }

  /** Whether `appId`'s config at head is invalid (INVALID_CONFIG is shown until it is fixed). */
  isConfigInvalid(appId: string): boolean {
    return this.invalidReported.has(appId);
  }

  /** The drift detector found `appId` OUT_OF_SYNC: its `trigger.onOutOfSync` decides now. */
  outOfSync(appId: string): void {
    if (this.outOfSyncApps.has(appId)) return; // already waiting for a decision
    this.outOfSyncApps.set(appId, 0);
    this.kick();
  }

  /** Fetch now (e.g. after a reconnect); during a pass, another pass follows it at once. */
  kick(): void {
    this.pending = true;
    this.wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(this.windowTimer);
        this.wake?.();
      },
      { once: true },
    );
    let failures = 0;
    while (!signal.aborted) {
      this.pending = false;
      try {
        await this.iterate(signal);
        failures = 0;
      } catch (err) {
        failures++;
        if (!signal.aborted)
          this.d.logger.warn(
            { err: (err as Error).message, attempt: failures },
            "trigger pass failed; retrying (commands stay queued)",
          );
      }
      this.passes++;
      // After a failure: a growing, jittered delay, at most the interval. After a pass that
      // a wake-up arrived during: at once. Else the interval.
      const delay =
        failures > 0
          ? Math.min(
              backoffDelay(failures, { initialDelayMs: 1_000, maxDelayMs: 30_000 }),
              this.d.syncIntervalMs,
            )
          : this.pending
            ? 0
            : this.d.syncIntervalMs;
      // An abort during the pass found no sleep to wake: it ends the loop here.
      if (delay === 0 || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Takes a handled command out of the queue (it stays queued while a pass fails). */
  private done(cmd: Command): void {
    const i = this.commands.indexOf(cmd);
    if (i >= 0) this.commands.splice(i, 1);
  }

  private async iterate(signal: AbortSignal): Promise<void> {
    const commands = [...this.commands];
    const applications: Application[] = [];
    let cursor = "";
    do {
      const page = await this.d.api.call("listApplications", { cursor }, { signal });
      const selector = Object.entries(this.d.appSelector ?? {});
      applications.push(
        ...page.applications.filter((a) => selector.every(([k, v]) => a.labels[k] === v)),
      );
      cursor = page.cursor;
    } while (cursor);
    this.d.onApplications?.(applications);
    const byRepo = new Map<string, Application[]>();
    for (const app of applications) {
      const repoId = app.gitPath?.repo?.id ?? "";
      byRepo.set(repoId, [...(byRepo.get(repoId) ?? []), app]);
    }
    for (const cmd of commands)
      if (!applications.some((a) => a.id === cmd.applicationId)) {
        await this.ack(cmd, false, {
          reason: `application ${cmd.applicationId} is not enabled on this piped, or not selected by its appSelector`,
        });
        this.done(cmd);
      }
    const synced = new Set<string>();
    const trees = new Map<string, { head: string; tree: Map<string, string> }>();
    for (const [repoId, apps] of byRepo) {
      const repo = this.d.repos.get(repoId);
      if (!repo) {
        this.d.logger.warn(
          { repoId },
          "applications reference a repository this piped does not have",
        );
        continue;
      }
      await repo.sync();
      synced.add(repoId);
      const head = await repo.head();
      // Only apps with a command, new apps and apps last seen at another head need any git
      // work: an idle pass over unchanged apps runs no git process per app.
      const stateOf = (app: Application): string =>
        `${head}|${app.gitPath?.path ?? ""}|${app.gitPath?.configFilename ?? ""}`;
      const todo = apps.filter(
        (a) =>
          commands.some((c) => c.applicationId === a.id) ||
          (this.outOfSyncApps.get(a.id) ?? Infinity) <= this.d.clock.now().getTime() ||
          this.considered.get(a.id) !== stateOf(a),
      );
      if (todo.length === 0) continue;
      const pass: RepoPass = {
        repo,
        head,
        tree: await repo.tree(head),
        diffs: new Map(),
        texts: new Map(),
      };
      trees.set(repoId, { head, tree: pass.tree });
      await this.readConfigs(pass, todo);
      for (const app of todo) {
        if (signal.aborted) return;
        const cmd = commands.find((c) => c.applicationId === app.id);
        try {
          await this.consider(pass, app, cmd, signal);
          this.considered.set(app.id, stateOf(app));
        } catch (err) {
          this.d.logger.warn(
            { applicationId: app.id, err: (err as Error).message },
            "could not trigger application",
          );
          if (cmd) await this.ack(cmd, false, { reason: (err as Error).message });
        }
        if (cmd) this.done(cmd);
      }
    }
    await this.reportUnregistered(applications, synced, trees, signal);
  }

  /**
   * Tells the control plane which app configs of this piped's repositories no application uses
   * (PipeCD's unregistered applications), with the config's name, labels and description or
   * the loader's message, when that list changed. A repository is read again only when its head
   * moved; a config is parsed once per version.
   */
  private async reportUnregistered(
    apps: readonly Application[],
    synced: ReadonlySet<string>,
    trees: ReadonlyMap<string, { head: string; tree: Map<string, string> }>,
    signal: AbortSignal,
  ): Promise<void> {
    const found: UnregisteredApplicationJson[] = [];
    for (const repo of this.d.repos.values()) {
      let head: string;
      try {
        if (!synced.has(repo.repoId)) await repo.sync();
        head = await repo.head();
      } catch (err) {
        // A repository no application uses yet must not hold up the others.
        this.d.logger.warn(
          { repoId: repo.repoId, err: (err as Error).message },
          "cannot read a repository for app configs to add",
        );
        continue;
      }
      let scan = this.scans.get(repo.repoId);
      if (scan?.head !== head) {
        const pass = trees.get(repo.repoId);
        const tree = pass?.head === head ? pass.tree : await repo.tree(head);
        const files = configFiles(tree).slice(0, MAX_FOUND_PER_REPO);
        const unread = files
          .filter((f) => !this.inspections.has(`${f.file}@${f.blob}`))
          .map((f) => f.blob);
        const texts = unread.length ? await repo.readBlobs(unread) : new Map<string, string>();
        scan = {
          head,
          files: files.map((f) => ({
            f,
            inspected: this.inspect(f.file, f.blob, texts.get(f.blob) ?? ""),
          })),
        };
        this.scans.set(repo.repoId, scan);
      }
      for (const { f, inspected } of scan.files) {
        if (isRegistered(apps, repo.repoId, f)) continue;
        found.push({
          repoId: repo.repoId,
          path: f.path,
          configFilename: f.configFilename,
          commitHash: head,
          kind: "KUBERNETES",
          ...(inspected.ok
            ? {
                name: inspected.app?.name ?? "",
                labels: { ...inspected.app?.labels },
                description: inspected.app?.description ?? "",
              }
            : { error: inspected.message }),
        });
      }
    }
    const fp = fingerprint(found);
    if (fp === this.unregisteredReported) return;
    await this.d.api.call(
      "reportUnregisteredApplications",
      { applications: found.map((a) => fromJson(UnregisteredApplicationSchema, a)) },
      { signal },
    );
    this.unregisteredReported = fp;
  }

  /** The config file of an app at the pass's head: its path and blob id, if it exists. */
  private configFileOf(pass: RepoPass, app: Application): { file: string; blob?: string } {
    const dir = app.gitPath?.path ?? "";
    const file = posix.join(dir, app.gitPath?.configFilename || DEFAULT_CONFIG);
    const blob = pass.tree.get(file);
    if (blob === undefined && !app.gitPath?.configFilename) {
      const legacy = posix.join(dir, ".pipe.yaml");
      const legacyBlob = pass.tree.get(legacy);
      if (legacyBlob !== undefined) return { file: legacy, blob: legacyBlob };
    }
    return { file, blob };
  }

  /** Reads, in one git process, the config versions of `apps` not inspected before. */
  private async readConfigs(pass: RepoPass, apps: Application[]): Promise<void> {
    const unread = new Set<string>();
    for (const app of apps) {
      const { file, blob } = this.configFileOf(pass, app);
      if (blob !== undefined && !this.inspections.has(`${file}@${blob}`)) unread.add(blob);
    }
    for (const [id, text] of await pass.repo.readBlobs([...unread])) pass.texts.set(id, text);
  }

  /** The inspection of a config version, cached by file and blob (bounded). */
  private inspect(file: string, blob: string, text: string): ReturnType<ConfigInspector> {
    const key = `${file}@${blob}`;
    let inspected = this.inspections.get(key);
    if (!inspected) {
      inspected = this.d.inspectConfig(file, text);
      if (this.inspections.size >= MAX_INSPECTIONS) {
        const oldest = this.inspections.keys().next().value;
        if (oldest !== undefined) this.inspections.delete(oldest);
      }
      this.inspections.set(key, inspected);
    }
    return inspected;
  }

  /**
   * Shows the config's warnings on the application when they differ from those it shows, so a
   * pass over unchanged apps sends nothing.
   */
  private async reportWarnings(
    app: Application,
    head: string,
    warnings: ReturnType<typeof capConfigWarnings>,
    stages: readonly ConfigStageLike[],
    signal: AbortSignal,
  ): Promise<void> {
    if (
      sameConfigWarnings(app.configWarnings, warnings) &&
      sameConfigStages(app.configStages, stages)
    )
      return;
    await this.d.api.call(
      "reportApplicationConfigWarnings",
      { applicationId: app.id, commitHash: head, warnings, stages: [...stages] },
      { signal },
    );
  }

  private async consider(
    pass: RepoPass,
    app: Application,
    cmd: Command | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const { repo, head } = pass;
    const dir = app.gitPath?.path ?? "";
    const { file, blob } = this.configFileOf(pass, app);
    const cached = blob === undefined ? undefined : this.inspections.get(`${file}@${blob}`);
    const text = blob === undefined ? undefined : pass.texts.get(blob);
    const inspected =
      cached ??
      (blob === undefined || text === undefined
        ? { ok: false as const, message: `${file} does not exist at commit ${head.slice(0, 8)}` }
        : this.inspect(file, blob, text));
    if (!inspected.ok) {
      if (this.invalidReported.get(app.id) !== head) {
        this.d.logger.warn(
          { applicationId: app.id, commit: head, err: inspected.message },
          "invalid application config; not triggering",
        );
        await this.d.api.call(
          "reportApplicationSyncState",
          {
            applicationId: app.id,
            state: {
              status: ApplicationSyncStatus.INVALID_CONFIG,
              shortReason: "Invalid application config",
              reason: inspected.message,
              timestamp: timestampFromDate(this.d.clock.now()),
            },
          },
          { signal },
        );
        this.invalidReported.set(app.id, head);
        const commit = await repo.commit(head).catch(() => undefined);
        this.d.notify?.({
          type: "DEPLOYMENT_TRIGGER_FAILED",
          application: app,
          commit: { hash: head, message: commit?.message ?? "" },
          reason: inspected.message,
        });
      }
      if (cmd) await this.ack(cmd, false, { reason: inspected.message });
      return;
    }
    if (
      this.invalidReported.delete(app.id) ||
      app.syncState?.status === ApplicationSyncStatus.INVALID_CONFIG
    ) {
      await this.d.api.call(
        "reportApplicationSyncState",
        {
          applicationId: app.id,
          state: {
            status: ApplicationSyncStatus.UNKNOWN,
            shortReason: "",
            reason: "",
            timestamp: timestampFromDate(this.d.clock.now()),
          },
        },
        { signal },
      );
      this.d.onConfigValid?.(app.id);
    }
    await this.reportWarnings(
      app,
      head,
      capConfigWarnings(file, inspected.warnings),
      inspected.stages ?? [],
      signal,
    );
    const trig = inspected.trigger;
    if (cmd?.payload.case === "chainSyncApplication") {
      const p = cmd.payload.value;
      // Better than PipeCD (which never answers, so the chain stalls for a day): say why.
      if (trig.onChain?.disabled !== false)
        return this.ack(cmd, false, {
          reason: `trigger.onChain is disabled in ${app.name}'s app config: it is not deployed as part of a chain`,
        });
      const id = await this.createDeployment(
        repo,
        head,
        app,
        {
          kind: TriggerKind.ON_CHAIN,
          strategy: SyncStrategy.AUTO,
          commander: cmd.commander,
          mentions: inspected.mentions,
          inChain: { id: p.deploymentChainId, blockIndex: p.blockIndex },
        },
        signal,
      );
      return this.ack(cmd, true, { [METADATA_TRIGGERED_DEPLOYMENT_ID]: id });
    }
    if (cmd) {
      if (trig.onCommand.disabled)
        return this.ack(cmd, false, { reason: "trigger.onCommand is disabled" });
      const strategy =
        cmd.payload.case === "syncApplication" ? cmd.payload.value.syncStrategy : SyncStrategy.AUTO;
      const id = await this.createDeployment(
        repo,
        head,
        app,
        {
          kind: TriggerKind.ON_COMMAND,
          strategy,
          commander: cmd.commander,
          mentions: inspected.mentions,
          chain: inspected.chain,
        },
        signal,
      );
      return this.ack(cmd, true, { [METADATA_TRIGGERED_DEPLOYMENT_ID]: id });
    }
    if (await this.considerOutOfSync(repo, head, app, trig, signal, inspected.mentions)) return;
    if (trig.onCommit.disabled) return;
    const last = await this.lastTriggeredCommit(app.id, signal);
    if (last === head) return;
    if (last) {
      // One diff per (last, head) pair in a pass, shared by every app at the same last commit.
      let diff = pass.diffs.get(last);
      if (!diff) {
        diff = repo.changedFiles(last, head);
        pass.diffs.set(last, diff);
      }
      const changed = await diff;
      if (!isTouched(dir, changed, trig.onCommit)) {
        this.lastTriggered.set(app.id, head);
        return;
      }
    }
    await this.createDeployment(
      repo,
      head,
      app,
      {
        kind: TriggerKind.ON_COMMIT,
        strategy: SyncStrategy.AUTO,
        commander: "",
        mentions: inspected.mentions,
        chain: inspected.chain,
      },
      signal,
    );
  }

  /**
   * PipeCD's `OnOutOfSyncDeterminer` for an app the drift detector found OUT_OF_SYNC: with
   * `onOutOfSync` enabled, once the last triggered deployment is completed and `minWindow` has
   * passed since, an ON_OUT_OF_SYNC deployment of head puts the cluster back. True if it made one.
   */
  private async considerOutOfSync(
    repo: GitRepo,
    head: string,
    app: Application,
    trig: TriggerConfig,
    signal: AbortSignal,
    mentions: readonly NotificationMention[] | undefined,
  ): Promise<boolean> {
    if (!this.outOfSyncApps.has(app.id)) return false;
    const cfg = trig.onOutOfSync;
    if (!cfg || cfg.disabled || !(this.d.isOutOfSync?.(app.id) ?? true)) {
      this.outOfSyncApps.delete(app.id);
      return false;
    }
    const last = app.mostRecentlyTriggeredDeployment;
    if (last?.deploymentId) {
      // Not completed yet: its end is listed again (the app changes), and the flag stays.
      if (!last.completedAt) return false;
      const readyAt = timestampDate(last.completedAt).getTime() + cfg.minWindowMs;
      const wait = readyAt - this.d.clock.now().getTime();
      if (wait > 0) {
        this.outOfSyncApps.set(app.id, readyAt);
        // One timer, for the earliest window to end.
        if (!this.windowTimer || readyAt < this.windowAt) {
          clearTimeout(this.windowTimer);
          this.windowAt = readyAt;
          this.windowTimer = setTimeout(() => this.windowEnded(), wait);
          this.windowTimer.unref?.();
        }
        return false;
      }
    }
    this.outOfSyncApps.delete(app.id);
    await this.createDeployment(
      repo,
      head,
      app,
      { kind: TriggerKind.ON_OUT_OF_SYNC, strategy: SyncStrategy.AUTO, commander: "", mentions },
      signal,
    );
    return true;
  }

  private async lastTriggeredCommit(
    appId: string,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const cached = this.lastTriggered.get(appId);
    if (cached) return cached;
    try {
      const res = await this.d.api.call(
        "getApplicationMostRecentDeployment",
        { applicationId: appId, status: DeploymentStatus.DEPLOYMENT_PENDING },
        { signal },
      );
      const hash = res.deployment?.trigger?.commit?.hash;
      if (hash) this.lastTriggered.set(appId, hash);
      return hash;
    } catch (err) {
      if (err instanceof AppError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
  }

  private async createDeployment(
    repo: GitRepo,
    head: string,
    app: Application,
    o: {
      kind: TriggerKind;
      strategy: SyncStrategy;
      commander: string;
      mentions?: readonly NotificationMention[];
      /** The app config's postSync.chain: this deployment starts a chain. */
      chain?: readonly ChainMatcher[];
      /** A block of a chain: which. */
      inChain?: { id: string; blockIndex: number };
    },
    signal: AbortSignal,
  ): Promise<string> {
    const { kind, strategy, commander, mentions = [] } = o;
    const commit = await repo.commit(head);
    const now = timestampFromDate(this.d.clock.now());
    const id = randomUUID();
    const deployment = create(DeploymentSchema, {
      id,
      applicationId: app.id,
      applicationName: app.name,
      pipedId: this.d.api.pipedId,
      projectId: this.d.api.projectId,
      kind: app.kind,
      gitPath: app.gitPath,
      platformProvider: app.platformProvider,
      labels: app.labels,
      status: DeploymentStatus.DEPLOYMENT_PENDING,
      statusReason: "The deployment is waiting to be planned",
      trigger: {
        commit: {
          hash: commit.hash,
          message: commit.message,
          author: commit.author,
          branch: repo.branch,
          createdAt: timestampFromDate(commit.createdAt),
        },
        commander,
        timestamp: now,
        syncStrategy: strategy,
        kind,
      },
      createdAt: now,
      ...(o.inChain
        ? { deploymentChainId: o.inChain.id, deploymentChainBlockIndex: o.inChain.blockIndex }
        : {}),
    });
    // A chain's own blocks do not start chains of their own (no loops).
    if (o.chain?.length && !o.inChain) {
      const res = await this.d.api.call(
        "createDeploymentChain",
        {
          deployment,
          matchers: o.chain.map((m) => ({ name: m.name, kind: m.kind, labels: { ...m.labels } })),
        },
        { signal },
      );
      deployment.deploymentChainId = res.deploymentChainId;
    } else await this.d.api.call("createDeployment", { deployment }, { signal });
    this.lastTriggered.set(app.id, head);
    this.d.notify?.({
      type: "DEPLOYMENT_TRIGGERED",
      deployment,
      ...mentionsFor(mentions, "DEPLOYMENT_TRIGGERED"),
    });
    this.d.logger.info(
      { applicationId: app.id, deploymentId: id, commit: head, kind: TriggerKind[kind] },
      "triggered a deployment",
    );
    this.d.onDeploymentCreated?.();
    return id;
  }

  private ack(cmd: Command, ok: boolean, metadata: Record<string, string>): Promise<void> {
    return this.d.commands.ack(cmd, ok, metadata);
  }
}
