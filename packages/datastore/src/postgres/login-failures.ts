import { failuresOf } from "../internal/login-failures.js";
import type { LoginFailureRepository, LoginFailures } from "../types.js";
import type { PgContext } from "./util.js";

interface Row {
  failures: number;
  last_failure_at: string;
  blocked_until: string;
}

const asNumbers = (r: Row | undefined) =>
  r && {
    failures: Number(r.failures),
    last_failure_at: Number(r.last_failure_at),
    blocked_until: Number(r.blocked_until),
  };

/** PostgreSQL {@link LoginFailureRepository}. */
export class PgLoginFailureRepository implements LoginFailureRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async get(username: string, address: string, since: Date): Promise<LoginFailures> {
    const [row] = await this.#c.db.query<Row>(
      "get sign-in failures",
      "SELECT failures, last_failure_at, blocked_until FROM login_failures WHERE username = $1 AND address = $2",
      [username, address],
    );
    return failuresOf(asNumbers(row), since.getTime());
  }

  async recordFailure(
    username: string,
    address: string,
    now: Date,
    since: Date,
    blockFor: (failures: number) => number,
  ): Promise<LoginFailures> {
    return this.#c.db.tx("record a sign-in failure", async (q) => {
      // The row lock serializes replicas recording failures of the same pair; the row is made
      // first so that there is one to lock the first time too.
      await q(
        `INSERT INTO login_failures (username, address, failures, last_failure_at, blocked_until)
         VALUES ($1, $2, 0, 0, 0) ON CONFLICT (username, address) DO NOTHING`,
        [username, address],
      );
      const [row] = await q<Row>(
        `SELECT failures, last_failure_at, blocked_until FROM login_failures
         WHERE username = $1 AND address = $2 FOR UPDATE`,
        [username, address],
      );
      const failures = failuresOf(asNumbers(row), since.getTime()).failures + 1;
      const block = blockFor(failures);
      const blockedUntil = block > 0 ? now.getTime() + block : 0;
      await q(
        `INSERT INTO login_failures (username, address, failures, last_failure_at, blocked_until)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (username, address) DO UPDATE SET failures = excluded.failures,
           last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until`,
        [username, address, failures, now.getTime(), blockedUntil],
      );
      return blockedUntil ? { failures, blockedUntil: new Date(blockedUntil) } : { failures };
    });
  }

  async clear(username: string, address: string): Promise<void> {
    await this.#c.db.query(
      "clear sign-in failures",
      "DELETE FROM login_failures WHERE username = $1 AND address = $2",
      [username, address],
    );
  }

  async count(by: { username: string } | { address: string }, since: Date): Promise<number> {
    const [column, value] = "username" in by ? ["username", by.username] : ["address", by.address];
    const [row] = await this.#c.db.query<{ n: string }>(
      "count sign-in failures",
      `SELECT COALESCE(SUM(failures), 0) AS n FROM login_failures WHERE ${column} = $1 AND last_failure_at >= $2`,
      [value, since.getTime()],
    );
    return Number(row?.n ?? 0);
  }

  async deleteOlder(before: Date): Promise<number> {
    const rows = await this.#c.db.query(
      "delete old sign-in failures",
      "DELETE FROM login_failures WHERE last_failure_at < $1 RETURNING 1",
      [before.getTime()],
    );
    return rows.length;
  }
}
