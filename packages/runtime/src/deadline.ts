import { DeadlineExceededError } from "./errors.js";

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `fn` with a signal that aborts after `timeoutMs` (or when `signal` aborts). If the
 * deadline passes, the returned promise rejects with a DeadlineExceededError naming `what`,
 * even if `fn` ignores its signal.
 */
export async function withDeadline<T>(
  what: string,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new DeadlineExceededError(`${what} did not finish within ${timeoutMs}ms`)),
    timeoutMs,
  );
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  try {
    return await new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(combined.reason as Error);
      if (combined.aborted) {
        onAbort();
        return;
      }
      combined.addEventListener("abort", onAbort, { once: true });
      fn(combined).then(
        (v) => {
          combined.removeEventListener("abort", onAbort);
          resolve(v);
        },
        (e: unknown) => {
          combined.removeEventListener("abort", onAbort);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A promise that resolves when `signal` aborts (never rejects). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}
