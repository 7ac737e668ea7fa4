import { failuresOf, type LoginFailureRow } from "../internal/login-failures.js";
import type { LoginFailureRepository, LoginFailures } from "../types.js";
import type { SqliteContext } from "./util.js";

/** SQLite {@link LoginFailureRepository}. */
export class SqliteLoginFailureRepository implements LoginFailureRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  #row(username: string, address: string): LoginFailureRow | undefined {
    return this.#c.db
      .prepare(
        "SELECT failures, last_failure_at, blocked_until FROM login_failures WHERE username = ? AND address = ?",
      )
      .get(username, address) as LoginFailureRow | undefined;
  }

  async get(username: string, address: string, since: Date): Promise<LoginFailures> {
    return this.#c.db.read("get sign-in failures", () =>
      failuresOf(this.#row(username, address), since.getTime()),
    );
  }

  async recordFailure(
    username: string,
    address: string,
    now: Date,
    since: Date,
    blockFor: (failures: number) => number,
  ): Promise<LoginFailures> {
    return this.#c.db.write("record a sign-in failure", () => {
      const failures = failuresOf(this.#row(username, address), since.getTime()).failures + 1;
      const block = blockFor(failures);
      const blockedUntil = block > 0 ? now.getTime() + block : 0;
      this.#c.db
        .prepare(
          `INSERT INTO login_failures (username, address, failures, last_failure_at, blocked_until)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET failures = excluded.failures,
             last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until`,
        )
        .run(username, address, failures, now.getTime(), blockedUntil);
      return blockedUntil ? { failures, blockedUntil: new Date(blockedUntil) } : { failures };
    });
  }

  async clear(username: string, address: string): Promise<void> {
    return this.#c.db.write("clear sign-in failures", () => {
      this.#c.db
        .prepare("DELETE FROM login_failures WHERE username = ? AND address = ?")
        .run(username, address);
    });
  }

  async count(by: { username: string } | { address: string }, since: Date): Promise<number> {
    return this.#c.db.read("count sign-in failures", () => {
      const [column, value] =
        "username" in by ? ["username", by.username] : ["address", by.address];
      const row = this.#c.db
        .prepare(
          `SELECT COALESCE(SUM(failures), 0) AS n FROM login_failures WHERE ${column} = ? AND last_failure_at >= ?`,
        )
        .get(value, since.getTime()) as { n: number };
      return Number(row.n);
    });
  }

  async deleteOlder(before: Date): Promise<number> {
    return this.#c.db.write("delete old sign-in failures", () => {
      return this.#c.db
        .prepare("DELETE FROM login_failures WHERE last_failure_at < ?")
        .run(before.getTime()).changes;
    });
  }
}
