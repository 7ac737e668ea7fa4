import { MAX_STREAM_EVENTS_PAGE } from "../internal/stream-events.js";
import type { StoredStreamEvent, StreamEventRepository } from "../types.js";
import { first, query, sql, type SqlContext } from "./program.js";

/**
 * How a driver stores a batch of events (JSON texts) at time `at` on `channel` and announces
 * them: ids must follow commit order, and announcements must reach every replica in id order.
 */
export type StreamEventAppend = (
  channel: string,
  events: readonly string[],
  at: number,
) => Promise<StoredStreamEvent[]>;

/** {@link StreamEventRepository} over either driver; appending is the driver's own. */
export class SqlStreamEventRepository implements StreamEventRepository {
  readonly #c: SqlContext;
  readonly #append: StreamEventAppend;

  constructor(c: SqlContext, append: StreamEventAppend) {
    this.#c = c;
    this.#append = append;
  }

  async append(channel: string, events: readonly string[]): Promise<StoredStreamEvent[]> {
    if (events.length === 0) return [];
    return this.#append(channel, events, this.#c.clock.now().getTime());
  }

  async listAfter(afterId: number, limit: number): Promise<StoredStreamEvent[]> {
    const n = Math.min(Math.max(1, Math.trunc(limit)), MAX_STREAM_EVENTS_PAGE);
    return this.#c.db.read("list stream events", function* () {
      const rows = yield* query<{ id: number | string; data: string }>(
        "SELECT id, data FROM stream_events WHERE id > ? ORDER BY id LIMIT ?",
        [afterId, n],
      );
      return rows.map((r) => ({ id: Number(r.id), data: r.data }));
    });
  }

  async bounds(): Promise<{ oldest: number; newest: number }> {
    return this.#c.db.read("read stream event ids", function* () {
      const r = yield* first<{ oldest: number | string | null; newest: number | string | null }>(
        "SELECT MIN(id) AS oldest, MAX(id) AS newest FROM stream_events",
      );
      return { oldest: Number(r?.oldest ?? 0), newest: Number(r?.newest ?? 0) };
    });
  }

  async prune(before: Date): Promise<number> {
    const res = await this.#c.db.writeOne(
      "prune stream events",
      sql(
        "DELETE FROM stream_events WHERE created_at < ? AND id < (SELECT MAX(id) FROM stream_events)",
        [before.getTime()],
      ),
    );
    return res.count;
  }
}
