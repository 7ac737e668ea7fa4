import { EventSchema, type Event } from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import { applyUpdate, requireId, stampCreate, tsMs } from "../internal/entities.js";
import { decode, encode, type DataRow } from "../internal/rows.js";
import type { EventFilter, EventRepository } from "../types.js";
import { Where, execute, first, query, sql, type SqlContext } from "./program.js";

/** Events listed at most per call. */
const MAX_LIST = 1_000;

/** {@link EventRepository} over either driver. */
export class SqlEventRepository implements EventRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async create(e: Event): Promise<void> {
    requireId("event", e.id);
    if (!e.projectId) throw new InvalidArgumentError("event: projectId is required");
    const ev = stampCreate(EventSchema, e, this.#c.clock);
    await this.#c.db.writeOne(
      `create event ${e.id}`,
      sql(
        "INSERT INTO events (id, project_id, event_key, status, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
          ev.id,
          ev.projectId,
          ev.eventKey,
          ev.status,
          tsMs(ev.createdAt),
          tsMs(ev.updatedAt),
          encode(EventSchema, ev),
        ],
      ),
      (err) =>
        this.#c.db.dialect.isUniqueViolation(err)
          ? new AlreadyExistsError(`event ${e.id} exists already`, { cause: err })
          : undefined,
    );
  }

  async get(id: string): Promise<Event> {
    return this.#c.db.read(`get event ${id}`, function* () {
      const row = yield* first<DataRow>("SELECT data FROM events WHERE id = ?", [id]);
      if (!row) throw new NotFoundError(`event ${id} not found`);
      return decode(EventSchema, row);
    });
  }

  async list(f: EventFilter): Promise<Event[]> {
    const where = new Where()
      .eq("project_id", f.projectId)
      .eq("status", f.status)
      .eq("event_key", f.eventKey || undefined);
    if (f.since) where.add("created_at >= ?", f.since.getTime());
    const limit = Math.min(Math.max(1, f.limit ?? MAX_LIST), MAX_LIST);
    return this.#c.db.read("list events", function* () {
      const rows = yield* query<DataRow>(
        `SELECT data FROM events ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
        where.params,
      );
      return rows.map((r) => decode(EventSchema, r));
    });
  }

  async update(id: string, fn: (e: Event) => void): Promise<Event> {
    const c = this.#c;
    const forUpdate = c.db.dialect.forUpdate;
    return c.db.write(`update event ${id}`, function* () {
      const row = yield* first<DataRow>(`SELECT data FROM events WHERE id = ?${forUpdate}`, [id]);
      if (!row) throw new NotFoundError(`event ${id} not found`);
      const e = applyUpdate("event", decode(EventSchema, row), fn, c.clock);
      yield* execute("UPDATE events SET status = ?, updated_at = ?, data = ? WHERE id = ?", [
        e.status,
        tsMs(e.updatedAt),
        encode(EventSchema, e),
        id,
      ]);
      return e;
    });
  }
}
