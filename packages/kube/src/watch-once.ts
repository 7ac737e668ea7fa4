import { httpStatusOfError } from "./errors.js";

/** client-node `Watch.watch`: streams the events of `path` until `done`; abort to stop. */
export type WatchFn = (
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  onEvent: (type: string, object: unknown) => void,
  done: (err: unknown) => void,
) => Promise<AbortController>;

/** The server closes each watch after this long; the watcher then watches again. */
export const WATCH_TIMEOUT_SECONDS = 120;
/** A watch that delivered nothing (not even a bookmark) for this long is presumed dead. */
const WATCH_IDLE_MS = (WATCH_TIMEOUT_SECONDS + 30) * 1000;

/** How one watch ended: a result `onEvent` returned, 410 Expired, a server close, an error, an abort. */
export type WatchEnd<T> =
  | { kind: "result"; result: T }
  | { kind: "expired" }
  | { kind: "closed"; events: number; ms: number }
  | { kind: "failed"; error: unknown }
  | { kind: "aborted" };

/**
 * One watch of the collection at `path` (with bookmarks and the server-side timeout), until
 * `onEvent` returns a result, the stream ends or `signal` aborts. A stream silent for longer
 * than the server timeout plus 30 s is presumed dead ("failed").
 */
export function watchOnce<T>(
  watch: WatchFn,
  path: string,
  query: { fieldSelector?: string; resourceVersion?: string },
  signal: AbortSignal,
  onEvent: (type: string, object: unknown) => T | undefined,
): Promise<WatchEnd<T>> {
  return new Promise<WatchEnd<T>>((resolve) => {
    const started = Date.now();
    let events = 0;
    let controller: AbortController | undefined;
    let finished = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (end: WatchEnd<T>): void => {
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
    watch(
      path,
      {
        ...query,
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
        if (result !== undefined) finish({ kind: "result", result });
      },
      (err) => {
        if (err === null || err === undefined)
          finish({ kind: "closed", events, ms: Date.now() - started });
        else if (httpStatusOfError(err) === 410) finish({ kind: "expired" });
        else finish({ kind: "failed", error: err });
      },
    ).then(
      (c) => {
        controller = c;
        if (finished) c.abort();
      },
      (err: unknown) => finish({ kind: "failed", error: err }),
    );
  });
}
