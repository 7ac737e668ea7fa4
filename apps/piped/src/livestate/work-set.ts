import { backoffDelay, sleep } from "@pipecd-ts/runtime";

/** How a {@link WorkSet} works its keys. */
export interface WorkSetOptions {
  /** Keys added within this window are worked together. */
  coalesceMs: number;
  /** Works one key; a throw puts it back for a later round. */
  work(key: string, signal: AbortSignal): Promise<void>;
  /** Told of each failure (for the log). */
  failed(key: string, err: unknown): void;
  /** The delay after a round with failures: first and cap (jittered, doubling). */
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Keys that need work (applications whose live state or drift must be looked at again): added
 * any time, worked in rounds after a short coalescing window, each key once per round however
 * often it was added. A key whose work failed comes back in the next round, after a growing,
 * jittered delay; the delay resets after a round without failures.
 */
export class WorkSet {
  private readonly keys = new Set<string>();
  private wake: (() => void) | undefined;

  /** Marks `key` for the next round. */
  add(key: string): void {
    this.keys.add(key);
    this.wake?.();
  }

  /** Works rounds until `signal` aborts. */
  async run(signal: AbortSignal, o: WorkSetOptions): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      if (this.keys.size === 0) await untilWoken(signal, (wake) => (this.wake = wake));
      this.wake = undefined;
      if (signal.aborted) return;
      await sleep(o.coalesceMs, signal).catch(() => undefined);
      const round = [...this.keys];
      this.keys.clear();
      let failed = false;
      for (const key of round) {
        if (signal.aborted) return;
        try {
          await o.work(key, signal);
        } catch (err) {
          if (signal.aborted) return;
          failed = true;
          this.keys.add(key);
          o.failed(key, err);
        }
      }
      failures = failed ? failures + 1 : 0;
      if (failed)
        await sleep(
          backoffDelay(failures, { initialDelayMs: o.initialDelayMs, maxDelayMs: o.maxDelayMs }),
          signal,
        ).catch(() => undefined);
    }
  }
}

/**
 * Waits until `register`'s callback is called or `signal` aborts, and leaves no listener on the
 * signal behind (a long-running loop would pile one up per wait).
 */
export function untilWoken(
  signal: AbortSignal,
  register: (wake: () => void) => void,
  timeoutMs?: number,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    if (signal.aborted) return done();
    signal.addEventListener("abort", done, { once: true });
    if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    register(done);
  });
}
