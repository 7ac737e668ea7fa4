import type { LoginFailures } from "../types.js";

/** A `login_failures` row, times in ms since the epoch (0: not blocked). */
export interface LoginFailureRow {
  failures: number;
  last_failure_at: number;
  blocked_until: number;
}

/** The state a row holds as of `since` (failures before it are forgotten). */
export function failuresOf(row: LoginFailureRow | undefined, since: number): LoginFailures {
  if (!row || row.last_failure_at < since) return { failures: 0 };
  return row.blocked_until > 0
    ? { failures: row.failures, blockedUntil: new Date(row.blocked_until) }
    : { failures: row.failures };
}
