import {
  DeadlineExceededError,
  backoffDelay,
  isRetryableError,
  sleep,
  type Logger,
} from "@pipecd-ts/runtime";
import { httpStatusOfError } from "./errors.js";
import { deploymentRolloutStatus } from "./rollout-status.js";
import { DEFAULT_NAMESPACE } from "./resource-key.js";
import type { KubeObject, ObjectRef } from "./types.js";

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
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
  logger: Logger;
}

/** The server closes each watch after this long; the waiter then re-GETs and watches again. */
const WATCH_TIMEOUT_SECONDS = 120;
/** A watch that delivered nothing (not even a bookmark) for this long is presumed dead. */
const WATCH_IDLE_MS = (WATCH_TIMEOUT_SECONDS + 30) * 1000;

type WatchEnd =
  | { kind: "result"; result: RolloutResult }
  | { kind: "expired" }
  | { kind: "closed"; events: number; ms: number }
  | { kind: "failed"; error: unknown }
  | { kind: "aborted" };

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
        deps,
        path,
        ref.name,
        live.metadata.resourceVersion,
        signal,
        (type, obj) => {
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

/** One watch of the named Deployment from `resourceVersion`, until `onEvent` decides or it ends. */
function watchOnce(
  deps: RolloutWaitDeps,
  path: string,
  objectName: string,
  resourceVersion: string | undefined,
  signal: AbortSignal,
  onEvent: (type: string, object: unknown) => RolloutResult | undefined,
): Promise<WatchEnd> {
  return new Promise<WatchEnd>((resolve) => {
    const started = Date.now();
    let events = 0;
    let controller: AbortController | undefined;
    let finished = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (end: WatchEnd): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idle);
      signal.removeEventListener("abort", onAbort);
      controller?.abort();
      resolve(end);
    };
    const onAbort = (): void => finish({ kind: "aborted" });
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(
        () => finish({ kind: "failed", error: new Error(`watch idle for ${WATCH_IDLE_MS}ms`) }),
        WATCH_IDLE_MS,
      );
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    armIdle();
    deps
      .watch(
        path,
        {
          fieldSelector: `metadata.name=${objectName}`,
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: WATCH_TIMEOUT_SECONDS,
        },
        (type, object) => {
          if (finished) return;
          events++;
          armIdle();
          if (type === "ERROR") {
            const code = (object as { code?: number } | null)?.code;
            if (code === 410) finish({ kind: "expired" });
            else
              finish({
                kind: "failed",
                error: new Error(`watch error event: ${JSON.stringify(object)}`),
              });
            return;
          }
          const result = onEvent(type, object);
          if (result) finish({ kind: "result", result });
        },
        (err) => {
          if (err === null || err === undefined)
            finish({ kind: "closed", events, ms: Date.now() - started });
          else if (httpStatusOfError(err) === 410) finish({ kind: "expired" });
          else finish({ kind: "failed", error: err });
        },
      )
      .then(
        (c) => {
          controller = c;
          if (finished) c.abort();
        },
        (err: unknown) => finish({ kind: "failed", error: err }),
      );
  });
}
