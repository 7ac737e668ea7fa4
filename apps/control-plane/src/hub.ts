import type { Notifier, StreamEventRepository } from "@pipecd-ts/datastore";
import type { StreamEvent } from "@pipecd-ts/rest-api";
import { readyEvent, type StreamStart } from "./rest/event-stream.js";
import type { Logger } from "@pipecd-ts/runtime";

const CH_COMMANDS = "pipecd_commands";
const CH_APPS = "pipecd_apps";
const CH_EVENTS = "pipecd_events";
const CH_PIPED_ACCESS = "pipecd_piped_access";
const CH_PUSHES = "pipecd_pushes";
const CH_EVENTS_REGISTERED = "pipecd_events_registered";

/** Stored events read per query when a stream resumes, and at most this many pages. */
const REPLAY_PAGE = 5_000;
const MAX_REPLAY_PAGES = 10;

/** Stored change events as server-sent-event text: each on its own, and all together. */
export interface EventBatch {
  /** `id`, `event` and `data` of each event, ascending by id. */
  items: { id: number; text: string }[];
  /** Every item's text, made once and shared by every stream. */
  text: string;
}

/** The server-sent-event text of stored events (`id` is the stored id). */
export function eventBatch(events: readonly [number, StreamEvent][]): EventBatch {
  // The text of a batch is made once and shared by every stream: made per stream, 40,000 events
  // for 100 streams took the server past 650 MB (issue 13).
  const items = events.map(([id, ev]) => ({
    id,
    text: `id: ${id}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`,
  }));
  return { items, text: items.map((i) => i.text).join("") };
}

/** A push to a piped's repository, as a Git webhook told it. */
export interface RepositoryPush {
  repositoryId: string;
  branch: string;
  commit: string;
}

/** Receives notices for one connected Watch stream. */
export interface WatchSink {
  /** New commands may be stored for this piped: fetch and send them. */
  commandsAvailable(): void;
  applicationsChanged(applicationIds: string[]): void;
  /** A push to one of the piped's repositories (a Git webhook). */
  repositoryPushed(push: RepositoryPush): void;
  /** Events were registered (the event watcher looks now). */
  eventsRegistered(): void;
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
  private readonly listeners = new Set<(batch: EventBatch) => void>();
  private readonly accessListeners = new Set<(pipedId: string) => void>();
  /** The append under way: one at a time, so that this replica's events keep their order. */
  private inFlight: Promise<void> | undefined;
  private scheduled = false;
  private readonly unsubscribe: (() => void)[] = [];
  private pending: StreamEvent[] = [];
  private closed = false;

  constructor(
    private readonly notifier: Notifier,
    private readonly events: StreamEventRepository,
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
      notifier.subscribe(CH_PUSHES, (payload) => {
        const { pipedId, push } = JSON.parse(payload) as { pipedId: string; push: RepositoryPush };
        for (const s of this.sinks.get(pipedId) ?? []) s.repositoryPushed(push);
      }),
      notifier.subscribe(CH_EVENTS_REGISTERED, () => {
        for (const set of this.sinks.values()) for (const s of set) s.eventsRegistered();
      }),
      notifier.subscribe(CH_PIPED_ACCESS, (pipedId) => {
        // Caches first (every replica's authenticator), then the streams re-check against them.
        for (const l of this.accessListeners) l(pipedId);
        for (const s of this.sinks.get(pipedId) ?? []) s.accessChanged();
      }),
      notifier.subscribe(CH_EVENTS, (payload) => {
        if (this.listeners.size === 0) return;
        const batch = eventBatch(JSON.parse(payload) as [number, StreamEvent][]);
        for (const l of this.listeners) l(batch);
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

  /** Tells every piped's stream, on whichever replica, that events were registered. */
  eventsRegistered(): Promise<void> {
    return this.notifier.publish(CH_EVENTS_REGISTERED, "");
  }

  /** Tells the piped's streams, on whichever replica, to fetch a pushed repository now. */
  repositoryPushed(pipedId: string, push: RepositoryPush): Promise<void> {
    return this.notifier.publish(CH_PUSHES, JSON.stringify({ pipedId, push }));
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
   * Publishes a change event for SSE clients (best effort: failures are logged). Events are
   * stored (ids every replica shares, for `Last-Event-ID`) and announced in batches: one append
   * at a time, so under load the events that arrive while one is written go together in the
   * next, and a burst of reports costs a few writes, not one each.
   */
  emit(ev: StreamEvent): void {
    this.pending.push(ev);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    if (this.closed) return;
    this.inFlight = this.events
      .append(
        CH_EVENTS,
        events.map((ev) => JSON.stringify(ev)),
      )
      .then(
        () => undefined,
        (err: unknown) => this.logger.warn({ err }, "could not publish change events"),
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.pending.length) this.schedule();
      });
  }

  /** Resolves once every event emitted so far is stored and announced. */
  async flushed(): Promise<void> {
    while (this.inFlight || this.pending.length) {
      if (!this.inFlight) this.flush();
      await this.inFlight;
    }
  }

  /**
   * Subscribes to change events as server-sent-event batches (one call per notification); returns
   * the unsubscribe function.
   */
  onEvents(listener: (batch: EventBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Where a new event stream starts. Without `afterId`: at the newest stored event. With it: the
   * stored events after it, if all of them are still kept; else (pruned, or an id this datastore
   * never gave) at the newest, with `ready` saying the client must re-read state.
   */
  async replay(afterId: number | undefined): Promise<StreamStart> {
    const { oldest, newest } = await this.events.bounds();
    const ready = (upTo: number, resumed: boolean): StreamStart => ({
      upTo,
      text: readyEvent(upTo, resumed),
    });
    if (afterId === undefined) return ready(newest, false);
    // Ids of a sequence can skip, so "oldest > afterId + 1" may be a gap, not a prune: then the
    // client re-reads state once, which is safe.
    if (afterId > newest || (oldest > afterId + 1 && afterId < newest)) return ready(newest, false);
    let text = "";
    let upTo = afterId;
    for (let page = 0; upTo < newest; page++) {
      if (page === MAX_REPLAY_PAGES) return ready(newest, false);
      const events = await this.events.listAfter(upTo, REPLAY_PAGE);
      if (events.length === 0) break;
      text += eventBatch(events.map((e) => [e.id, JSON.parse(e.data) as StreamEvent])).text;
      upTo = events.at(-1)?.id ?? upTo;
    }
    return { upTo, text: text + ready(upTo, true).text };
  }

  /**
   * The stored events after `afterId` and before `beforeId`, for a stream that missed their
   * announcement; "too-large" past one page ({@link REPLAY_PAGE}).
   */
  async gap(afterId: number, beforeId: number): Promise<EventBatch | "too-large"> {
    if (beforeId - afterId - 1 > REPLAY_PAGE) return "too-large";
    const events = await this.events.listAfter(afterId, beforeId - afterId - 1);
    return eventBatch(
      events
        .filter((e) => e.id < beforeId)
        .map((e) => [e.id, JSON.parse(e.data) as StreamEvent] as [number, StreamEvent]),
    );
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
