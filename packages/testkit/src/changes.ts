/**
 * Wake-ups on every change the control plane announces (its server-sent events,
 * `GET /api/v1/stream`), so a test waiting for a deployment state re-reads it when something
 * changed instead of polling the REST API every few ms (what made the e2e files CPU-bound).
 * The stream reconnects across control-plane restarts; a waiter also wakes after `fallbackMs`
 * whatever happens, so a missed or unavailable stream costs latency, never a hang.
 */
export class ChangeFeed {
  private readonly waiters = new Set<() => void>();
  private readonly ac = new AbortController();
  private started = false;

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  /**
   * Resolves on the next announced change (or a stream reconnect), or after `fallbackMs`.
   * Take it before reading the state it guards, so a change in between still wakes the reader.
   */
  next(fallbackMs = 250): Promise<void> {
    if (!this.started) {
      this.started = true;
      void this.follow();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, fallbackMs);
      this.waiters.add(done);
    });
  }

  /** Stops following the stream and wakes every waiter. */
  close(): void {
    this.ac.abort();
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private async follow(): Promise<void> {
    const signal = this.ac.signal;
    while (!signal.aborted) {
      try {
        const res = await fetch(`${this.baseUrl}/api/v1/stream`, {
          headers: { accept: "text/event-stream", authorization: `Bearer ${this.apiKey}` },
          signal,
        });
        if (res.ok && res.body) {
          this.wake(); // subscribed: whatever changed while we were away is worth a look
          const decoder = new TextDecoder();
          for await (const chunk of res.body as AsyncIterable<Uint8Array>)
            if (decoder.decode(chunk, { stream: true }).includes("data:")) this.wake();
        }
      } catch {
        // Refused (control plane restarting) or aborted: retry below unless closed.
      }
      if (signal.aborted) return;
      this.wake();
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
