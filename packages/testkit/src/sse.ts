/** One parsed server-sent event. */
export interface SseEvent {
  id: string;
  event: string;
  data: string;
}

/**
 * A reader of `GET /api/v1/stream` for tests: parses every event (id, type, data) as it arrives
 * and lets a test wait for one matching a predicate, with a deadline.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  private readonly ac = new AbortController();
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor() {}

  /** Opens the stream (rejects on a non-200 answer); `lastEventId` resumes after that id. */
  static async open(
    baseUrl: string,
    auth: { apiKey: string } | { cookie: string },
    lastEventId?: string,
  ): Promise<SseReader> {
    const r = new SseReader();
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if ("apiKey" in auth) headers.authorization = `Bearer ${auth.apiKey}`;
    else headers.cookie = auth.cookie;
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    // The 10 s bound is on the answer's headers only: the body stays open until close().
    const timer = setTimeout(() => r.ac.abort(new Error("no answer within 10 s")), 10_000);
    const res = await fetch(`${baseUrl}/api/v1/stream`, { headers, signal: r.ac.signal })
      .catch((err: unknown) => {
        throw new Error(`GET /api/v1/stream: ${(err as Error).message}`);
      })
      .finally(() => clearTimeout(timer));
    if (res.status !== 200 || !res.body)
      throw new Error(`GET /api/v1/stream: HTTP ${res.status}: ${await res.text()}`);
    void r.read(res.body);
    return r;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev: SseEvent = { id: "", event: "message", data: "" };
          let fields = 0;
          for (const line of block.split("\n")) {
            const i = line.indexOf(":");
            if (i <= 0) continue; // a comment or a blank line
            const [k, v] = [line.slice(0, i), line.slice(i + 1).replace(/^ /, "")];
            if (k === "id" || k === "event" || k === "data") {
              ev[k] = v;
              fields++;
            }
          }
          if (fields) this.events.push(ev);
          this.wakeAll();
        }
      }
    } catch {
      // aborted or dropped: `ended` tells the waiters
    } finally {
      this.ended = true;
      this.wakeAll();
    }
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Whether the server ended the stream (or it dropped). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The first event (from index `from`) matching `pred`; fails after `timeoutMs`. */
  async next(pred: (e: SseEvent) => boolean, timeoutMs = 5_000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found) return found;
      if (this.ended) throw new Error("the event stream ended");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching server-sent event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  close(): void {
    this.ac.abort();
  }
}
