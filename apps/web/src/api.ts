import { useCallback, useEffect, useRef, useState } from "react";
import {
  RestError,
  createRestClient,
  type OperationId,
  type RequestOf,
  type ResponseOf,
  type StreamEvent,
  type StreamReady,
} from "@pipecd-ts/rest-api";

/**
 * The REST client of the UI: same origin, so the HttpOnly session cookie (SameSite=Strict) goes
 * with every call and no token is ever visible to scripts.
 */
export const api = createRestClient({ baseUrl: window.location.origin, timeoutMs: 30_000 });

/** Listeners told when any call answers 401 (the session ended): the app shows the login page. */
const unauthenticatedListeners = new Set<() => void>();

/** Subscribes to "the session ended"; returns the unsubscribe function. */
export function onUnauthenticated(fn: () => void): () => void {
  unauthenticatedListeners.add(fn);
  return () => unauthenticatedListeners.delete(fn);
}

/** Calls an operation; a 401 also tells the app that the session is gone. */
export async function call<K extends OperationId>(
  op: K,
  req?: RequestOf<K>,
  signal?: AbortSignal,
): Promise<ResponseOf<K>> {
  try {
    return await api.call(op, req, signal);
  } catch (err) {
    if (err instanceof RestError && err.status === 401 && op !== "login")
      for (const fn of unauthenticatedListeners) fn();
    throw err;
  }
}

/** A readable sentence for any error a call may throw. */
export function errorMessage(err: unknown): string {
  if (err instanceof RestError) {
    if (err.status === 403) return `Not allowed: ${err.message}`;
    if (err.status === 0 || err.status >= 500) return `The server failed: ${err.message}`;
    return err.message;
  }
  if (err instanceof DOMException && err.name === "TimeoutError")
    return "The server did not answer in time; try again.";
  if (err instanceof TypeError) return "Cannot reach the control plane; check your connection.";
  return err instanceof Error ? err.message : String(err);
}

/** State of a {@link useApi} load. */
export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  /** The HTTP status of the failed load (404: nothing there yet); undefined after success. */
  errorStatus: number | undefined;
  loading: boolean;
  /** Loads again in the background (the old data stays visible meanwhile). */
  reload: () => void;
}

/**
 * Loads an operation's result and keeps it; `key` changes reload it, a `null` key waits (e.g.
 * for an id that another load provides). Out-of-order answers are dropped, and a reload keeps
 * showing the previous data instead of flashing a spinner.
 */
export function useApi<K extends OperationId>(
  op: K,
  req: RequestOf<K> | undefined,
  key: string | null,
): Loaded<ResponseOf<K>> {
  const [data, setData] = useState<ResponseOf<K>>();
  const [error, setError] = useState<string>();
  const [errorStatus, setErrorStatus] = useState<number>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reqRef = useRef(req);
  reqRef.current = req;
  const lastKey = useRef(key);
  useEffect(() => {
    if (key === null) return;
    const ctl = new AbortController();
    if (lastKey.current !== key) {
      lastKey.current = key;
      setData(undefined);
    }
    setLoading(true);
    call(op, reqRef.current, ctl.signal).then(
      (res) => {
        if (ctl.signal.aborted) return;
        setData(res);
        setError(undefined);
        setErrorStatus(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return;
        setError(errorMessage(err));
        setErrorStatus(err instanceof RestError ? err.status : undefined);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [op, key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, errorStatus, loading, reload };
}

type Listener = (ev: StreamEvent | "reconnected") => void;
const streamListeners = new Set<Listener>();
const connectionListeners = new Set<(connected: boolean) => void>();
let connected = true;
let closeCurrent: (() => void) | undefined;

function setConnected(v: boolean): void {
  if (connected === v) return;
  connected = v;
  for (const fn of connectionListeners) fn(v);
}

/** Whether the event stream is connected (false while live updates are paused). */
export function useStreamConnected(): boolean {
  const [v, setV] = useState(connected);
  useEffect(() => {
    setV(connected);
    connectionListeners.add(setV);
    return () => {
      connectionListeners.delete(setV);
    };
  }, []);
  return v;
}

/** The first retry waits about this long; each further one twice as long, up to the cap. */
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 30_000;

/**
 * Opens the server-sent event stream (GET /api/v1/stream) for the signed-in app; returns the
 * close function. EventSource retries a dropped connection by itself, but a non-200 answer
 * (502/503 while the control plane restarts behind a proxy, 401 once the session expired)
 * closes it for good: then this asks `me` after a jittered, growing delay — a 401 there shows
 * the login page (through {@link call}), anything else tries again later — and opens a new
 * stream. Either way the stream resumes after the last event id seen (`Last-Event-ID`, or
 * `lastEventId` for a new EventSource), on whichever replica answers; only when the server says
 * it could not (`ready` with `resumed: false`) are listeners told to re-list what they show.
 * {@link useStreamConnected} is false while disconnected.
 */
export function openStream(): () => void {
  closeCurrent?.();
  let stopped = false;
  let opened = false;
  let attempt = 0;
  let es: EventSource | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const retry = new AbortController();

  /** The id of the last event seen, where a new stream resumes. */
  let lastEventId = "";
  const dispatch = (msg: MessageEvent<string>): void => {
    if (msg.lastEventId) lastEventId = msg.lastEventId;
    let ev: StreamEvent;
    try {
      ev = JSON.parse(msg.data) as StreamEvent;
    } catch {
      return;
    }
    for (const fn of streamListeners) fn(ev);
  };
  const schedule = (): void => {
    const cap = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt);
    attempt++;
    timer = setTimeout(() => void reopen(), cap / 2 + Math.random() * (cap / 2));
  };
  const reopen = async (): Promise<void> => {
    timer = undefined;
    if (stopped) return;
    try {
      await call("me", undefined, AbortSignal.any([retry.signal, AbortSignal.timeout(10_000)]));
    } catch (err) {
      // 401: call() has told the app, which shows the login page and closes this stream.
      if (stopped || (err instanceof RestError && err.status === 401)) return;
      schedule();
      return;
    }
    if (!stopped) connect();
  };
  const connect = (): void => {
    const s = new EventSource(
      lastEventId
        ? `/api/v1/stream?lastEventId=${encodeURIComponent(lastEventId)}`
        : "/api/v1/stream",
    );
    es = s;
    for (const type of [
      "deployment",
      "stage",
      "application",
      "command",
      "piped",
      "live-state",
      "chain",
    ])
      s.addEventListener(type, dispatch);
    s.addEventListener("ready", (msg: MessageEvent<string>) => {
      if (msg.lastEventId) lastEventId = msg.lastEventId;
      let resumed = false;
      try {
        resumed = (JSON.parse(msg.data) as StreamReady).resumed;
      } catch {
        // not ours: treat as not resumed
      }
      if (opened && !resumed) for (const fn of streamListeners) fn("reconnected");
      opened = true;
    });
    s.addEventListener("open", () => {
      attempt = 0;
      setConnected(true);
    });
    s.addEventListener("error", () => {
      if (stopped || es !== s) return;
      setConnected(false);
      // CONNECTING: the browser retries by itself. CLOSED: it gave up; we take over.
      if (s.readyState !== EventSource.CLOSED) return;
      s.close();
      schedule();
    });
  };
  const close = (): void => {
    if (stopped) return;
    stopped = true;
    retry.abort();
    if (timer !== undefined) clearTimeout(timer);
    es?.close();
    es = undefined;
    setConnected(true);
    if (closeCurrent === close) closeCurrent = undefined;
  };
  closeCurrent = close;
  connect();
  return close;
}

/**
 * Calls `onChange` (debounced to one call per 150 ms burst) when a stream event matches `match`,
 * and after every reconnect of the stream.
 */
export function useLive(match: (ev: StreamEvent) => boolean, onChange: () => void): void {
  const matchRef = useRef(match);
  matchRef.current = match;
  const changeRef = useRef(onChange);
  changeRef.current = onChange;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fire = (): void => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        changeRef.current();
      }, 150);
    };
    const fn: Listener = (ev) => {
      if (ev === "reconnected" || matchRef.current(ev)) fire();
    };
    streamListeners.add(fn);
    return () => {
      streamListeners.delete(fn);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, []);
}
