import { failuresOf, type LoginFailureRow } from "../internal/login-failures.js";
import type { LoginFailureRepository, LoginFailures } from "../types.js";
import { execute, first, query, sql, type Program, type SqlContext } from "./program.js";

/** A row as read: PostgreSQL returns BIGINT columns as strings. */
type StoredRow = { [K in keyof LoginFailureRow]: number | string };

function* loadRow(
  username: string,
  address: string,
  forUpdate: string,
): Program<LoginFailureRow | undefined> {
  const r = yield* first<StoredRow>(
    `SELECT failures, last_failure_at, blocked_until FROM login_failures
     WHERE username = ? AND address = ?${forUpdate}`,
    [username, address],
  );
  return (
    r && {
      failures: Number(r.failures),
      last_failure_at: Number(r.last_failure_at),
      blocked_until: Number(r.blocked_until),
    }
  );
}

/** {@link LoginFailureRepository} over either driver: shared by every replica. */
export class SqlLoginFailureRepository implements LoginFailureRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async get(username: string, address: string, since: Date): Promise<LoginFailures> {
    return this.#c.db.read("get sign-in failures", function* () {
      return failuresOf(yield* loadRow(username, address, ""), since.getTime());
    });
  }

  async recordFailure(
    username: string,
    address: string,
    now: Date,
    since: Date,
    blockFor: (failures: number) => number,
  ): Promise<LoginFailures> {
    const forUpdate = this.#c.db.dialect.forUpdate;
    return this.#c.db.write("record a sign-in failure", function* () {
      // On PostgreSQL the row lock serializes replicas recording failures of the same pair; the
      // row is made first so that there is one to lock the first time too.
      yield* execute(
        `INSERT INTO login_failures (username, address, failures, last_failure_at, blocked_until)
         VALUES (?, ?, 0, 0, 0) ON CONFLICT (username, address) DO NOTHING`,
        [username, address],
      );
      const row = yield* loadRow(username, address, forUpdate);
      const failures = failuresOf(row, since.getTime()).failures + 1;
      const block = blockFor(failures);
      const blockedUntil = block > 0 ? now.getTime() + block : 0;
      yield* execute(
        `UPDATE login_failures SET failures = ?, last_failure_at = ?, blocked_until = ?
         WHERE username = ? AND address = ?`,
        [failures, now.getTime(), blockedUntil, username, address],
      );
      return blockedUntil ? { failures, blockedUntil: new Date(blockedUntil) } : { failures };
    });
  }

  async clear(username: string, address: string): Promise<void> {
    await this.#c.db.writeOne(
      "clear sign-in failures",
      sql("DELETE FROM login_failures WHERE username = ? AND address = ?", [username, address]),
    );
  }

  async count(by: { username: string } | { address: string }, since: Date): Promise<number> {
    const [column, value] = "username" in by ? ["username", by.username] : ["address", by.address];
    return this.#c.db.read("count sign-in failures", function* () {
      const [row] = yield* query<{ n: number | string }>(
        `SELECT COALESCE(SUM(failures), 0) AS n FROM login_failures WHERE ${column} = ? AND last_failure_at >= ?`,
        [value, since.getTime()],
      );
      return Number(row?.n ?? 0);
    });
  }

  async deleteOlder(before: Date): Promise<number> {
    const res = await this.#c.db.writeOne(
      "delete old sign-in failures",
      sql("DELETE FROM login_failures WHERE last_failure_at < ?", [before.getTime()]),
    );
    return res.count;
  }
}
