import { sleep } from "./deadline.js";
import { AppError, isRetryableCode } from "./errors.js";

/** Options of {@link retry}. Every retry is bounded by `maxAttempts` and by `signal`. */
export interface RetryOptions {
  /** Total attempts including the first; must be ≥ 1. */
  maxAttempts: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  multiplier?: number;
  /** Stops waiting and rethrows the signal's reason when it aborts. */
  signal?: AbortSignal;
  /** Which errors to retry; default: AppErrors with a retryable code. */
  isRetryable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Source of randomness for jitter (tests pass a fixed one). */
  random?: () => number;
}

/** Default retry predicate: AppErrors whose code is UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED. */
export function isRetryableError(err: unknown): boolean {
  return err instanceof AppError && isRetryableCode(err.code);
}

/**
 * Exponential backoff with "equal jitter": the n-th delay is uniformly drawn from
 * [d/2, d] where d = min(maxDelayMs, initialDelayMs × multiplier^(n-1)).
 */
export function backoffDelay(
  attempt: number,
  opts: Pick<RetryOptions, "initialDelayMs" | "maxDelayMs" | "multiplier" | "random">,
): number {
  const initial = opts.initialDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 10_000;
  const mult = opts.multiplier ?? 2;
  const random = opts.random ?? Math.random;
  const d = Math.min(max, initial * mult ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}

/** Calls `fn` until it succeeds, a non-retryable error occurs, attempts run out or `signal` aborts. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  if (!(opts.maxAttempts >= 1)) throw new RangeError("retry: maxAttempts must be >= 1");
  const isRetryable = opts.isRetryable ?? isRetryableError;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= opts.maxAttempts || !isRetryable(err) || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, opts);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}
