import { AppError, backoffDelay, sleep, type Logger, type Service } from "@pipecd-ts/runtime";

interface Item {
  what: string;
  fn: (signal: AbortSignal) => Promise<unknown>;
  resolve: () => void;
}

const RETRYABLE = new Set([
  "UNAVAILABLE",
  "DEADLINE_EXCEEDED",
  "RESOURCE_EXHAUSTED",
  "INTERNAL",
  "CANCELLED",
]);

/**
 * Delivers report RPCs in order per key (a deployment id) and retries each with jittered backoff
 * until it lands, so a control plane that is down for a while loses nothing and sees reports in
 * the order they were made. Reports are idempotent on the server, so a retry after a lost answer
 * is harmless. A report the server refuses for good (invalid, forbidden, illegal transition) is
 * logged and dropped rather than blocking the queue.
 */
export class Reporter implements Service {
  readonly name = "reporter";
  private readonly queues = new Map<string, Item[]>();
  private readonly running = new Set<string>();
  private idle: (() => void) | undefined;

  constructor(private readonly logger: Logger) {}

  /** Queues a report under `key`; resolves once it landed (or was dropped as permanent). */
  report(key: string, what: string, fn: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    return new Promise((resolve) => {
      const q = this.queues.get(key) ?? [];
      q.push({ what, fn, resolve });
      this.queues.set(key, q);
      this.kick(key);
    });
  }

  /** Number of reports not delivered yet. */
  pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  async run(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    // Drain: keep delivering until the supervisor's grace period forces us out.
    if (this.pending() > 0) {
      this.logger.info({ pending: this.pending() }, "flushing queued reports before exit");
      await new Promise<void>((resolve) => (this.idle = resolve));
    }
  }

  /** Called when the grace period is over: stop waiting for undeliverable reports. */
  forceStop(): void {
    this.idle?.();
  }

  private kick(key: string): void {
    if (this.running.has(key)) return;
    this.running.add(key);
    this.drainKey(key)
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(key);
        // A report queued after the drain emptied the queue but before this ran needs a drain.
        if (this.queues.get(key)?.length) this.kick(key);
        else if (this.pending() === 0) this.idle?.();
      });
  }

  private async drainKey(key: string): Promise<void> {
    const q = this.queues.get(key);
    while (q && q.length > 0) {
      const item = q[0];
      if (!item) break;
      for (let attempt = 1; ; attempt++) {
        try {
          await item.fn(new AbortController().signal);
          break;
        } catch (err) {
          const code = err instanceof AppError ? err.code : "UNAVAILABLE";
          if (!RETRYABLE.has(code)) {
            this.logger.error(
              { err: (err as Error).message, code, report: item.what },
              "report refused by the control plane; dropping it",
            );
            break;
          }
          const delay = backoffDelay(attempt, { initialDelayMs: 200, maxDelayMs: 5_000 });
          if (attempt === 1 || attempt % 10 === 0)
            this.logger.warn(
              { err: (err as Error).message, report: item.what, attempt, delayMs: delay },
              "report failed; retrying",
            );
          await sleep(delay);
        }
      }
      q.shift();
      item.resolve();
    }
    if (this.queues.get(key) === q && q?.length === 0) this.queues.delete(key);
  }
}
