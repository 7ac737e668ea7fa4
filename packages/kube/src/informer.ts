import { AppError, backoffDelay, sleep, type Logger } from "@pipecd-ts/runtime";
import type { KubeObject } from "./types.js";
import { watchOnce, type WatchFn } from "./watch-once.js";

/** List errors that end an informer instead of being retried. */
const FINAL: ReadonlySet<string> = new Set(["PERMISSION_DENIED", "NOT_FOUND", "UNAUTHENTICATED"]);

/** What an informer tells its owner. Objects carry apiVersion and kind. */
export interface InformerHandler {
  /** Everything there is after a (re)list: what is not in `objects` is gone. */
  replace(objects: KubeObject[]): void;
  /** An object was added or changed. */
  upsert(object: KubeObject): void;
  /** An object was deleted (its last state). */
  remove(object: KubeObject): void;
}

/** What {@link runInformer} needs from the client. */
export interface InformerDeps {
  /** Lists every object (all pages) and the list's resourceVersion; retried inside. */
  list(signal: AbortSignal): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** The collection path to watch. */
  collectionPath(signal: AbortSignal): Promise<string>;
  watch: WatchFn;
  logger: Logger;
}

/**
 * A reflector (client-go's list + watch): lists once, then watches from the list's
 * resourceVersion, following every event's and bookmark's resourceVersion, so that a watch the
 * server closed (its timeout) or the network broke resumes where it stood without listing again.
 * Only a 410 Expired (the version is too old) or repeated failures list again. Failures back off
 * with jitter (200 ms up to 30 s). Runs until `signal` aborts; rejects when the list is
 * forbidden or the kind is not served.
 */
export async function runInformer(
  deps: InformerDeps,
  apiVersion: string,
  kind: string,
  handler: InformerHandler,
  signal: AbortSignal,
): Promise<void> {
  let rv: string | undefined;
  let failures = 0;
  const typed = (o: unknown): KubeObject => ({ ...(o as KubeObject), apiVersion, kind });
  const backoff = async (why: unknown): Promise<void> => {
    failures++;
    const ms = backoffDelay(failures, { initialDelayMs: 200, maxDelayMs: 30_000 });
    deps.logger.warn(
      { kind, err: why instanceof Error ? why.message : String(why), retryInMs: ms, failures },
      "informer interrupted",
    );
    await sleep(ms, signal);
  };
  let path: string | undefined;
  while (!signal.aborted) {
    if (rv === undefined) {
      try {
        path ??= await deps.collectionPath(signal);
        const listed = await deps.list(signal);
        handler.replace(listed.items.map(typed));
        rv = listed.resourceVersion;
      } catch (err) {
        if (signal.aborted) return;
        // Not allowed (RBAC) or not served (no CRD): waiting does not help; the owner decides.
        if (err instanceof AppError && FINAL.has(err.code)) throw err;
        await backoff(err);
        continue;
      }
    }
    const end = await watchOnce(deps.watch, path!, { resourceVersion: rv }, signal, (type, o) => {
      const obj = o as KubeObject | null;
      const next = obj?.metadata?.resourceVersion;
      if (type === "ADDED" || type === "MODIFIED") handler.upsert(typed(obj));
      else if (type === "DELETED") handler.remove(typed(obj));
      if (next) rv = next;
      return undefined;
    });
    switch (end.kind) {
      case "aborted":
      case "result":
        return;
      case "expired":
        rv = undefined; // too old: list again
        failures = 0;
        break;
      case "closed":
        if (end.events === 0 && end.ms < 1_000) await backoff(new Error("watch closed at once"));
        else failures = 0;
        break;
      case "failed":
        await backoff(end.error).catch(() => undefined);
        // Several failures in a row: start over from a fresh list.
        if (failures >= 3) rv = undefined;
        break;
    }
  }
}
