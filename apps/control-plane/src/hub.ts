import { MAX_NOTIFY_PAYLOAD, type Notifier } from "@pipecd-ts/datastore";
import type { StreamEvent } from "@pipecd-ts/rest-api";
import type { Logger } from "@pipecd-ts/runtime";

const CH_COMMANDS = "pipecd_commands";
const CH_APPS = "pipecd_apps";
const CH_EVENTS = "pipecd_events";
const CH_PIPED_ACCESS = "pipecd_piped_access";

/** Receives notices for one connected Watch stream. */
export interface WatchSink {
  /** New commands may be stored for this piped: fetch and send them. */
  commandsAvailable(): void;
  applicationsChanged(applicationIds: string[]): void;
  /** The piped was disabled or lost keys: authenticate the stream again, or end it. */
  accessChanged(): void;
}

/**
 * Fan-out of change notices over the datastore notifier, so that with PostgreSQL whichever
 * replica holds a piped's stream hears about a command stored by another replica (LISTEN/NOTIFY),
 * and with SQLite it is an in-process call. Commands themselves are re-read from the datastore
 * by the stream, which keeps ordering and resumption in one place (the sequence).
 */
export class Hub {
  private readonly sinks = new Map<string, Set<WatchSink>>();
  private readonly listeners = new Set<(text: string) => void>();
  private readonly accessListeners = new Set<(pipedId: string) => void>();
  /** `id:` of the last server-sent event of this replica. */
  private eventSeq = 0;
  private readonly unsubscribe: (() => void)[] = [];
  private pending: StreamEvent[] = [];
  private closed = false;

  constructor(
    private readonly notifier: Notifier,
    private readonly logger: Logger,
  ) {
    this.unsubscribe.push(
      notifier.subscribe(CH_COMMANDS, (pipedId) => {
        for (const s of this.sinks.get(pipedId) ?? []) s.commandsAvailable();
      }),
      notifier.subscribe(CH_APPS, (payload) => {
        const { pipedId, applicationIds } = JSON.parse(payload) as {
          pipedId: string;
          applicationIds: string[];
        };
        for (const s of this.sinks.get(pipedId) ?? []) s.applicationsChanged(applicationIds);
      }),
      notifier.subscribe(CH_PIPED_ACCESS, (pipedId) => {
        // Caches first (every replica's authenticator), then the streams re-check against them.
        for (const l of this.accessListeners) l(pipedId);
        for (const s of this.sinks.get(pipedId) ?? []) s.accessChanged();
      }),
      notifier.subscribe(CH_EVENTS, (payload) => {
        if (this.listeners.size === 0) return;
        // The server-sent-event text of a batch is made once and shared by every stream: made
        // per stream, 40,000 events for 100 streams took the server past 650 MB (issue 13).
        let text = "";
        for (const ev of JSON.parse(payload) as StreamEvent[])
          text += `id: ${++this.eventSeq}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;
        for (const l of this.listeners) l(text);
      }),
    );
  }

  /** Registers a Watch stream of `pipedId`; returns the function that detaches it. */
  attach(pipedId: string, sink: WatchSink): () => void {
    let set = this.sinks.get(pipedId);
    if (!set) this.sinks.set(pipedId, (set = new Set()));
    set.add(sink);
    return () => {
      set.delete(sink);
      if (set.size === 0) this.sinks.delete(pipedId);
    };
  }

  /** Whether a stream of `pipedId` is connected to this replica. */
  isConnected(pipedId: string): boolean {
    return this.sinks.has(pipedId);
  }

  /** Number of pipeds with a stream on this replica. */
  connectedPipeds(): number {
    return this.sinks.size;
  }

  /** Announces that commands were stored for `pipedId`. */
  commandsStored(pipedId: string): Promise<void> {
    return this.notifier.publish(CH_COMMANDS, pipedId);
  }

  /** Announces application changes to the owning piped's streams. */
  applicationsChanged(pipedId: string, applicationIds: string[]): Promise<void> {
    return this.notifier.publish(CH_APPS, JSON.stringify({ pipedId, applicationIds }));
  }

  /**
   * Announces to every replica that a piped was disabled, enabled or lost keys: each drops what
   * it cached of the piped's credentials and re-checks its open Watch streams, so the change
   * holds everywhere at once, not when a cache expires.
   */
  pipedAccessChanged(pipedId: string): Promise<void> {
    return this.notifier.publish(CH_PIPED_ACCESS, pipedId);
  }

  /** Subscribes to {@link pipedAccessChanged} (the authenticator's cache); returns the unsubscribe. */
  onPipedAccessChanged(listener: (pipedId: string) => void): () => void {
    this.accessListeners.add(listener);
    return () => this.accessListeners.delete(listener);
  }

  /**
   * Publishes a change event for SSE clients (best effort: failures are logged). Events of one
   * event-loop turn go out together as one notification (a JSON array), so a burst of reports
   * costs one NOTIFY on PostgreSQL rather than one per report.
   */
  emit(ev: StreamEvent): void {
    if (this.pending.push(ev) === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const events = this.pending;
    this.pending = [];
    if (this.closed) return;
    let batch: string[] = [];
    let size = 2;
    const send = (): void => {
      if (batch.length === 0) return;
      this.notifier
        .publish(CH_EVENTS, `[${batch.join(",")}]`)
        .catch((err: unknown) => this.logger.warn({ err }, "could not publish change events"));
      batch = [];
      size = 2;
    };
    for (const ev of events) {
      const json = JSON.stringify(ev);
      const bytes = Buffer.byteLength(json, "utf8") + 1;
      if (size + bytes > MAX_NOTIFY_PAYLOAD) send();
      batch.push(json);
      size += bytes;
    }
    send();
  }

  /**
   * Subscribes to change events as server-sent-event text (`id`, `event`, `data` per event; one
   * call per batch); returns the unsubscribe function.
   */
  onEventText(listener: (text: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening to the notifier. */
  close(): void {
    this.closed = true;
    for (const u of this.unsubscribe) u();
    this.sinks.clear();
    this.listeners.clear();
    this.accessListeners.clear();
  }
}
