import { AppError } from "@pipecd-ts/runtime";

/**
 * Fair turns per key: at most `inFlight` calls of one key run at once, the rest wait in arrival
 * order, and past `maxWaiting` waiting calls a key's next call is refused (RESOURCE_EXHAUSTED).
 * Keyed by piped, so one busy piped cannot hold every datastore connection while others wait.
 */
export class Turns {
  private readonly keys = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(
    private readonly inFlight: number,
    private readonly maxWaiting: number,
    private readonly what: string,
  ) {}

  /** Runs `fn` in one of `key`'s turns. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let k = this.keys.get(key);
    if (!k) this.keys.set(key, (k = { running: 0, waiting: [] }));
    if (k.running < this.inFlight) k.running++;
    else if (k.waiting.length >= this.maxWaiting)
      throw new AppError(
        "RESOURCE_EXHAUSTED",
        `${this.what} ${key} has ${k.running} calls running and ${k.waiting.length} waiting; retry later`,
      );
    else await new Promise<void>((resolve) => k.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = k.waiting.shift();
      if (next)
        next(); // the turn passes on; `running` stays
      else if (--k.running === 0) this.keys.delete(key);
    }
  }

  /** Keys with calls running or waiting (for tests and metrics). */
  get size(): number {
    return this.keys.size;
  }
}
