import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApplicationSyncStatus, DeploymentStatus, type Application } from "@pipecd-ts/proto";
import type { KubeObject } from "@pipecd-ts/kube";
import {
  diffLiveAndGit,
  hashSecretData,
  isNamespaced,
  renderDrift,
} from "@pipecd-ts/plugin-kubernetes";
import { AppError, LruMap, type Clock, type Logger, type Service } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import type { KindRef, LiveStateStore } from "../livestate/store.js";
import { WorkSet } from "../livestate/work-set.js";

/** An application's manifests at a commit, as the drift detector compares them. */
export interface GitState {
  manifests: KubeObject[];
  /** `driftDetection.ignoreFields` of the app config at that commit. */
  ignoreFields: readonly string[];
}

/** Options of {@link DriftDetector}. */
export interface DriftDetectorOptions {
  store: Pick<LiveStateStore, "watch" | "managing" | "onChange" | "isExcluded">;
  /** Removes decrypted secrets from texts bound for the control plane. */
  redact?: (text: string) => string;
  api: Pick<ApiClient, "call">;
  /** Renders an application's manifests at a commit (checkout, secrets, helm/kustomize). */
  render(app: Application, commit: string, signal: AbortSignal): Promise<GitState>;
  /** Whether a deployment of the app is running here (drift is not judged mid-deployment). */
  isDeploying(appId: string): boolean;
  /** Whether the app's config at head is invalid: INVALID_CONFIG stays shown, nothing is judged. */
  isConfigInvalid?(appId: string): boolean;
  /** Called when an app is found OUT_OF_SYNC (its `trigger.onOutOfSync` decides what follows). */
  onOutOfSync?(appId: string): void;
  clock: Clock;
  logger: Logger;
  /** Changes within this window are judged together. Default 200 ms. */
  debounceMs?: number;
}

interface Tracked {
  app: Application;
  /** The commit of the app's most recent successful deployment; undefined before the first. */
  commit: string | undefined;
  /** What was last reported: status, short reason and reason. */
  reported: string | undefined;
  /** The last judgement. */
  outOfSync: boolean;
  /** The next OUT_OF_SYNC judgement goes to the trigger even when unchanged. */
  decide: boolean;
}

/**
 * PipeCD's drift detector (`driftdetector/kubernetes`), driven by the live-state store's events
 * instead of a one-minute tick: when an application's own objects change, or a deployment of it
 * ends, its live objects are compared with Git's manifests at the commit it runs (rendered once
 * per commit) and SYNCED or OUT_OF_SYNC is reported with PipeCD's texts, only when they changed.
 * Unlike PipeCD, an application is not judged while one of its deployments runs here (a canary
 * mid-pipeline is not drift); it is judged again when the deployment ends.
 */
export class DriftDetector implements Service {
  readonly name = "drift-detector";
  private readonly apps = new Map<string, Tracked>();
  private readonly work = new WorkSet();
  private readonly git = new LruMap<string, GitState>(500);
  /** Checks run so far (for tests and the bench). */
  checks = 0;

  constructor(private readonly o: DriftDetectorOptions) {}

  /**
   * This piped's applications, as the trigger listed them: new ones and ones whose running
   * commit changed are checked.
   */
  setApplications(apps: readonly Application[]): void {
    const seen = new Set<string>();
    for (const app of apps) {
      seen.add(app.id);
      const commit = app.mostRecentlySuccessfulDeployment?.trigger?.commit?.hash || undefined;
      const cur = this.apps.get(app.id);
      if (!cur)
        this.apps.set(app.id, {
          app,
          commit,
          reported: syncKey(app),
          outOfSync: app.syncState?.status === ApplicationSyncStatus.OUT_OF_SYNC,
          decide: true,
        });
      else {
        cur.app = app;
        if (commit && commit !== cur.commit) cur.commit = commit;
        else continue;
      }
      this.work.add(app.id);
    }
    for (const id of this.apps.keys()) if (!seen.has(id)) this.apps.delete(id);
  }

  /** Whether `appId` was OUT_OF_SYNC when last judged. */
  isOutOfSync(appId: string): boolean {
    return this.apps.get(appId)?.outOfSync ?? false;
  }

  /** A deployment of `appId` ended here: judge it again at its (maybe new) running commit. */
  deploymentEnded(appId: string): void {
    const t = this.apps.get(appId);
    if (t) {
      t.commit = undefined; // re-read below
      t.decide = true;
    }
    this.work.add(appId);
  }

  /** The app's shown sync state was reset (config valid again): judge and report it afresh. */
  recheck(appId: string): void {
    const t = this.apps.get(appId);
    if (t) t.reported = undefined;
    this.work.add(appId);
  }

  async run(signal: AbortSignal): Promise<void> {
    const off = this.o.store.onChange((apps, managing) => {
      if (managing) for (const a of apps) this.work.add(a);
    });
    try {
      await this.work.run(signal, {
        coalesceMs: this.o.debounceMs ?? 200,
        work: (appId, s) => this.check(appId, s),
        failed: (appId, err) =>
          this.o.logger.warn(
            { applicationId: appId, err: (err as Error).message },
            "drift check failed; retrying",
          ),
        initialDelayMs: 1_000,
        maxDelayMs: 60_000,
      });
    } finally {
      off();
    }
  }

  private async check(appId: string, signal: AbortSignal): Promise<void> {
    const t = this.apps.get(appId);
    if (!t || this.o.isDeploying(appId) || this.o.isConfigInvalid?.(appId)) return;
    t.commit ??= await this.runningCommit(appId, signal);
    if (!t.commit) return; // never deployed: nothing runs that could drift
    const git = await this.gitState(t, signal);
    const unreadable = await this.o.store.watch(
      kindsOf(git.manifests.filter((m) => !this.o.store.isExcluded(m))),
    );
    if (unreadable.length) {
      // Objects that cannot be read are not drift: say why nothing is judged.
      const state = {
        status: "UNKNOWN" as const,
        shortReason: "The live state cannot be read",
        reason: `The piped cannot list and watch what the application's manifests name:\n${unreadable.join("\n")}`,
      };
      return this.report(appId, t, state, signal);
    }
    if (this.o.isDeploying(appId) || this.o.isConfigInvalid?.(appId)) return;
    this.checks++;
    const live = this.o.store
      .managing(appId)
      .map((n) => n.object)
      .filter((x): x is KubeObject => x !== undefined);
    // Kinds left out of the live state (excludeResources) are left out of the comparison.
    const wanted = git.manifests.filter((m) => !this.o.store.isExcluded(m));
    const result = diffLiveAndGit(live, wanted, { ignoreFields: git.ignoreFields });
    const drift = renderDrift(result, t.commit);
    const redact = this.o.redact ?? ((x: string) => x);
    const state = { ...drift, reason: redact(drift.reason) };
    await this.report(appId, t, state, signal);
  }

  /** Reports a sync state when it changed; an OUT_OF_SYNC one goes to `onOutOfSync`. */
  private async report(
    appId: string,
    t: Tracked,
    state: { status: "SYNCED" | "OUT_OF_SYNC" | "UNKNOWN"; shortReason: string; reason: string },
    signal: AbortSignal,
  ): Promise<void> {
    const key = `${state.status}\0${state.shortReason}\0${state.reason}`;
    t.outOfSync = state.status === "OUT_OF_SYNC";
    // The trigger decides on onOutOfSync when the state turns OUT_OF_SYNC, after a deployment
    // of the app ended, and once after a start: not on every unchanged check.
    const decide = t.outOfSync && t.decide;
    t.decide = false;
    if (key === t.reported) {
      if (decide) this.o.onOutOfSync?.(appId);
      return;
    }
    await this.o.api.call(
      "reportApplicationSyncState",
      {
        applicationId: appId,
        state: {
          status: ApplicationSyncStatus[state.status],
          shortReason: state.shortReason,
          reason: state.reason,
          timestamp: timestampFromDate(this.o.clock.now()),
        },
      },
      { signal },
    );
    t.reported = key;
    this.o.logger.info(
      { applicationId: appId, status: state.status, summary: state.shortReason },
      "sync state changed",
    );
    if (state.status === "OUT_OF_SYNC") this.o.onOutOfSync?.(appId);
  }

  /** Git's manifests of the app at its running commit, rendered once per (app, commit). */
  private async gitState(t: Tracked, signal: AbortSignal): Promise<GitState> {
    const key = `${t.app.id}\0${t.commit}`;
    const hit = this.git.get(key);
    if (hit) return hit;
    const rendered = await this.o.render(t.app, t.commit!, signal);
    const state = { ...rendered, manifests: rendered.manifests.map(hashSecretData) };
    this.git.set(key, state);
    return state;
  }

  private async runningCommit(appId: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.o.api.call(
        "getApplicationMostRecentDeployment",
        { applicationId: appId, status: DeploymentStatus.DEPLOYMENT_SUCCESS },
        { signal },
      );
      return res.deployment?.trigger?.commit?.hash || undefined;
    } catch (err) {
      if (err instanceof AppError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
  }
}

/** The kinds of a set of manifests. */
function kindsOf(ms: readonly KubeObject[]): KindRef[] {
  const out = new Map<string, KindRef>();
  for (const m of ms) {
    const namespace = isNamespaced(m.kind) ? m.metadata.namespace || "default" : undefined;
    out.set(`${m.apiVersion}:${m.kind}@${namespace ?? ""}`, {
      apiVersion: m.apiVersion,
      kind: m.kind,
      ...(namespace ? { namespace } : {}),
    });
  }
  return [...out.values()];
}

/** The reported sync state of an application as the detector keys it. */
function syncKey(app: Application): string | undefined {
  const s = app.syncState;
  if (!s) return undefined;
  return `${ApplicationSyncStatus[s.status]}\0${s.shortReason}\0${s.reason}`;
}
