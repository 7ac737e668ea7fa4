import pg from "pg";
import {
  AlreadyExistsError,
  AppError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  UnavailableError,
  type Logger,
} from "@pipecd-ts/runtime";

/** Timeouts and pool size of the PostgreSQL driver. */
export interface PgTuning {
  /** Pool size (default 10). */
  maxConnections: number;
  /** Waiting for a pooled connection or a new one (default 5000). */
  connectTimeoutMs: number;
  /** Server-side limit per statement (default 10000). */
  statementTimeoutMs: number;
  /** Client-side backstop per query, in case the server or network stops answering (default 15000). */
  queryTimeoutMs: number;
}

/** Default {@link PgTuning}. */
export const DEFAULT_PG_TUNING: PgTuning = {
  maxConnections: 10,
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
  queryTimeoutMs: 15_000,
};

/** Runs one statement inside a transaction and returns its rows. */
export type PgQuery = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  params?: unknown[],
) => Promise<R[]>;

/** Connection settings shared by the pool and the notifier's dedicated client. */
export function pgClientConfig(url: string, tuning: PgTuning): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: tuning.connectTimeoutMs,
    statement_timeout: tuning.statementTimeoutMs,
    query_timeout: tuning.queryTimeoutMs,
    // A transaction left open by a stuck caller must not hold row locks forever.
    idle_in_transaction_session_timeout: tuning.queryTimeoutMs * 2,
    application_name: "pipecd-ts-control-plane",
    keepAlive: true,
  };
}

/** A pg Pool with every query bounded by timeouts and every error mapped to an AppError. */
export class PgDb {
  readonly pool: pg.Pool;
  readonly url: string;
  readonly tuning: PgTuning;

  constructor(url: string, logger: Logger, tuning: PgTuning = DEFAULT_PG_TUNING) {
    this.url = url;
    this.tuning = tuning;
    this.pool = new pg.Pool({
      ...pgClientConfig(url, tuning),
      max: tuning.maxConnections,
      idleTimeoutMillis: 30_000,
    });
    // An idle pooled connection that dies emits here; without a handler the process would crash.
    this.pool.on("error", (err) => logger.warn({ err }, "idle PostgreSQL connection failed"));
  }

  /** Runs one statement outside a transaction. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    what: string,
    text: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    try {
      return (await this.pool.query<R>(prepared(text, params))).rows;
    } catch (err) {
      throw mapPgError(err, what);
    }
  }

  /**
   * Runs `fn` in a transaction on one pooled connection: COMMIT if it returns, ROLLBACK if it
   * throws. A connection that failed below SQL (timeout, network) is discarded, not reused.
   */
  async tx<T>(
    what: string,
    fn: (q: PgQuery) => Promise<T>,
    opts: { queryTimeoutMs?: number } = {},
  ): Promise<T> {
    return this.transaction(
      what,
      (run) => fn(async (text, params) => (await run(text, params)).rows as never),
      opts,
    );
  }

  /**
   * {@link tx} with whole results (rows and row counts). `begin` replaces the plain BEGIN (a
   * read-only snapshot, say).
   */
  async transaction<T>(
    what: string,
    fn: (run: (text: string, params?: readonly unknown[]) => Promise<pg.QueryResult>) => Promise<T>,
    opts: { queryTimeoutMs?: number; begin?: string } = {},
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapPgError(err, what);
    }
    const run = (text: string, params: readonly unknown[] = []) =>
      client.query({
        ...prepared(text, params),
        ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs } : {}),
      });
    let discard = false;
    try {
      await run(opts.begin ?? "BEGIN");
      const result = await fn(run);
      await run("COMMIT");
      return result;
    } catch (err) {
      if (err instanceof AppError || err instanceof pg.DatabaseError) {
        try {
          await client.query("ROLLBACK");
        } catch {
          discard = true;
        }
      } else {
        discard = true;
      }
      throw mapPgError(err, what);
    } finally {
      client.release(discard);
    }
  }

  /** Waits for all connections to close. */
  async end(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/** Statement texts given a prepared-statement name, and the names. */
const statementNames = new Map<string, string>();
/** Beyond this many distinct texts, new ones run unnamed (each connection keeps its own). */
const MAX_NAMED_STATEMENTS = 500;
/** Statements with more parameters than this (multi-row inserts of any size) run unnamed. */
const MAX_NAMED_PARAMS = 32;

/**
 * The query config of a statement: named, so that each connection parses and plans it once and
 * then only binds and executes it (the batched compare-and-swap UPDATE's planning was a good
 * part of PostgreSQL's CPU in `make bench`). Transaction control and SET statements stay
 * unnamed. Statements here name their columns (no `SELECT *`), so a migration that adds a
 * column cannot break a plan another replica has cached.
 */
export function prepared(text: string, params: readonly unknown[]): pg.QueryConfig {
  const values = params as unknown[];
  if (params.length === 0 || params.length > MAX_NAMED_PARAMS) return { text, values };
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_NAMED_STATEMENTS) return { text, values };
    name = `pipecd_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** Whether `err` is a PostgreSQL unique violation, optionally of the named constraint. */
export function isPgUniqueViolation(err: unknown, constraint?: string): boolean {
  return (
    err instanceof pg.DatabaseError &&
    err.code === "23505" &&
    (constraint === undefined || err.constraint === constraint)
  );
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** Maps a pg error to an AppError (AppErrors pass through unchanged). */
export function mapPgError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? "";
    if (code === "23505") return new AlreadyExistsError(`${what}: already exists`, { cause: err });
    if (code === "23503")
      return new FailedPreconditionError(`${what}: a referenced entity does not exist`, {
        cause: err,
      });
    if (code === "57014")
      return new DeadlineExceededError(`${what}: statement timed out`, { cause: err });
    if (code.startsWith("22") || code.startsWith("23"))
      return new InvalidArgumentError(`${what}: invalid data`, { cause: err });
    if (
      code.startsWith("08") || // connection exception
      code.startsWith("53") || // insufficient resources (e.g. too many connections)
      code.startsWith("57P") || // server shutting down / starting up
      code === "40001" || // serialization failure
      code === "40P01" || // deadlock
      code === "55P03" // lock not available
    ) {
      return new UnavailableError(`${what}: database unavailable (${code})`, { cause: err });
    }
    return new InternalError(`${what} failed`, { cause: err });
  }
  if (err instanceof Error) {
    const sysCode = (err as NodeJS.ErrnoException).code;
    if (/query read timeout/i.test(err.message)) {
      return new DeadlineExceededError(`${what}: database did not answer in time`, { cause: err });
    }
    if (
      (sysCode !== undefined && NETWORK_CODES.has(sysCode)) ||
      /timeout exceeded when trying to connect|connection terminated|not queryable|connection error|after calling end on the pool|Client was closed/i.test(
        err.message,
      )
    ) {
      return new UnavailableError(`${what}: database unavailable`, { cause: err });
    }
  }
  return new InternalError(`${what} failed`, { cause: err });
}
