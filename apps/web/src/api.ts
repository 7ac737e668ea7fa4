import { useCallback, useEffect, useRef, useState } from "react";
import {
  RestError,
  createRestClient,
  type OperationId,
  type RequestOf,
  type ResponseOf,
  type StreamEvent,
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
        setLoading(false);
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return;
        setError(errorMessage(err));
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [op, key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

type Listener = (ev: StreamEvent | "reconnected") => void;
const streamListeners = new Set<Listener>();
let source: EventSource | undefined;

/**
 * Opens the server-sent event stream (GET /api/v1/stream) once per signed-in page; EventSource
 * reconnects by itself, and every reconnect tells listeners to re-list what they show, since
 * events sent while disconnected are lost.
 */
export function openStream(): () => void {
  if (source) return () => undefined;
  const es = new EventSource("/api/v1/stream");
  source = es;
  let opened = false;
  const dispatch = (msg: MessageEvent<string>): void => {
    let ev: StreamEvent;
    try {
      ev = JSON.parse(msg.data) as StreamEvent;
    } catch {
      return;
    }
    for (const fn of streamListeners) fn(ev);
  };
  for (const type of ["deployment", "stage", "application", "command", "piped"])
    es.addEventListener(type, dispatch);
  es.addEventListener("open", () => {
    if (opened) for (const fn of streamListeners) fn("reconnected");
    opened = true;
  });
  return () => {
    es.close();
    source = undefined;
  };
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
