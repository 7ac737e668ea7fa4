import type { Logger } from "@pipecd-ts/runtime";
import type { Notifier } from "../types.js";
import { checkNotification } from "./entities.js";

/**
 * In-process {@link Notifier} (SQLite: one process owns the database). Delivery is always
 * asynchronous, so a publisher never runs listeners on its own stack.
 */
export class LocalNotifier implements Notifier {
  readonly #listeners = new Map<string, Set<(payload: string) => void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  async publish(channel: string, payload: string): Promise<void> {
    checkNotification(channel, payload);
    const listeners = this.#listeners.get(channel);
    if (listeners) {
      for (const listener of [...listeners]) {
        queueMicrotask(() => this.#deliver(channel, listener, payload));
      }
    }
  }

  subscribe(channel: string, listener: (payload: string) => void): () => void {
    checkNotification(channel);
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const entry = (payload: string): void => listener(payload);
    let set = this.#listeners.get(channel);
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
    }
    set.add(entry);
    return () => {
      const current = this.#listeners.get(channel);
      if (!current) return;
      current.delete(entry);
      if (current.size === 0) this.#listeners.delete(channel);
    };
  }

  /** Drops all subscriptions (on close). */
  clear(): void {
    this.#listeners.clear();
  }

  #deliver(channel: string, listener: (payload: string) => void, payload: string): void {
    // An unsubscribed listener gets nothing even if the message was queued before.
    if (!this.#isSubscribed(channel, listener)) return;
    try {
      listener(payload);
    } catch (err) {
      this.#logger.error({ err, channel }, "notification listener threw");
    }
  }

  #isSubscribed(channel: string, listener: (payload: string) => void): boolean {
    return this.#listeners.get(channel)?.has(listener) ?? false;
  }
}
