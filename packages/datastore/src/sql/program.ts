import type { Clock } from "@pipecd-ts/runtime";

// The repositories are written once, as programs over plain SQL, and each driver runs them: a
// program is a generator that yields the statements it needs and gets back their results.
// SQLite runs it synchronously inside its group commit (better-sqlite3 is synchronous); the
// PostgreSQL driver runs it statement by statement on one connection, awaiting each. The same
// code thus keeps SQLite's one-transaction-per-event-loop-turn and PostgreSQL's transactions.

/** One statement, written with `?` placeholders (the PostgreSQL driver numbers them). */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** What a driver answers a statement with: its rows (if it returns any) and how many it touched. */
export interface StatementResult {
  rows: Record<string, unknown>[];
  count: number;
}

/** A repository operation: yields statements, receives their results, returns its value. */
export type Program<T> = Generator<Statement, T, StatementResult>;

/** Runs `sql` and returns its rows (a SELECT, or a write with RETURNING). */
export function* query<R>(
  sql: string,
  params: readonly unknown[] = [],
): Generator<Statement, R[], StatementResult> {
  const res = yield { sql, params };
  return res.rows as R[];
}

/** Runs `sql` and returns its first row, if any. */
export function* first<R>(
  sql: string,
  params: readonly unknown[] = [],
): Generator<Statement, R | undefined, StatementResult> {
  return (yield* query<R>(sql, params))[0];
}

/** Runs `sql` (a write without RETURNING) and returns how many rows it changed. */
export function* execute(
  sql: string,
  params: readonly unknown[] = [],
): Generator<Statement, number, StatementResult> {
  const res = yield { sql, params };
  return res.count;
}

/** Runs a program whose statements are executed synchronously (SQLite). */
export function runSync<T>(program: Program<T>, exec: (s: Statement) => StatementResult): T {
  let step = program.next();
  while (!step.done) {
    let result: StatementResult;
    try {
      result = exec(step.value);
    } catch (err) {
      // The program may catch it (a unique violation it turns into AlreadyExists, say).
      step = program.throw(err);
      continue;
    }
    step = program.next(result);
  }
  return step.value;
}

/** Runs a program whose statements are executed asynchronously (PostgreSQL). */
export async function runAsync<T>(
  program: Program<T>,
  exec: (s: Statement) => Promise<StatementResult>,
): Promise<T> {
  let step = program.next();
  while (!step.done) {
    let result: StatementResult;
    try {
      result = await exec(step.value);
    } catch (err) {
      step = program.throw(err);
      continue;
    }
    step = program.next(result);
  }
  return step.value;
}

/** Where the two SQL dialects differ, as far as the shared repositories need. */
export interface Dialect {
  readonly name: "sqlite" | "postgres";
  /** Appended to a SELECT that reads a row it is about to update (row lock on PostgreSQL). */
  readonly forUpdate: string;
  /** A condition that the JSON object in `column` holds every one of `labels`. */
  labelsMatch(column: string, labels: Record<string, string>): Statement;
  /** Whether `err` is a unique violation, of `on`'s column if given (else of any key). */
  isUniqueViolation(err: unknown, on?: { table: string; column: string }): boolean;
  /**
   * A statement taking a transaction-scoped lock on `key` (shared or exclusive), or undefined
   * where writers are serialized anyway (SQLite has one writer).
   */
  lock(lockClass: number, key: string, shared: boolean): Statement | undefined;
}

/** Turns a driver error into a more telling AppError, or returns undefined to keep it. */
export type RefineError = (err: unknown) => Error | undefined;

/** A database as the shared repositories see it. Errors come back as AppErrors. */
export interface SqlDb {
  readonly dialect: Dialect;
  /**
   * Runs a read. Its statements may see different snapshots on PostgreSQL; use
   * {@link snapshot} when they must agree.
   */
  read<T>(what: string, program: () => Program<T>): Promise<T>;
  /** Runs a read whose statements all see one snapshot. */
  snapshot<T>(what: string, program: () => Program<T>): Promise<T>;
  /**
   * Runs a program in one transaction: all its writes or none. On SQLite it joins the next
   * group commit. The promise resolves once the transaction is durable.
   */
  write<T>(what: string, program: () => Program<T>): Promise<T>;
  /**
   * Runs a single write statement as its own transaction (one round trip on PostgreSQL).
   * `refine` may turn the driver's error into a more telling one (a unique violation into
   * "exists already").
   */
  writeOne(what: string, statement: Statement, refine?: RefineError): Promise<StatementResult>;
}

/** Builds a statement. */
export function sql(text: string, params: readonly unknown[] = []): Statement {
  return { sql: text, params };
}

/** `?, ?, ?` for `n` values (an IN list). */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}

/**
 * A driver's own way of updating the documents of a hot table (PostgreSQL: batched
 * compare-and-swaps), in place of a plain read-modify-write transaction.
 */
export interface DocumentUpdater<M> {
  update(id: string, fn: (m: M) => void): Promise<M>;
}

/** What every shared repository gets: the database and the clock. */
export interface SqlContext {
  db: SqlDb;
  clock: Clock;
}

/** A WHERE clause being assembled: conditions joined by AND, with their parameters in order. */
export class Where {
  readonly params: unknown[] = [];
  readonly #conditions: string[] = [];

  /** Adds a condition written with `?` placeholders, and its parameters. */
  add(condition: string, ...params: unknown[]): this {
    this.#conditions.push(condition);
    this.params.push(...params);
    return this;
  }

  /** Adds `column = ?` unless `value` is undefined (an unset filter). */
  eq(column: string, value: unknown): this {
    return value === undefined ? this : this.add(`${column} = ?`, value);
  }

  /** Adds `column IN (…)` unless `values` is undefined or empty. */
  in(column: string, values: readonly unknown[] | undefined): this {
    return values?.length
      ? this.add(`${column} IN (${placeholders(values.length)})`, ...values)
      : this;
  }

  /** `WHERE a AND b`, or nothing when there is no condition. */
  get sql(): string {
    return this.#conditions.length ? `WHERE ${this.#conditions.join(" AND ")}` : "";
  }
}
