import { DeadlineExceededError } from "./errors.js";

/** The longest delay setTimeout honours: a longer one (or AbortSignal.timeout) fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * setTimeout for any delay (a WAIT_APPROVAL `timeout: 720h` is longer than 24.8 days): re-arms
 * in steps of at most {@link MAX_TIMER_MS}. Returns the function that cancels it.
 */
export function setLongTimeout(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = (left: number): void => {
    timer =
      left > MAX_TIMER_MS
        ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS)
        : setTimeout(fn, Math.max(0, left));
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** An AbortSignal that aborts after `ms`, for any delay (see {@link setLongTimeout}). */
export function longTimeoutSignal(ms: number): AbortSignal {
  const ac = new AbortController();
  setLongTimeout(
    () => ac.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ms,
  );
  return ac.signal;
}

/** Resolves after `ms` (any length), or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason as Error);
    };
    const cancel = setLongTimeout(() => {
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
