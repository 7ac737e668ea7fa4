import {
  MAX_STREAM_EVENTS_PAGE,
  streamEventAnnouncement,
  streamEventChunks,
} from "../internal/stream-events.js";
import type { Notifier, StoredStreamEvent, StreamEventRepository } from "../types.js";
import type { SqliteContext } from "./util.js";

/**
 * SQLite {@link StreamEventRepository}. One process owns the database, so ids (AUTOINCREMENT:
 * never reused after a prune) follow commit order, and announcements follow the group commits.
 */
export class SqliteStreamEventRepository implements StreamEventRepository {
  readonly #c: SqliteContext;
  readonly #notifier: Notifier;

  constructor(c: SqliteContext, notifier: Notifier) {
    this.#c = c;
    this.#notifier = notifier;
  }

  async append(channel: string, events: readonly string[]): Promise<StoredStreamEvent[]> {
    if (events.length === 0) return [];
    const at = this.#c.clock.now().getTime();
    const chunks = streamEventChunks(events);
    const stored = await this.#c.db.write("store stream events", () => {
      const insert = this.#c.db.prepare(
        "INSERT INTO stream_events (created_at, data) VALUES (?, ?)",
      );
      return chunks.map((chunk) => ({
        announce: chunk.announce,
        events: chunk.events.map((data) => ({
          id: Number(insert.run(at, data).lastInsertRowid),
          data,
        })),
      }));
    });
    for (const chunk of stored)
      if (chunk.announce)
        await this.#notifier.publish(channel, streamEventAnnouncement(chunk.events));
    return stored.flatMap((chunk) => chunk.events);
  }

  listAfter(afterId: number, limit: number): Promise<StoredStreamEvent[]> {
    const n = Math.min(Math.max(1, Math.trunc(limit)), MAX_STREAM_EVENTS_PAGE);
    return this.#c.db.read("list stream events", () =>
      this.#c.db
        .prepare("SELECT id, data FROM stream_events WHERE id > ? ORDER BY id LIMIT ?")
        .all(afterId, n)
        .map((r) => {
          const row = r as { id: number; data: string };
          return { id: row.id, data: row.data };
        }),
    );
  }

  bounds(): Promise<{ oldest: number; newest: number }> {
    return this.#c.db.read("read stream event ids", () => {
      const r = this.#c.db
        .prepare("SELECT MIN(id) AS oldest, MAX(id) AS newest FROM stream_events")
        .get() as { oldest: number | null; newest: number | null };
      return { oldest: r.oldest ?? 0, newest: r.newest ?? 0 };
    });
  }

  prune(before: Date): Promise<number> {
    return this.#c.db.write(
      "prune stream events",
      () =>
        this.#c.db
          .prepare(
            "DELETE FROM stream_events WHERE created_at < ? AND id < (SELECT MAX(id) FROM stream_events)",
          )
          .run(before.getTime()).changes,
    );
  }
}
