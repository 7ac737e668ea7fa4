import pg from "pg";
import { backoffDelay, retry, sleep, type Logger } from "@pipecd-ts/runtime";
import { checkNotification } from "../internal/entities.js";
import type { Notifier } from "../types.js";
import { mapPgError, pgClientConfig, type PgDb } from "./db.js";

type Listener = (payload: string) => void;

/**
 * LISTEN/NOTIFY {@link Notifier}. Publishing goes through the pool (`pg_notify`); receiving uses
 * one dedicated connection, opened at the first subscription and re-opened with bounded,
 * jittered backoff whenever it drops (re-LISTENing every channel). Notifications sent while the
 * connection is down are lost: consumers must re-list state after a gap, as with any stream.
 */
export class PgNotifier implements Notifier {
  readonly #db: PgDb;
  readonly #logger: Logger;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #stop = new AbortController();
  #client: pg.Client | undefined;
  // pg wants one query at a time per client: LISTEN/UNLISTEN are chained.
  #tail: Promise<void> = Promise.resolve();
  #loop: Promise<void> | undefined;

  constructor(db: PgDb, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
  }

  async publish(channel: string, payload: string): Promise<void> {
    checkNotification(channel, payload);
    await this.#db.query(`notify ${channel}`, "SELECT pg_notify($1, $2)", [channel, payload]);
  }

  subscribe(channel: string, listener: Listener): () => void {
    checkNotification(channel);
    if (this.#stop.signal.aborted) return () => {};
    const entry: Listener = (payload) => listener(payload);
    let set = this.#listeners.get(channel);
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
      this.#command(`LISTEN ${channel}`);
    }
    set.add(entry);
    this.#loop ??= this.#run();
    return () => {
      const current = this.#listeners.get(channel);
      if (!current?.delete(entry) || current.size > 0) return;
      this.#listeners.delete(channel);
      this.#command(`UNLISTEN ${channel}`);
    };
  }

  /** Stops listening and closes the dedicated connection. */
  async close(): Promise<void> {
    this.#stop.abort(new Error("notifier closed"));
    this.#listeners.clear();
    await this.#client?.end().catch(() => undefined);
    await this.#loop;
  }

  // LISTEN/UNLISTEN on the live connection, if any (channels are validated, so no quoting
  // issues). A failure drops the connection; the reconnect re-LISTENs the current channel set.
  #command(sql: string): void {
    const client = this.#client;
    if (!client) return;
    this.#tail = this.#tail
      .then(() => client.query(sql))
      .then(
        () => undefined,
        (err: unknown) => {
          this.#logger.warn({ err }, `notifier: ${sql} failed; reconnecting`);
          void client.end().catch(() => undefined);
        },
      );
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let drops = 0;
    while (!signal.aborted) {
      let conn: { client: pg.Client; ended: Promise<void> };
      try {
        conn = await retry(() => this.#connect(), {
          maxAttempts: Number.POSITIVE_INFINITY,
          initialDelayMs: 100,
          maxDelayMs: 5000,
          signal,
          // Keep trying whatever the cause (a restarting server may refuse logins for a while).
          isRetryable: () => !signal.aborted,
          onRetry: (err, attempt, delayMs) =>
            this.#logger.warn(
              { err, attempt, delayMs },
              "notifier: cannot connect to PostgreSQL; retrying",
            ),
        });
      } catch {
        return; // only the stop signal ends the retries
      }
      const since = Date.now();
      await this.#untilClosed(conn, signal);
      this.#client = undefined;
      if (signal.aborted) return;
      // A connection that keeps dropping right after connecting must not spin: back off too.
      drops = Date.now() - since > 30_000 ? 1 : drops + 1;
      const delayMs = backoffDelay(drops, { initialDelayMs: 100, maxDelayMs: 5000 });
      this.#logger.warn({ delayMs }, "notifier: PostgreSQL connection lost; reconnecting");
      try {
        await sleep(delayMs, signal);
      } catch {
        return;
      }
    }
  }

  async #connect(): Promise<{ client: pg.Client; ended: Promise<void> }> {
    const client = new pg.Client(pgClientConfig(this.#db.url, this.#db.tuning));
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    client.on("notification", (msg) => this.#deliver(msg.channel, msg.payload ?? ""));
    // Errors also end the connection, which #untilClosed observes; this only prevents a crash.
    client.on("error", (err) => this.#logger.warn({ err }, "notifier: connection error"));
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw mapPgError(err, "notifier connect");
    }
    if (this.#stop.signal.aborted) {
      await client.end().catch(() => undefined);
      return { client, ended };
    }
    this.#client = client;
    this.#tail = Promise.resolve();
    for (const channel of this.#listeners.keys()) this.#command(`LISTEN ${channel}`);
    return { client, ended };
  }

  async #untilClosed(
    conn: { client: pg.Client; ended: Promise<void> },
    signal: AbortSignal,
  ): Promise<void> {
    const onAbort = (): void => void conn.client.end().catch(() => undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    await conn.ended;
    signal.removeEventListener("abort", onAbort);
  }

  #deliver(channel: string, payload: string): void {
    const listeners = this.#listeners.get(channel);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (err) {
        this.#logger.error({ err, channel }, "notification listener threw");
      }
    }
  }
}
