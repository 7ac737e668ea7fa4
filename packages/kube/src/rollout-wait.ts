import {
  DeadlineExceededError,
  backoffDelay,
  isRetryableError,
  sleep,
  type Logger,
} from "@pipecd-ts/runtime";
import { deploymentRolloutStatus } from "./rollout-status.js";
import { DEFAULT_NAMESPACE } from "./resource-key.js";
import type { KubeObject, ObjectRef } from "./types.js";
import { watchOnce, type WatchFn } from "./watch-once.js";

/** Options of `KubeClient.waitForRollout`. */
export interface RolloutWaitOptions {
  /** Give up (with reason "Timeout") after this long. */
  timeoutMs: number;
  /** Aborting rejects with the signal's reason (a cancelled wait is not a rollout result). */
  signal?: AbortSignal;
  /** Called with each new kubectl-style status line ("Waiting for deployment ..."). */
  onProgress?: (message: string) => void;
}

/** How a rollout wait ended. `message` is kubectl's line for the final state. */
export type RolloutResult =
  | { done: true; message: string }
  | {
      done: false;
      reason: "ProgressDeadlineExceeded" | "Timeout" | "Deleted";
      message: string;
    };

/** What the waiter needs from the client: a retried GET and a raw client-node watch. */
export interface RolloutWaitDeps {
  get(ref: ObjectRef, opts: { signal: AbortSignal }): Promise<KubeObject | undefined>;
  /** Path of the collection to watch, e.g. `/apis/apps/v1/namespaces/default/deployments`. */
  collectionPath(ref: ObjectRef, signal: AbortSignal): Promise<string>;
  /** client-node `Watch.watch`. */
  watch: WatchFn;
  logger: Logger;
}

/**
 * Waits for a Deployment rollout the way `kubectl rollout status` does (reference §4.2): GET,
 * evaluate, then watch the object from that resourceVersion and re-evaluate on every event. When
 * the watch ends (server timeout, network error, 410 Expired) the waiter GETs again, which both
 * relists and catches anything missed, then watches anew; errors back off with jitter.
 */
export async function waitForDeploymentRollout(
  deps: RolloutWaitDeps,
  ref: ObjectRef,
  opts: RolloutWaitOptions,
): Promise<RolloutResult> {
  const name = JSON.stringify(ref.name);
  const target: ObjectRef = { ...ref, namespace: ref.namespace || DEFAULT_NAMESPACE };
  const log = deps.logger.child({
    deployment: `${target.namespace}/${ref.name}`,
  });
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new DeadlineExceededError(
          `rollout of deployment ${name} did not finish within ${opts.timeoutMs}ms`,
        ),
      ),
    opts.timeoutMs,
  );
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
  let last = "";
  const evaluate = (obj: KubeObject): RolloutResult | undefined => {
    const st = deploymentRolloutStatus(obj);
    if (st.message !== last) {
      last = st.message;
      log.debug({ status: st.message }, "rollout status");
      opts.onProgress?.(st.message);
    }
    if (st.state === "done") return { done: true, message: st.message };
    if (st.state === "failed") return { done: false, reason: st.reason, message: st.message };
    return undefined;
  };

  let failures = 0;
  let seen = false;
  const backoff = async (why: unknown): Promise<void> => {
    failures++;
    const ms = backoffDelay(failures, { initialDelayMs: 200, maxDelayMs: 5_000 });
    log.warn(
      { err: why instanceof Error ? why.message : String(why), retryInMs: ms },
      "rollout watch interrupted",
    );
    await sleep(ms, signal);
  };
  try {
    const path = await deps.collectionPath(target, signal);
    for (;;) {
      signal.throwIfAborted();
      let live: KubeObject | undefined;
      try {
        live = await deps.get(target, { signal });
      } catch (err) {
        if (signal.aborted || !isRetryableError(err)) throw err;
        await backoff(err);
        continue;
      }
      if (!live)
        return {
          done: false,
          reason: "Deleted",
          message: seen ? `deployment ${name} was deleted` : `deployment ${name} not found`,
        };
      seen = true;
      const now = evaluate(live);
      if (now) return now;

      const end = await watchOnce(
        deps.watch,
        path,
        {
          fieldSelector: `metadata.name=${ref.name}`,
          resourceVersion: live.metadata.resourceVersion,
        },
        signal,
        (type, obj): RolloutResult | undefined => {
          if (type === "DELETED")
            return { done: false, reason: "Deleted", message: `deployment ${name} was deleted` };
          if (type === "ADDED" || type === "MODIFIED") return evaluate(obj as KubeObject);
          return undefined;
        },
      );
      switch (end.kind) {
        case "result":
          return end.result;
        case "aborted":
          signal.throwIfAborted();
          break;
        case "expired":
          failures = 0; // 410: relist (the GET above) and watch from the fresh resourceVersion
          break;
        case "closed":
          // A normal server-side close; only an immediately closed, empty stream counts as a failure.
          if (end.events === 0 && end.ms < 1_000) await backoff(new Error("watch closed at once"));
          else failures = 0;
          break;
        case "failed":
          await backoff(end.error);
          break;
      }
    }
  } catch (err) {
    if (deadline.signal.aborted && !opts.signal?.aborted)
      return {
        done: false,
        reason: "Timeout",
        message: `timed out after ${opts.timeoutMs}ms waiting for deployment ${name} rollout${last ? `; last status: ${last}` : ""}`,
      };
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
