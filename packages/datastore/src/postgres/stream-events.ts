import { MAX_STREAM_EVENTS_PAGE, streamEventChunks } from "../internal/stream-events.js";
import type { StoredStreamEvent, StreamEventRepository } from "../types.js";
import type { PgContext } from "./util.js";

/** Advisory lock key that serializes event appends across replicas (any constant will do). */
const APPEND_LOCK = 0x70697065; // "pipe"

/**
 * PostgreSQL {@link StreamEventRepository}. Sequence values are taken at insert time, not at
 * commit, so two replicas appending at once could commit ids out of order and a reader resuming
 * after the higher id would miss the lower. A transaction-scoped advisory lock makes appends
 * commit in id order, and the NOTIFY is sent inside the same transaction (one statement),
 * which PostgreSQL delivers in commit order: every replica sees the events in id order.
 */
export class PgStreamEventRepository implements StreamEventRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async append(channel: string, events: readonly string[]): Promise<StoredStreamEvent[]> {
    const stored: StoredStreamEvent[] = [];
    const at = this.#c.clock.now().getTime();
    // One statement per run of events (one run unless they exceed one notification): its
    // implicit transaction holds the lock from before the insert until its commit, which also
    // delivers the NOTIFY. One round trip, where BEGIN … COMMIT took five.
    for (const chunk of streamEventChunks(events)) {
      const [row] = await this.#c.db.query<{ ids: string[] }>(
        "store stream events",
        `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($3)),
         ins AS (
           INSERT INTO stream_events (created_at, data)
             SELECT $1, e.data FROM lock, unnest($2::text[]) WITH ORDINALITY AS e(data, n) ORDER BY e.n
           RETURNING id, data
         ),
         payload AS MATERIALIZED (
           SELECT '[' || string_agg('[' || id || ',' || data || ']', ',' ORDER BY id) || ']' AS p,
                  array_agg(id ORDER BY id) AS ids
           FROM ins
         )
         SELECT ids, CASE WHEN $5 THEN pg_notify($4, p) END AS notified FROM payload`,
        [at, chunk.events, APPEND_LOCK, channel, chunk.announce],
      );
      const ids = (row?.ids ?? []).map(Number);
      chunk.events.forEach((data, i) => stored.push({ id: ids[i] ?? 0, data }));
    }
    return stored;
  }

  async listAfter(afterId: number, limit: number): Promise<StoredStreamEvent[]> {
    const n = Math.min(Math.max(1, Math.trunc(limit)), MAX_STREAM_EVENTS_PAGE);
    const rows = await this.#c.db.query<{ id: string; data: string }>(
      "list stream events",
      "SELECT id, data FROM stream_events WHERE id > $1 ORDER BY id LIMIT $2",
      [afterId, n],
    );
    return rows.map((r) => ({ id: Number(r.id), data: r.data }));
  }

  async bounds(): Promise<{ oldest: number; newest: number }> {
    const [r] = await this.#c.db.query<{ oldest: string | null; newest: string | null }>(
      "read stream event ids",
      "SELECT MIN(id) AS oldest, MAX(id) AS newest FROM stream_events",
    );
    return { oldest: Number(r?.oldest ?? 0), newest: Number(r?.newest ?? 0) };
  }

  async prune(before: Date): Promise<number> {
    const rows = await this.#c.db.query<{ id: string }>(
      "prune stream events",
      "DELETE FROM stream_events WHERE created_at < $1 AND id < (SELECT MAX(id) FROM stream_events) RETURNING id",
      [before.getTime()],
    );
    return rows.length;
  }
}
