import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Command_Type, TriggerKind, type Command } from "@pipecd-ts/proto";
import { parseApplicationConfig, redactRemote, type PipedConfig } from "@pipecd-ts/config";
import { createKubeClient } from "@pipecd-ts/kube";
import { StageName } from "@pipecd-ts/model";
import { WaitApprovalExecutor, WaitExecutor } from "@pipecd-ts/plugin-basic";
import {
  K8sBaselineCleanExecutor,
  K8sBaselineRolloutExecutor,
  K8sCanaryCleanExecutor,
  K8sCanaryRolloutExecutor,
  K8sPrimaryRolloutExecutor,
  K8sSyncExecutor,
  K8sTrafficRoutingExecutor,
  KubernetesPlanner,
  RollbackExecutor,
  type KubernetesPlannerInput,
} from "@pipecd-ts/plugin-kubernetes";
import { ExecutorRegistry } from "@pipecd-ts/plugin-sdk";
import { systemClock, type Clock, type Logger, type Service } from "@pipecd-ts/runtime";
import { createApiClient, type ApiClient } from "./apiclient/client.js";
import { Reporter } from "./apiclient/reporter.js";
import { CommandStream } from "./apiclient/watch.js";
import { Controller } from "./controller/controller.js";
import { prepareWorkspace } from "./controller/workspace.js";
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
}

/** A piped's long-running components, ready for `supervise()`. */
export interface Piped {
  services: Service[];
  api: ApiClient;
  close(): void;
}

/** Validates an app config for the trigger: its trigger settings or the error naming the field. */
export const inspectAppConfig: ConfigInspector = (file, text) => {
  try {
    return { ok: true, trigger: parseApplicationConfig(file, text).trigger };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
};

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
  const k8s = { kube, safety: cfg.safety };
  const registry = new ExecutorRegistry()
    .register(StageName.WAIT, new WaitExecutor())
    .register(StageName.WAIT_APPROVAL, new WaitApprovalExecutor())
    .register(StageName.K8S_SYNC, new K8sSyncExecutor(k8s))
    .register(StageName.K8S_CANARY_ROLLOUT, new K8sCanaryRolloutExecutor(k8s))
    .register(StageName.K8S_CANARY_CLEAN, new K8sCanaryCleanExecutor(k8s))
    .register(StageName.K8S_BASELINE_ROLLOUT, new K8sBaselineRolloutExecutor(k8s))
    .register(StageName.K8S_BASELINE_CLEAN, new K8sBaselineCleanExecutor(k8s))
    .register(StageName.K8S_PRIMARY_ROLLOUT, new K8sPrimaryRolloutExecutor(k8s))
    .register(StageName.K8S_TRAFFIC_ROUTING, new K8sTrafficRoutingExecutor(k8s))
    .register(StageName.ROLLBACK, new RollbackExecutor(k8s));
  const reporter = new Reporter(logger.child({ component: "reporter" }));
  const stageLogs = new StageLogPersister({ api, reporter, clock, logger });
  const planner = new KubernetesPlanner();
  const controller = new Controller({
    api,
    reporter,
    registry,
    stageLogs,
    clock,
    logger: logger.child({ component: "controller" }),
    pipedId: cfg.pipedID,
    hooks: {
      prepare: (d, signal) =>
        prepareWorkspace(
          d,
          { api, repos, workDir: join(o.workDir, "work"), safety: cfg.safety },
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
        } as KubernetesPlannerInput),
    },
  });
  const trigger = new Trigger({
    api,
    repos,
    inspectConfig: inspectAppConfig,
    syncIntervalMs: cfg.syncIntervalMs,
    clock,
    logger: logger.child({ component: "trigger" }),
    onDeploymentCreated: () => controller.kick(),
  });
  const stream = new CommandStream(
    api,
    {
      onCommand: (cmd: Command) => {
        if (cmd.type === Command_Type.SYNC_APPLICATION) trigger.syncNow(cmd);
        else controller.onCommand(cmd);
      },
      onApplicationsChanged: () => trigger.kick(),
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
  return {
    services: [reporter, stageLogs, stream, meta, trigger, controller],
    api,
    close: () => api.close(),
  };
}
