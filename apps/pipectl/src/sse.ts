import { RestError, type StreamEvent } from "@pipecd-ts/rest-api";
import { errorCodeOfHttpStatus } from "@pipecd-ts/runtime";

/** Options of {@link openEventStream}. */
export interface EventStreamOptions {
  /** REST base URL. */
  address: string;
  apiKey: string;
  /** Bound on the connect phase (until the response headers arrive). */
  connectTimeoutMs: number;
  /**
   * The stream is given up as dead when nothing (not even the server's 15 s keep-alive comment)
   * arrives for this long.
   */
  idleTimeoutMs: number;
  signal: AbortSignal;
}

/** An open `GET /api/v1/stream`: the server has subscribed this client when it is returned. */
export interface EventStream {
  /** The events, until the stream ends, fails, goes idle or the signal aborts. */
  events: AsyncIterable<StreamEvent>;
  close(): void;
}

/**
 * Opens the control plane's server-sent event stream. It resolves once the response headers
 * arrived: the server registers the subscriber in the same turn as it writes them, so every
 * change made after this resolves is delivered (what `deployment wait` relies on to miss nothing
 * between its stream opening and its first GET).
 */
export async function openEventStream(o: EventStreamOptions): Promise<EventStream> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(o.signal.reason);
  o.signal.addEventListener("abort", onAbort, { once: true });
  const connectTimer = setTimeout(
    () => ac.abort(new DOMException("connect timeout", "TimeoutError")),
    o.connectTimeoutMs,
  );
  const close = (): void => {
    clearTimeout(connectTimer);
    o.signal.removeEventListener("abort", onAbort);
    ac.abort();
  };
  let res: Response;
  try {
    res = await fetch(`${o.address.replace(/\/+$/, "")}/api/v1/stream`, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${o.apiKey}` },
      signal: ac.signal,
    });
  } catch (err) {
    // An abort by our connect timer surfaces as its TimeoutError reason (read before close(),
    // which aborts with a plain AbortError).
    const timedOut = ac.signal.aborted && !o.signal.aborted;
    const reason: unknown = ac.signal.reason;
    close();
    throw timedOut ? reason : err;
  } finally {
    clearTimeout(connectTimer);
  }
  if (res.status !== 200 || !res.body) {
    const text = await res.text().catch(() => "");
    close();
    let message = `HTTP ${res.status}`;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new RestError(res.status, errorCodeOfHttpStatus(res.status), message);
  }
  const body = res.body;
  async function* events(): AsyncGenerator<StreamEvent> {
    const decoder = new TextDecoder();
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    let buf = "";
    let idle: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(
        () => ac.abort(new DOMException("event stream idle", "TimeoutError")),
        o.idleTimeoutMs,
      );
    };
    try {
      arm();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        arm();
        buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          // `ready` starts every stream (where it stands); it is no change.
          if (/^event: ?ready$/m.test(block)) continue;
          const data = block
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (!data) continue; // a comment (": keep-alive") or an event without data
          try {
            yield JSON.parse(data) as StreamEvent;
          } catch {
            // A malformed event is skipped; the waiter re-reads state on its own anyway.
          }
        }
      }
    } finally {
      clearTimeout(idle);
      close();
      reader.releaseLock();
    }
  }
  return { events: events(), close };
}
