import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  KubernetesResourceStateSchema,
  KubernetesResourceState_HealthStatus as HealthStatus,
  type KubernetesResourceState,
} from "@pipecd-ts/proto";
import { aggregateHealth, type Health } from "@pipecd-ts/plugin-kubernetes";
import { AppError, type Clock, type Logger, type Service } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import type { LiveNode, LiveStateStore } from "./store.js";
import { WorkSet } from "./work-set.js";

/** Options of {@link LiveStateReporter}. */
export interface LiveStateReporterOptions {
  store: Pick<LiveStateStore, "onChange" | "tree">;
  api: Pick<ApiClient, "call">;
  /** Whether an application is one of this piped's (objects can name any id). */
  isOwnApp(appId: string): boolean;
  clock: Clock;
  logger: Logger;
  /** Changes within this window go out together. Default 300 ms. */
  coalesceMs?: number;
}

interface Sent {
  version: bigint;
  /** Resource id → fingerprint of what was sent. */
  resources: Map<string, string>;
  health: string;
}

/** A resource's state without its timestamps, to see whether it changed. */
function fingerprint(r: KubernetesResourceState): string {
  return JSON.stringify([
    r.ownerIds,
    r.name,
    r.apiVersion,
    r.kind,
    r.namespace,
    r.healthStatus,
    r.healthDescription,
    r.resourceKey,
  ]);
}

/**
 * Sends each application's live state to the control plane as it changes (PipeCD's
 * `livestatereporter`, without its timers): the first report of an application after start is a
 * full snapshot, then only deltas, the resources added, changed or gone, within `coalesceMs`
 * of a change. A delta the control plane refuses (its stored version is not the one this piped
 * last saw: another replica, a restart) is followed by a snapshot. Failed reports are retried
 * with a growing, jittered delay.
 */
export class LiveStateReporter implements Service {
  readonly name = "live-state-reporter";
  private readonly work = new WorkSet();
  private readonly sent = new Map<string, Sent>();
  /** Reports sent so far (snapshots and deltas), for the operator and tests. */
  readonly counts = { snapshots: 0, deltas: 0, failures: 0 };

  constructor(private readonly o: LiveStateReporterOptions) {}

  /** Reports `appId` again (e.g. it became one of this piped's applications). */
  touch(appId: string): void {
    this.work.add(appId);
  }

  async run(signal: AbortSignal): Promise<void> {
    const off = this.o.store.onChange((apps) => {
      for (const a of apps) this.work.add(a);
    });
    try {
      await this.work.run(signal, {
        coalesceMs: this.o.coalesceMs ?? 300,
        work: (appId, s) => (this.o.isOwnApp(appId) ? this.report(appId, s) : Promise.resolve()),
        failed: (appId, err) => {
          this.counts.failures++;
          this.o.logger.warn(
            { applicationId: appId, err: (err as Error).message },
            "could not report live state; retrying",
          );
        },
        initialDelayMs: 500,
        maxDelayMs: 30_000,
      });
    } finally {
      off();
    }
  }

  private async report(appId: string, signal: AbortSignal): Promise<void> {
    const now = timestampFromDate(this.o.clock.now());
    const nodes = this.o.store.tree(appId);
    const states = nodes.map((n) => toState(n));
    const health = aggregateHealth(
      nodes.map((n) => ({ kind: n.kind, name: n.name, health: n.health })),
    );
    const healthStatus = healthEnum(health.status);
    const prev = this.sent.get(appId);
    const current = new Map(states.map((s) => [s.id, fingerprint(s)]));
    const healthKey = `${health.status}\0${health.description}`;
    if (prev) {
      const upserted = states.filter((s) => prev.resources.get(s.id) !== current.get(s.id));
      const removedIds = [...prev.resources.keys()].filter((id) => !current.has(id));
      if (upserted.length === 0 && removedIds.length === 0 && prev.health === healthKey) return;
      for (const s of upserted) s.updatedAt = now;
      try {
        const res = await this.o.api.call(
          "reportApplicationLiveState",
          {
            delta: {
              applicationId: appId,
              baseVersion: prev.version,
              upserted,
              removedIds,
              healthStatus,
              healthDescription: health.description,
            },
          },
          { signal },
        );
        this.counts.deltas++;
        this.sent.set(appId, { version: res.version, resources: current, health: healthKey });
        return;
      } catch (err) {
        if (!(err instanceof AppError && err.code === "FAILED_PRECONDITION")) throw err;
        // The stored state is not what we last sent: send all of it.
      }
    }
    for (const s of states) s.updatedAt ??= now;
    const res = await this.o.api.call(
      "reportApplicationLiveState",
      {
        snapshot: {
          applicationId: appId,
          healthStatus,
          healthDescription: health.description,
          kubernetesResources: states,
        },
      },
      { signal },
    );
    this.counts.snapshots++;
    this.sent.set(appId, { version: res.version, resources: current, health: healthKey });
  }
}

/** The wire enum of a health status name. */
function healthEnum(s: Health["status"]): HealthStatus {
  return HealthStatus[s];
}

/** The wire form of a live node. */
function toState(n: LiveNode): KubernetesResourceState {
  const created = Date.parse(n.createdAt);
  return create(KubernetesResourceStateSchema, {
    id: n.uid,
    ownerIds: n.ownerUids,
    parentIds: n.ownerUids,
    name: n.name,
    apiVersion: n.apiVersion,
    kind: n.kind,
    namespace: n.namespace,
    healthStatus: healthEnum(n.health.status),
    healthDescription: n.health.description,
    resourceKey: n.key,
    ...(Number.isFinite(created) ? { createdAt: timestampFromDate(new Date(created)) } : {}),
  });
}
