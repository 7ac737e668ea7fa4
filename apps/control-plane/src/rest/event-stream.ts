import type { StreamReady } from "@pipecd-ts/rest-api";
import type { EventBatch } from "../hub.js";

/** What {@link eventStreamSender} needs of an HTTP response. */
export interface EventStreamResponse {
  /** Bytes written but not yet taken by the socket. */
  readonly writableLength: number;
  write(text: string): boolean;
  destroy(): void;
}

/**
 * A writer of server-sent events with backpressure: a client that stops reading is dropped once
 * more than `maxBufferedBytes` wait for it, instead of the server buffering every event for it
 * without end (issue 13: 100 such clients took the server from 253 MB to 1.2 GB). A dropped
 * client reconnects and re-reads state, as after any disconnect.
 */
export function eventStreamSender(
  res: EventStreamResponse,
  maxBufferedBytes: number,
): (text: string) => void {
  let dropped = false;
  return (text) => {
    if (dropped) return;
    if (res.writableLength + Buffer.byteLength(text) > maxBufferedBytes) {
      dropped = true;
      res.destroy();
      return;
    }
    res.write(text);
  };
}

/**
 * Where a client asks its stream to resume: the `Last-Event-ID` header (what a browser's
 * EventSource sends when it reconnects) or a `lastEventId` query parameter (a new EventSource
 * cannot set headers). Undefined when neither is a stored-event id.
 */
export function lastEventIdOf(req: {
  headers: Record<string, string | string[] | undefined>;
  query?: unknown;
}): number | undefined {
  const header = req.headers["last-event-id"];
  const query = (req.query as Record<string, unknown> | undefined)?.lastEventId;
  const raw = typeof header === "string" ? header : typeof query === "string" ? query : undefined;
  if (raw === undefined || !/^\d{1,15}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

/** Where a stream starts: the stored events to send first, and the id they end at. */
export interface StreamStart {
  /** Server-sent-event text of the stored events after the client's id, ending in `ready`. */
  text: string;
  /** The last id the client has once `text` is out. */
  upTo: number;
}

/** The `ready` event: where a stream stands, and whether the client missed nothing. */
export function readyEvent(id: number, resumed: boolean): string {
  return `id: ${id}\nevent: ready\ndata: ${JSON.stringify({ resumed } satisfies StreamReady)}\n\n`;
}

/** Reads the stored events between two ids (exclusive), or says the gap is too large. */
export type GapReader = (afterId: number, beforeId: number) => Promise<EventBatch | "too-large">;

/**
 * One client's event stream: live batches are held until {@link start} has sent the stored
 * backlog, then every event goes out once, in id order (what overlaps the backlog is dropped).
 * A batch that starts past the next id means events were not announced to this replica (its
 * LISTEN connection was down, or an event was too large for a notification): they are read from
 * the store first, and the batches behind wait. A gap too large to read tells the client to
 * re-read state (`ready` with `resumed: false`), as a resume would.
 */
export class ResumableEventStream {
  private held: EventBatch[] | undefined = [];
  private waiting: EventBatch[] | undefined;
  private sentUpTo = 0;

  constructor(
    private readonly send: (text: string) => void,
    private readonly readGap: GapReader,
  ) {}

  start(start: StreamStart): void {
    this.send(start.text);
    this.sentUpTo = start.upTo;
    const held = this.held ?? [];
    this.held = undefined;
    for (const b of held) this.live(b);
  }

  live(batch: EventBatch): void {
    if (this.held) {
      this.held.push(batch);
      return;
    }
    if (this.waiting) {
      this.waiting.push(batch);
      return;
    }
    const first = batch.items[0]?.id ?? 0;
    if (first <= this.sentUpTo + 1) {
      this.emit(batch);
      return;
    }
    this.waiting = [];
    void this.readGap(this.sentUpTo, first)
      .then(
        (gap) => {
          if (gap === "too-large") {
            this.send(readyEvent(first - 1, false));
            this.sentUpTo = first - 1;
          } else this.emit(gap);
        },
        () => undefined, // unreadable now: what follows still goes out
      )
      .finally(() => {
        const behind = this.waiting ?? [];
        this.waiting = undefined;
        this.emit(batch);
        for (const b of behind) this.live(b);
      });
  }

  private emit(batch: EventBatch): void {
    const last = batch.items.at(-1)?.id ?? 0;
    if (last <= this.sentUpTo) return;
    if ((batch.items[0]?.id ?? 0) > this.sentUpTo) this.send(batch.text);
    else
      this.send(
        batch.items
          .filter((i) => i.id > this.sentUpTo)
          .map((i) => i.text)
          .join(""),
      );
    this.sentUpTo = last;
  }
}
