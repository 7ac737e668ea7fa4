import { toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ApplicationLiveStateSnapshotSchema,
  type ApplicationLiveStateSnapshot,
} from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import { asBuffer, tsMs } from "../internal/entities.js";
import type { LiveStateRepository, Session, SessionRepository } from "../types.js";
import { decode, isUniqueViolation, type DataRow, type SqliteContext } from "./util.js";
import { sessionColumns, sessionFromRow, type SessionRow } from "../internal/rows.js";

/** SQLite {@link SessionRepository}. */
export class SqliteSessionRepository implements SessionRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async create(s: Session): Promise<void> {
    const columns = sessionColumns(s);
    return this.#c.db.write("create session", () => {
      try {
        this.#c.db
          .prepare(
            "INSERT INTO sessions (token_hash, username, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
          )
          .run(...columns);
      } catch (err) {
        // Never echo the token hash.
        if (isUniqueViolation(err))
          throw new AlreadyExistsError("session exists already", { cause: err });
        throw err;
      }
    });
  }

  async get(tokenHash: string, now: Date): Promise<Session | undefined> {
    return this.#c.db.read("get session", () => {
      const row = this.#c.db
        .prepare("SELECT * FROM sessions WHERE token_hash = ?")
        .get(tokenHash) as SessionRow | undefined;
      return sessionFromRow(row, now);
    });
  }

  async delete(tokenHash: string): Promise<void> {
    return this.#c.db.write("delete session", () => {
      this.#c.db.prepare("DELETE FROM sessions WHERE token_hash = ?").run(tokenHash);
    });
  }

  async deleteExpired(now: Date): Promise<number> {
    return this.#c.db.write("delete expired sessions", () => {
      return this.#c.db.prepare("DELETE FROM sessions WHERE expires_at <= ?").run(now.getTime())
        .changes;
    });
  }
}

/** SQLite {@link LiveStateRepository}. */
export class SqliteLiveStateRepository implements LiveStateRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async put(snapshot: ApplicationLiveStateSnapshot): Promise<void> {
    if (!snapshot.applicationId)
      throw new InvalidArgumentError("live state: applicationId is required");
    const s = {
      ...snapshot,
      updatedAt: snapshot.updatedAt ?? timestampFromDate(this.#c.clock.now()),
    };
    const data = asBuffer(toBinary(ApplicationLiveStateSnapshotSchema, s));
    return this.#c.db.write(`put live state of ${s.applicationId}`, () => {
      this.#c.db
        .prepare(
          `INSERT INTO live_states (application_id, project_id, piped_id, updated_at, data) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (application_id) DO UPDATE SET project_id = excluded.project_id, piped_id = excluded.piped_id,
           updated_at = excluded.updated_at, data = excluded.data`,
        )
        .run(s.applicationId, s.projectId, s.pipedId, tsMs(s.updatedAt), data);
    });
  }

  async get(applicationId: string): Promise<ApplicationLiveStateSnapshot> {
    return this.#c.db.read(`get live state of ${applicationId}`, () => {
      const row = this.#c.db
        .prepare("SELECT data FROM live_states WHERE application_id = ?")
        .get(applicationId) as DataRow | undefined;
      if (!row) throw new NotFoundError(`live state of application ${applicationId} not found`);
      return decode(ApplicationLiveStateSnapshotSchema, row);
    });
  }
}
