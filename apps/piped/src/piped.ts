import { accessSync, constants } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  Command_Type,
  DeploymentSchema,
  DeploymentStatus,
  SyncStrategy,
  type Application,
  StageStatus,
  TriggerKind,
  type Command,
} from "@pipecd-ts/proto";
import {
  parseApplicationConfig,
  redactRemote,
  type ApplicationConfig,
  type PipedConfig,
  type SecretManagement,
} from "@pipecd-ts/config";
import { createKubeClient } from "@pipecd-ts/kube";
import { StageName, capConfigWarnings, formatConfigWarning } from "@pipecd-ts/model";
import {
  ScriptRunExecutor,
  ScriptRunRollbackExecutor,
  WaitApprovalExecutor,
  WaitExecutor,
} from "@pipecd-ts/plugin-basic";
import {
  AnalysisExecutor,
  AnalysisMetadataKey,
  datadogProviderFromConfig,
  prometheusProviderFromConfig,
  type MetricsProvider,
} from "@pipecd-ts/plugin-analysis";
import {
  HelmRenderer,
  K8sBaselineCleanExecutor,
  K8sBaselineRolloutExecutor,
  K8sCanaryCleanExecutor,
  K8sCanaryRolloutExecutor,
  K8sPrimaryRolloutExecutor,
  K8sSyncExecutor,
  K8sTrafficRoutingExecutor,
  KubernetesPlanner,
  KustomizeRenderer,
  ManifestSource,
  RollbackExecutor,
  Toolbox,
} from "@pipecd-ts/plugin-kubernetes";
import { ExecutorRegistry } from "@pipecd-ts/plugin-sdk";
import {
  AppError,
  InvalidArgumentError,
  systemClock,
  type Clock,
  type Logger,
  type Service,
} from "@pipecd-ts/runtime";
import { hybridDecrypt, parseSecretKeyPair, type SecretKeyPair } from "@pipecd-ts/runtime/hybrid";
import { createApiClient, type ApiClient } from "./apiclient/client.js";
import { Redactor } from "./source/redactor.js";
import { Reporter } from "./apiclient/reporter.js";
import { CommandStore } from "./apiclient/commands.js";
import { CommandStream } from "./apiclient/watch.js";
import { Controller } from "./controller/controller.js";
import { prepareWorkspace, withAppAt } from "./controller/workspace.js";
import { AdminServer } from "./admin.js";
import { DriftDetector } from "./drift/detector.js";
import { EventWatcher } from "./eventwatcher/watcher.js";
import type { NotificationEvent } from "./notifier/event.js";
import { Notifier } from "./notifier/notifier.js";
import { PlanPreviewBuilder, type AppAt } from "./planpreview/builder.js";
import { LiveStateReporter } from "./livestate/reporter.js";
import { LiveStateStore } from "./livestate/store.js";
import { StageLogPersister } from "./stagelog/stage-log.js";
import { GitRepo } from "./trigger/git.js";
import { Trigger, type ConfigInspector } from "./trigger/trigger.js";

/** Version reported by the piped. */
export const PIPED_VERSION = "0.1.0";

/** Options of {@link createPiped}. */
export interface PipedOptions {
  config: PipedConfig;
  /** Plain-text gRPC to the control plane. */
  insecure: boolean;
  /** Where git mirrors and worktrees live. */
  workDir: string;
  logger: Logger;
  clock?: Clock;
  /** In-cluster only: where the service-account token and CA are mounted (default the standard path). */
  serviceAccountDir?: string;
  /** Slack's Web API base for `oauthToken` receivers (default https://slack.com/api). */
  slackApiURL?: string;
  /** The admin server's port (/healthz, /metrics); undefined: none. 0 picks a free port. */
  adminPort?: number;
  adminHost?: string;
  /**
   * Where `helm`, `kubectl`, `kustomize` and pinned `helm-<V>`/`kustomize-<V>` binaries are
   * (PipeCD's `--tools-dir`); a tool not found there is looked up on PATH.
   */
  toolsDir?: string;
}

/** A piped's long-running components, ready for `supervise()`. */
export interface Piped {
  services: Service[];
  api: ApiClient;
  /** Closes the API client and removes the shared checkouts (after the services stopped). */
  close(): Promise<void>;
}

/** Validates an app config for the trigger: its trigger settings or the error naming the field. */
export const inspectAppConfig: ConfigInspector = (file, text) => {
  try {
    const cfg = parseApplicationConfig(file, text);
    return {
      ok: true,
      trigger: cfg.trigger,
      warnings: cfg.warnings,
      app: { name: cfg.name, labels: cfg.labels, description: cfg.description },
      mentions: cfg.notification.mentions,
      chain: cfg.postSync.chain,
      stages: cfg.pipeline.stages.map((s, i) => ({
        id: s.id || `stage-${i}`,
        name: s.name,
        desc: s.desc,
      })),
    };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
};

const signalNever = new AbortController().signal;

/** The first of `names` found in `toolsDir`, then on PATH; undefined when none is installed. */
export function findTool(name: string, toolsDir: string | undefined): string | undefined {
  const dirs = [...(toolsDir ? [toolsDir] : []), ...(process.env.PATH ?? "").split(delimiter)];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The piped's manifest source: plain YAML always; helm and kustomize when their binaries are
 * installed (`--tools-dir` or PATH; kustomize falls back to `kubectl kustomize`). Chart
 * repositories are added and registries logged in to before the piped starts, as PipeCD does:
 * a failure stops the start-up with helm's message.
 */
async function manifestSource(
  cfg: PipedConfig,
  o: PipedOptions,
  signal: AbortSignal,
): Promise<ManifestSource> {
  const helm = findTool("helm", o.toolsDir);
  const kubectl = findTool("kubectl", o.toolsDir);
  const kustomize = findTool("kustomize", o.toolsDir);
  const log = o.logger.child({ component: "manifests" });
  if (!helm)
    log.warn("no helm binary in --tools-dir or PATH: Helm applications cannot be deployed");
  if (!kubectl && !kustomize)
    log.warn("no kustomize or kubectl binary: Kustomize applications cannot be deployed");
  const toolbox = new Toolbox({
    helm: helm ?? "helm",
    kubectl: kubectl ?? "kubectl",
    kustomize,
    toolsDir: o.toolsDir,
  });
  const helmRenderer = helm
    ? new HelmRenderer({
        toolbox,
        chartRepositories: cfg.chartRepositories,
        chartRegistries: cfg.chartRegistries,
        cacheDir: join(o.workDir, "helm"),
      })
    : undefined;
  if (helmRenderer) await helmRenderer.setupRepositories(signal);
  else if (cfg.chartRepositories.length || cfg.chartRegistries.length)
    throw new InvalidArgumentError(
      "chartRepositories/chartRegistries are set but no helm binary was found in --tools-dir or PATH",
    );
  return new ManifestSource({
    onRender: (e) =>
      e.error === undefined
        ? log.info(
            { app: e.appId, commit: e.commit, method: e.method, ms: e.ms, manifests: e.manifests },
            "rendered manifests",
          )
        : log.warn(
            { app: e.appId, commit: e.commit, method: e.method, ms: e.ms, err: e.error },
            "could not render manifests",
          ),
    helm: helmRenderer,
    kustomize: kubectl || kustomize ? new KustomizeRenderer({ toolbox }) : undefined,
  });
}

/**
 * The piped's `analysisProviders`, by name. Credential files are read once at start-up; a
 * missing or unreadable file stops the start-up naming the field (never the secret).
 */
async function analysisProviders(
  cfg: PipedConfig,
  logger: Logger,
): Promise<Map<string, MetricsProvider>> {
  const out = new Map<string, MetricsProvider>();
  const log = logger.child({ component: "analysis" });
  for (const p of cfg.analysisProviders)
    out.set(
      p.name,
      p.type === "PROMETHEUS"
        ? await prometheusProviderFromConfig(p, log)
        : await datadogProviderFromConfig(p),
    );
  return out;
}

/**
 * When the app's last successful analysis started (PREVIOUS compares with the same span of it):
 * the ANALYSIS stage of its most recent successful deployment; undefined when there is none.
 */
async function previousAnalysisStart(
  api: ApiClient,
  applicationId: string,
  signal: AbortSignal,
): Promise<number | undefined> {
  const res = await api
    .call(
      "getApplicationMostRecentDeployment",
      { applicationId, status: DeploymentStatus.DEPLOYMENT_SUCCESS },
      { signal },
    )
    .catch((err: unknown) => {
      if (err instanceof AppError && err.code === "NOT_FOUND") return undefined;
      throw err;
    });
  const id = res?.deployment?.deploymentId;
  if (!id) return undefined;
  const d = await api.call("getDeployment", { id }, { signal });
  const starts = (d.deployment?.stages ?? [])
    .filter((st) => st.name === StageName.ANALYSIS && st.status === StageStatus.STAGE_SUCCESS)
    .map((st) => Number(st.metadata[AnalysisMetadataKey.START]))
    .filter((t) => Number.isFinite(t) && t > 0);
  return starts.length ? Math.max(...starts) : undefined;
}

/**
 * The piped's secret key pair from `secretManagement` (files read now; a bad or mismatched key
 * stops the start-up with the reason), or undefined when it has none.
 */
export async function loadSecretKeyPair(
  sm: SecretManagement | undefined,
): Promise<SecretKeyPair | undefined> {
  if (!sm) return undefined;
  const pem = async (file: string, data: string, what: string): Promise<string> => {
    if (file === "") return data;
    try {
      return await readFile(file, "utf8");
    } catch (err) {
      throw new InvalidArgumentError(
        `cannot read the secretManagement ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  const privatePem = await pem(sm.privateKeyFile, sm.privateKeyPem, "private key");
  const publicPem = await pem(sm.publicKeyFile, sm.publicKeyPem, "public key");
  try {
    return parseSecretKeyPair(privatePem, publicPem);
  } catch (err) {
    throw new InvalidArgumentError(`secretManagement: ${(err as Error).message}`);
  }
}

/** Wires the piped (DESIGN §7): API client, command stream, reporter, trigger, controller, stage logs. */
export async function createPiped(o: PipedOptions): Promise<Piped> {
  const clock = o.clock ?? systemClock;
  const cfg = o.config;
  const logger = o.logger.child({ pipedId: cfg.pipedID });
  const api = createApiClient({
    address: cfg.apiAddress,
    projectId: cfg.projectID,
    pipedId: cfg.pipedID,
    pipedKey: cfg.pipedKey,
    insecure: o.insecure,
  });
  await mkdir(o.workDir, { recursive: true });
  const keyPair = await loadSecretKeyPair(cfg.secretManagement);
  const redactor = new Redactor();
  const decrypt = keyPair
    ? (ciphertext: string) => hybridDecrypt(keyPair.privateKey, ciphertext).toString("utf8")
    : undefined;
  for (const w of cfg.warnings)
    logger.warn(
      { warning: formatConfigWarning({ file: "piped config", ...w }) },
      "piped config warning",
    );
  const repos = new Map(
    cfg.repositories.map((r) => [
      r.repoId,
      new GitRepo(r.repoId, r.remote, r.branch, join(o.workDir, "repos"), logger),
    ]),
  );
  const provider = cfg.platformProviders.find((p) => p.type === "KUBERNETES");
  const kube = createKubeClient({
    kubeConfigPath: provider?.config.kubeConfigPath || undefined,
    masterURL: provider?.config.masterURL || undefined,
    serviceAccountDir: o.serviceAccountDir,
    fieldManager: "piped",
    logger: logger.child({ component: "kube" }),
  });
  const manifests = await manifestSource(cfg, o, signalNever);
  const k8s = { kube, manifests, safety: cfg.safety };
  const registry = new ExecutorRegistry()
    .register(StageName.WAIT, new WaitExecutor())
    .register(StageName.WAIT_APPROVAL, new WaitApprovalExecutor())
    .register(
      StageName.ANALYSIS,
      new AnalysisExecutor({
        providers: await analysisProviders(cfg, logger),
        previousAnalysisStart: (appId, signal) => previousAnalysisStart(api, appId, signal),
      }),
    )
    .register(StageName.K8S_SYNC, new K8sSyncExecutor(k8s))
    .register(StageName.K8S_CANARY_ROLLOUT, new K8sCanaryRolloutExecutor(k8s))
    .register(StageName.K8S_CANARY_CLEAN, new K8sCanaryCleanExecutor(k8s))
    .register(StageName.K8S_BASELINE_ROLLOUT, new K8sBaselineRolloutExecutor(k8s))
    .register(StageName.K8S_BASELINE_CLEAN, new K8sBaselineCleanExecutor(k8s))
    .register(StageName.K8S_PRIMARY_ROLLOUT, new K8sPrimaryRolloutExecutor(k8s))
    .register(StageName.K8S_TRAFFIC_ROUTING, new K8sTrafficRoutingExecutor(k8s))
    .register(StageName.ROLLBACK, new RollbackExecutor(k8s))
    .register(StageName.SCRIPT_RUN, new ScriptRunExecutor())
    .register(StageName.SCRIPT_RUN_ROLLBACK, new ScriptRunRollbackExecutor());
  const reporter = new Reporter(logger.child({ component: "reporter" }));
  const notifier = new Notifier({
    config: cfg.notifications,
    webURL: cfg.webAddress.replace(/\/+$/, ""),
    piped: { id: cfg.pipedID, name: cfg.name, version: PIPED_VERSION, projectId: cfg.projectID },
    slackApiURL: o.slackApiURL,
    clock,
    logger: logger.child({ component: "notifier" }),
  });
  await notifier.init();
  const notify = (e: NotificationEvent): void => notifier.notify(e);
  const stageLogs = new StageLogPersister({
    api,
    reporter,
    clock,
    logger,
    redact: redactor.redact,
  });
  const planner = new KubernetesPlanner(manifests);
  // An app checked out at a commit, and its manifests there (drift and plan preview).
  const appAt: AppAt = (app, commit, use) =>
    withAppAt(app, commit, { repos, workDir: join(o.workDir, "work"), decrypt, redactor }, use);
  const renderIn = async (
    app: Application,
    dir: string,
    config: ApplicationConfig,
    commit: string,
    signal: AbortSignal,
  ) =>
    (
      await manifests.render(
        { id: app.id, name: app.name, dir, input: config.input },
        commit,
        signal,
      )
    ).map((m) => m.obj);
  // Live state and drift (DESIGN §7): what runs for each app, and whether it matches Git.
  const informer = provider?.config.appStateInformer;
  const liveStore = new LiveStateStore({
    kube,
    pipedId: cfg.pipedID,
    namespace: informer?.namespace ?? "",
    include: informer?.includeResources ?? [],
    exclude: informer?.excludeResources ?? [],
    logger: logger.child({ component: "live-state" }),
  });
  const events = new EventWatcher({
    api,
    repos,
    checkIntervalMs: cfg.eventWatcher.checkIntervalMs,
    identity: cfg.git,
    workDir: join(o.workDir, "events"),
    clock,
    logger: logger.child({ component: "event-watcher" }),
    onPushed: () => trigger.kick(),
  });
  const ownApps = new Set<string>();
  const liveReporter = new LiveStateReporter({
    store: liveStore,
    api,
    isOwnApp: (id) => ownApps.has(id),
    clock,
    logger: logger.child({ component: "live-state-reporter" }),
  });
  const drift: DriftDetector = new DriftDetector({
    store: liveStore,
    api,
    redact: redactor.redact,
    render: (app, commit, signal) =>
      appAt(app, commit, async (dir, config) => ({
        manifests: await renderIn(app, dir, config, commit, signal),
        ignoreFields: config.driftDetection.ignoreFields,
      })),
    isDeploying: (appId) => controller.isDeploying(appId),
    isConfigInvalid: (appId) => trigger.isConfigInvalid(appId),
    onOutOfSync: (appId) => trigger.outOfSync(appId),
    clock,
    logger: logger.child({ component: "drift" }),
  });
  const planPreview = new PlanPreviewBuilder({
    api,
    redact: redactor.redact,
    repos,
    commands: { ack: (...a) => commands.ack(...a) },
    appSelector: cfg.appSelector,
    appAt,
    render: renderIn,
    plan: async (app, target, running, signal) => {
      const r = await planner.plan({
        deployment: create(DeploymentSchema, {
          applicationId: app.id,
          applicationName: app.name,
          trigger: { commit: { hash: target.commit } },
        }),
        appConfig: target.config,
        targetDir: target.dir,
        runningDir: running?.dir,
        runningCommit: running?.commit,
        commitMessage: "",
        signal,
        requestedStrategy: SyncStrategy.AUTO,
        fromCommand: true,
      });
      return {
        strategy: r.strategy,
        summary: r.summary,
        stages: r.stages.filter((st) => !st.rollback).map((st) => st.name),
      };
    },
    logger: logger.child({ component: "plan-preview" }),
  });
  // Every command goes through one store: routed once, acked (with retries) in one place.
  const commands = new CommandStore({
    api,
    reporter,
    clock,
    route: (cmd) => {
      if (
        cmd.type === Command_Type.SYNC_APPLICATION ||
        cmd.type === Command_Type.CHAIN_SYNC_APPLICATION
      )
        trigger.syncNow(cmd);
      else if (cmd.type === Command_Type.BUILD_PLAN_PREVIEW) planPreview.handle(cmd);
      else controller.onCommand(cmd);
    },
  });
  const controller: Controller = new Controller({
    api,
    reporter,
    commands,
    redact: redactor.redact,
    registry,
    stageLogs,
    clock,
    logger: logger.child({ component: "controller" }),
    pipedId: cfg.pipedID,
    maxConcurrentDeployments: cfg.maxConcurrentDeployments,
    notify,
    onDeploymentEnded: (appId) => drift.deploymentEnded(appId),
    hooks: {
      prepare: (d, signal) =>
        prepareWorkspace(
          d,
          {
            api,
            repos,
            workDir: join(o.workDir, "work"),
            safety: cfg.safety,
            decrypt,
            redactor,
          },
          signal,
        ),
      plan: (d, ws, signal) =>
        planner.plan({
          deployment: d,
          appConfig: ws.appConfig,
          targetDir: ws.targetDir,
          runningDir: ws.runningDir,
          runningCommit: ws.runningCommit,
          commitMessage: ws.commitMessage,
          signal,
          requestedStrategy: d.trigger?.syncStrategy ?? 0,
          fromCommand: d.trigger?.kind === TriggerKind.ON_COMMAND,
        }),
    },
  });
  const trigger: Trigger = new Trigger({
    api,
    repos,
    inspectConfig: inspectAppConfig,
    appSelector: cfg.appSelector,
    syncIntervalMs: cfg.syncIntervalMs,
    clock,
    logger: logger.child({ component: "trigger" }),
    onDeploymentCreated: () => controller.kick(),
    commands,
    notify,
    onApplications: (apps) => {
      const before = new Set(ownApps);
      ownApps.clear();
      for (const a of apps) ownApps.add(a.id);
      for (const id of ownApps) if (!before.has(id)) liveReporter.touch(id);
      drift.setApplications(apps);
      events.setApplications(apps);
    },
    isOutOfSync: (appId) => drift.isOutOfSync(appId),
    onConfigValid: (appId) => drift.recheck(appId),
  });
  const stream = new CommandStream(
    api,
    {
      onCommand: (cmd: Command) => commands.receive(cmd),
      onApplicationsChanged: () => trigger.kick(),
      onEventsRegistered: () => events.kick(),
      onRepositoryPushed: (repoId, branch, commit) => {
        logger.info({ repoId, branch, commit }, "repository pushed (webhook): fetching now");
        trigger.kick();
      },
      onConnected: () => {
        controller.kick();
        trigger.kick();
      },
    },
    logger.child({ component: "watch" }),
  );
  const meta: Service = {
    name: "piped-meta",
    run: async (signal) => {
      // Tell the control plane who we are (retried until it lands), then idle until shutdown.
      // The remotes go without credentials: the control plane stores and shows them.
      let connected = false;
      await reporter.report("piped", "report piped meta", async (s) => {
        await api.call(
          "reportPipedMeta",
          {
            version: PIPED_VERSION,
            repositories: cfg.repositories.map((r) => ({
              id: r.repoId,
              remote: redactRemote(r.remote),
              branch: r.branch,
            })),
            platformProviders: cfg.platformProviders.map((p) => ({ name: p.name, type: p.type })),
            secretEncryption: keyPair
              ? { type: "KEY_PAIR", publicKey: keyPair.publicKeyPem }
              : { type: "NONE", publicKey: "" },
            configWarnings: capConfigWarnings("piped config", cfg.warnings),
          },
          { signal: s },
        );
        connected = true;
      });
      // The first call the control plane accepted: address, TLS and piped key are right (the
      // chart's NOTES.txt tells operators to look for this line).
      if (connected)
        logger.info({ controlPlane: cfg.apiAddress }, "connected to the control plane");
      await new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true }),
      );
    },
  };
  const admin =
    o.adminPort === undefined
      ? []
      : [
          new AdminServer({
            port: o.adminPort,
            host: o.adminHost ?? "127.0.0.1",
            logger,
            metrics: () => [
              {
                name: "pipecd_piped_notifications_total",
                help: "Notification deliveries per receiver: sent, retried, failed (given up), dropped (queue full).",
                samples: () =>
                  [...notifier.stats].flatMap(([receiver, st]) =>
                    (["sent", "retried", "failed", "dropped"] as const).map((result) => ({
                      labels: { receiver, result },
                      value: st[result],
                    })),
                  ),
              },
              {
                name: "pipecd_piped_live_state_reports_total",
                help: "Live-state reports sent to the control plane: snapshots, deltas, failures.",
                samples: () =>
                  (["snapshots", "deltas", "failures"] as const).map((kind) => ({
                    labels: { kind },
                    value: liveReporter.counts[kind],
                  })),
              },
              {
                name: "pipecd_piped_drift_checks_total",
                help: "Drift checks run (live objects compared with Git).",
                samples: () => [{ labels: {}, value: drift.checks }],
              },
            ],
          }),
        ];
  return {
    services: [
      ...admin,
      notifier,
      reporter,
      stageLogs,
      stream,
      meta,
      trigger,
      controller,
      planPreview,
      events,
      ...(provider ? [liveStore, liveReporter, drift] : []),
    ],
    api,
    close: async () => {
      api.close();
      for (const repo of repos.values()) await repo.dropIdleShared();
    },
  };
}
