import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ApplicationLiveStateSnapshotSchema,
  type ApplicationLiveStateSnapshot,
} from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import { tsMs } from "../internal/entities.js";
import {
  decode,
  encode,
  sessionColumns,
  sessionFromRow,
  type DataRow,
  type SessionRow,
} from "../internal/rows.js";
import type { LiveStateRepository, Session, SessionRepository } from "../types.js";
import { execute, first, sql, type SqlContext, type Statement } from "./program.js";

/** {@link SessionRepository} over either driver. */
export class SqlSessionRepository implements SessionRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async create(s: Session): Promise<void> {
    await this.#c.db.writeOne(
      "create session",
      sql(
        "INSERT INTO sessions (token_hash, username, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        sessionColumns(s),
      ),
      // Never echo the token hash.
      (err) =>
        this.#c.db.dialect.isUniqueViolation(err)
          ? new AlreadyExistsError("session exists already", { cause: err })
          : undefined,
    );
  }

  async get(tokenHash: string, now: Date): Promise<Session | undefined> {
    return this.#c.db.read("get session", function* () {
      const row = yield* first<SessionRow>(
        "SELECT token_hash, username, role, created_at, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
        [tokenHash, now.getTime()],
      );
      return sessionFromRow(row, now);
    });
  }

  async delete(tokenHash: string): Promise<void> {
    await this.#c.db.writeOne(
      "delete session",
      sql("DELETE FROM sessions WHERE token_hash = ?", [tokenHash]),
    );
  }

  async deleteExpired(now: Date): Promise<number> {
    const res = await this.#c.db.writeOne(
      "delete expired sessions",
      sql("DELETE FROM sessions WHERE expires_at <= ?", [now.getTime()]),
    );
    return res.count;
  }
}

/** {@link LiveStateRepository} over either driver. */
export class SqlLiveStateRepository implements LiveStateRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async put(snapshot: ApplicationLiveStateSnapshot): Promise<void> {
    if (!snapshot.applicationId)
      throw new InvalidArgumentError("live state: applicationId is required");
    const s = this.#stamped(snapshot);
    await this.#c.db.writeOne(`put live state of ${s.applicationId}`, upsertLiveState(s));
  }

  async update(
    applicationId: string,
    fn: (cur: ApplicationLiveStateSnapshot | undefined) => ApplicationLiveStateSnapshot,
  ): Promise<ApplicationLiveStateSnapshot> {
    if (!applicationId) throw new InvalidArgumentError("live state: applicationId is required");
    const forUpdate = this.#c.db.dialect.forUpdate;
    const stamped = (x: ApplicationLiveStateSnapshot) => this.#stamped(x);
    return this.#c.db.write(`update live state of ${applicationId}`, function* () {
      const row = yield* first<DataRow>(
        `SELECT data FROM live_states WHERE application_id = ?${forUpdate}`,
        [applicationId],
      );
      const cur = row ? decode(ApplicationLiveStateSnapshotSchema, row) : undefined;
      const next = stamped({
        ...fn(cur),
        applicationId,
        version: (cur?.version ?? 0n) + 1n,
      });
      const st = upsertLiveState(next);
      yield* execute(st.sql, st.params);
      return next;
    });
  }

  #stamped(snapshot: ApplicationLiveStateSnapshot): ApplicationLiveStateSnapshot {
    return {
      ...snapshot,
      updatedAt: snapshot.updatedAt ?? timestampFromDate(this.#c.clock.now()),
    };
  }

  async get(applicationId: string): Promise<ApplicationLiveStateSnapshot> {
    return this.#c.db.read(`get live state of ${applicationId}`, function* () {
      const row = yield* first<DataRow>("SELECT data FROM live_states WHERE application_id = ?", [
        applicationId,
      ]);
      if (!row) throw new NotFoundError(`live state of application ${applicationId} not found`);
      return decode(ApplicationLiveStateSnapshotSchema, row);
    });
  }
}

/** The statement storing a live state snapshot (one row per application). */
function upsertLiveState(s: ApplicationLiveStateSnapshot): Statement {
  return sql(
    `INSERT INTO live_states (application_id, project_id, piped_id, updated_at, data) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (application_id) DO UPDATE SET project_id = excluded.project_id, piped_id = excluded.piped_id,
     updated_at = excluded.updated_at, data = excluded.data`,
    [
      s.applicationId,
      s.projectId,
      s.pipedId,
      tsMs(s.updatedAt),
      encode(ApplicationLiveStateSnapshotSchema, s),
    ],
  );
}
