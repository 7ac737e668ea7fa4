import { toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ApplicationLiveStateSnapshotSchema,
  type ApplicationLiveStateSnapshot,
} from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import { asBuffer, tsMs } from "../internal/entities.js";
import type { LiveStateRepository, Session, SessionRepository } from "../types.js";
import { isPgUniqueViolation, mapPgError } from "./db.js";
import { decode, type DataRow, type PgContext } from "./util.js";
import { sessionColumns, sessionFromRow, type SessionRow } from "../internal/rows.js";

/** PostgreSQL {@link SessionRepository}. */
export class PgSessionRepository implements SessionRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async create(s: Session): Promise<void> {
    const columns = sessionColumns(s);
    try {
      await this.#c.db.pool.query(
        "INSERT INTO sessions (token_hash, username, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        columns,
      );
    } catch (err) {
      // Never echo the token hash.
      if (isPgUniqueViolation(err))
        throw new AlreadyExistsError("session exists already", { cause: err });
      throw mapPgError(err, "create session");
    }
  }

  async get(tokenHash: string, now: Date): Promise<Session | undefined> {
    const [row] = await this.#c.db.query<SessionRow>(
      "get session",
      "SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2",
      [tokenHash, now.getTime()],
    );
    return sessionFromRow(row, now);
  }

  async delete(tokenHash: string): Promise<void> {
    await this.#c.db.query("delete session", "DELETE FROM sessions WHERE token_hash = $1", [
      tokenHash,
    ]);
  }

  async deleteExpired(now: Date): Promise<number> {
    const rows = await this.#c.db.query(
      "delete expired sessions",
      "DELETE FROM sessions WHERE expires_at <= $1 RETURNING 1",
      [now.getTime()],
    );
    return rows.length;
  }
}

/** PostgreSQL {@link LiveStateRepository}. */
export class PgLiveStateRepository implements LiveStateRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async put(snapshot: ApplicationLiveStateSnapshot): Promise<void> {
    if (!snapshot.applicationId)
      throw new InvalidArgumentError("live state: applicationId is required");
    const s = {
      ...snapshot,
      updatedAt: snapshot.updatedAt ?? timestampFromDate(this.#c.clock.now()),
    };
    await this.#c.db.query(
      `put live state of ${s.applicationId}`,
      `INSERT INTO live_states (application_id, project_id, piped_id, updated_at, data) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (application_id) DO UPDATE SET project_id = excluded.project_id, piped_id = excluded.piped_id,
       updated_at = excluded.updated_at, data = excluded.data`,
      [
        s.applicationId,
        s.projectId,
        s.pipedId,
        tsMs(s.updatedAt),
        asBuffer(toBinary(ApplicationLiveStateSnapshotSchema, s)),
      ],
    );
  }

  async get(applicationId: string): Promise<ApplicationLiveStateSnapshot> {
    const [row] = await this.#c.db.query<DataRow>(
      `get live state of ${applicationId}`,
      "SELECT data FROM live_states WHERE application_id = $1",
      [applicationId],
    );
    if (!row) throw new NotFoundError(`live state of application ${applicationId} not found`);
    return decode(ApplicationLiveStateSnapshotSchema, row);
  }
}
