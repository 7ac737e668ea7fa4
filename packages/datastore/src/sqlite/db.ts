import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  AlreadyExistsError,
  AppError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  UnavailableError,
  type Logger,
} from "@pipecd-ts/runtime";

/** How SQLite syncs commits: FULL (durable before we answer, default) or NORMAL (opt-out). */
export type SqliteSynchronous = "full" | "normal";

/** Options of {@link SqliteDb.open}. */
export interface SqliteOpenOptions {
  /** File path, or ":memory:". */
  path: string;
  synchronous: SqliteSynchronous;
  logger: Logger;
  /** How long a writer waits for another process's lock before failing (default 5000). */
  busyTimeoutMs?: number;
}

/** Most operations applied in one group commit; the rest go into the next transaction. */
const MAX_BATCH = 1000;

interface PendingWrite {
  what: string;
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** How a committed write's caller is answered once its group is durable. */
interface Settle {
  ok: () => void;
  fail: (err: unknown) => void;
}

/**
 * One better-sqlite3 connection with group commit. Reads run at once. Writes issued in the same
 * event-loop turn are applied in ONE transaction (each in its own SAVEPOINT, so a failing write
 * rolls back alone and fails only its caller), and every caller's promise settles after that
 * single commit — one fsync for the whole group instead of one per write.
 *
 * With `synchronous: "full"` the fsync happens off the event loop: SQLite commits without
 * syncing (WAL, synchronous=NORMAL), then the WAL file is fdatasync'ed on libuv's thread pool
 * and only then are the group's callers answered. A commit is still durable before anyone hears
 * of it, but the server keeps serving while the disk syncs, and groups committed during one sync
 * share the next (measured in `make bench`: the commit's fsync had blocked the event loop for 22%
 * of the time). Reads may see a group's writes while their sync is under way (PostgreSQL shows
 * a commit only after its WAL flush): a power loss in that window can undo what a reader saw.
 * A failed sync stops all further writes (see #sync).
 */
export class SqliteDb {
  readonly db: Database.Database;
  readonly #logger: Logger;
  #queue: PendingWrite[] = [];
  #scheduled = false;
  #closed = false;
  readonly #batch: (ops: PendingWrite[]) => Outcome[];
  readonly #single: (op: PendingWrite) => unknown;
  readonly #statements = new Map<string, Database.Statement>();
  /** The WAL file, synced after each group when SQLite itself does not sync (see class doc). */
  readonly #walFd: number | undefined;
  /** Committed groups waiting for the next WAL sync. */
  #unsynced: Settle[] = [];
  /** The groups of the sync under way. */
  #inFlight: Settle[] = [];
  #syncing = false;
  /** close() is under way: no new asynchronous sync starts. */
  #closing = false;
  /** Set after a failed WAL sync: every later write is refused with it. */
  #broken: UnavailableError | undefined;

  private constructor(db: Database.Database, logger: Logger, walFd?: number) {
    this.db = db;
    this.#logger = logger;
    this.#walFd = walFd;
    // Nested better-sqlite3 transactions are SAVEPOINTs: a throwing op rolls back only itself.
    const inSavepoint = db.transaction((op: PendingWrite) => op.fn());
    const batch = db.transaction((ops: PendingWrite[]): Outcome[] =>
      ops.map((op) => {
        try {
          return { ok: true, value: inSavepoint(op) };
        } catch (err) {
          // Some errors (disk full, I/O) make SQLite roll back the whole transaction: then the
          // group cannot continue, and every write in it fails.
          if (!db.inTransaction) throw err;
          return { ok: false, err };
        }
      }),
    );
    const single = db.transaction((op: PendingWrite) => op.fn());
    // IMMEDIATE: take the write lock at BEGIN, so a busy database fails fast with busy_timeout
    // instead of deadlocking on a read→write upgrade.
    this.#batch = (ops) => batch.immediate(ops);
    this.#single = (op) => single.immediate(op);
  }

  /** Opens (creating if needed) the database and sets WAL, busy timeout, foreign keys and sync. */
  static open(opts: SqliteOpenOptions): SqliteDb {
    if (opts.path !== ":memory:") prepareFile(opts.path);
    let db: Database.Database;
    try {
      db = new Database(opts.path);
    } catch (err) {
      throw new UnavailableError(
        `cannot open SQLite database at ${opts.path}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
      if (opts.path !== ":memory:") {
        const mode = db.pragma("journal_mode = WAL", { simple: true });
        if (String(mode).toLowerCase() !== "wal") {
          throw new UnavailableError(
            `SQLite database at ${opts.path} cannot use WAL (journal_mode=${String(mode)})`,
          );
        }
      }
      db.pragma("foreign_keys = ON");
      // FULL on a file: SQLite commits without syncing and we sync the WAL ourselves, off the
      // event loop, before answering (see the class doc).
      const ownSync = opts.synchronous !== "normal" && opts.path !== ":memory:";
      db.pragma(`synchronous = ${opts.synchronous === "normal" || ownSync ? "NORMAL" : "FULL"}`);
      if (opts.path !== ":memory:") probeWrite(db);
      if (ownSync) {
        // The probe made SQLite create the WAL; it keeps the file until its connection closes.
        const walFd = openSync(`${opts.path}-wal`, "r");
        try {
          // A new WAL's directory entry must survive a crash too.
          const dirFd = openSync(dirname(opts.path), "r");
          try {
            fsyncSync(dirFd);
          } finally {
            closeSync(dirFd);
          }
        } catch (err) {
          closeSync(walFd);
          throw err;
        }
        return new SqliteDb(db, opts.logger, walFd);
      }
    } catch (err) {
      db.close();
      throw (
        readOnlyError(err, opts.path) ??
        mapSqliteError(err, `configure SQLite database at ${opts.path}`)
      );
    }
    return new SqliteDb(db, opts.logger);
  }

  /** A prepared statement for `sql`, cached (dynamic list queries reuse a few shapes). */
  prepare(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /** Runs a read now. Errors are mapped to AppErrors. */
  read<T>(what: string, fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(mapSqliteError(err, what));
    }
  }

  /**
   * Queues `fn` to run inside the next group commit; resolves with its result once committed.
   * `fn` must be synchronous and may throw an AppError to abort just its own changes.
   */
  write<T>(what: string, fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ what, fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Applies all queued writes now, then closes the connection. Later calls fail with Unavailable. */
  close(): void {
    if (this.#closed) return;
    // Closing: the last groups wait for the synchronous sync below, not for a new async one.
    this.#closing = true;
    this.#flush();
    this.#closed = true;
    if (this.#walFd !== undefined) {
      // Whatever still waits for a sync gets it now, before the connection (and WAL) go.
      // (A sync in flight settles its groups here too; its own callback then changes nothing.)
      const waiting = [...this.#inFlight, ...this.#unsynced];
      this.#unsynced = [];
      let failure: unknown;
      try {
        fdatasyncSync(this.#walFd);
      } catch (err) {
        failure = err;
      }
      for (const s of waiting) settle(s, failure);
    }
    this.db.close();
    // A sync still queued on the thread pool must not find the descriptor closed (or reused):
    // its callback closes it instead.
    if (this.#walFd !== undefined && !this.#syncing) closeSync(this.#walFd);
  }

  #flush(): void {
    this.#scheduled = false;
    const settles: Settle[] = [];
    while (this.#queue.length > 0) {
      const ops = this.#queue.splice(0, MAX_BATCH);
      this.#apply(ops, settles);
    }
    if (this.#walFd === undefined) {
      for (const s of settles) s.ok();
      return;
    }
    this.#unsynced.push(...settles);
    if (!this.#syncing && !this.#closing) this.#sync();
  }

  /** Syncs the WAL, then answers every group committed before the sync began. */
  #sync(): void {
    const fd = this.#walFd;
    const waiting = this.#unsynced;
    if (fd === undefined || waiting.length === 0 || this.#closed) return;
    this.#unsynced = [];
    this.#syncing = true;
    this.#inFlight = waiting;
    fdatasync(fd, (err) => {
      this.#syncing = false;
      this.#inFlight = [];
      if (this.#closed) {
        closeSync(fd); // close() synced and settled these groups already
        return;
      }
      if (err) {
        // After a failed fsync the kernel may have dropped the dirty pages and report later
        // syncs as fine: nothing written from now on could be trusted to be on disk. Stop
        // writing, as PostgreSQL stops on a failed fsync; reads go on. A restart recovers.
        this.#logger.error({ err }, "SQLite: syncing the WAL failed; refusing further writes");
        this.#broken ??= new UnavailableError(
          `the SQLite database could not sync to disk (${err.code ?? String(err)}); writes are refused until the control plane restarts`,
        );
      }
      for (const s of waiting) settle(s, err ?? undefined);
      this.#sync();
    });
  }

  /** Commits `ops`; what each caller hears is added to `settles` (answered once durable). */
  #apply(ops: PendingWrite[], settles: Settle[]): void {
    const only = ops.length === 1 ? ops[0] : undefined;
    if (only) {
      // A lone write needs no savepoint: its transaction is its isolation.
      let value: unknown;
      try {
        value = this.#single(only);
      } catch (err) {
        only.reject(mapSqliteError(err, only.what));
        return;
      }
      settles.push(committed(only, value));
      return;
    }
    let outcomes: Outcome[];
    try {
      outcomes = this.#batch(ops);
    } catch (err) {
      // BEGIN or COMMIT failed: nothing of the group was written.
      this.#logger.warn({ err, writes: ops.length }, "SQLite group commit failed");
      for (const op of ops) op.reject(mapSqliteError(err, op.what));
      return;
    }
    ops.forEach((op, i) => {
      const outcome = outcomes[i];
      if (!outcome) op.reject(new InternalError(`${op.what}: lost in group commit`));
      else if (outcome.ok) settles.push(committed(op, outcome.value));
      else op.reject(mapSqliteError(outcome.err, op.what));
    });
  }
}

/** The answer to a committed write: its value, or an error if the commit cannot be made durable. */
function committed(op: PendingWrite, value: unknown): Settle {
  return {
    ok: () => op.resolve(value),
    fail: (err) =>
      op.reject(
        new UnavailableError(
          `${op.what}: committed, but the database could not sync it to disk (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
          { cause: err },
        ),
      ),
  };
}

function settle(s: Settle, err: unknown): void {
  if (err === undefined || err === null) s.ok();
  else s.fail(err);
}

function closedError(): UnavailableError {
  return new UnavailableError("datastore is closed");
}

/**
 * Before opening `path`: a missing database file is created empty with mode 0600 (SQLite gives
 * its -wal and -shm files the same mode), so nothing of it is readable by other users; an
 * existing file of zero bytes is refused, since SQLite would take it for a new database and the
 * control plane would start over as a fresh install beside the data it lost.
 */
function prepareFile(path: string): void {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new UnavailableError(
        `cannot open SQLite database at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
  }
  if (size === 0)
    throw new FailedPreconditionError(
      `SQLite database at ${path} is an empty file (0 bytes), not a pipecd-ts database: restore it from a backup, or delete it to start a new install`,
    );
  if (size === undefined) {
    try {
      closeSync(openSync(path, "wx", 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST")
        throw new UnavailableError(
          `cannot create SQLite database at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        );
    }
  }
}

/**
 * Probes that this process can write the database (a read-only file, directory or mount would
 * let it report ready and then fail every write; see {@link readOnlyError}). The probe writes
 * inside a transaction it rolls back.
 */
function probeWrite(db: Database.Database): void {
  try {
    db.exec("BEGIN IMMEDIATE; CREATE TABLE startup_write_probe (x INTEGER); ROLLBACK;");
  } catch (err) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

/** The start-up error for a database this process may read but not write, or undefined. */
function readOnlyError(err: unknown, path: string): FailedPreconditionError | undefined {
  const code = err instanceof Database.SqliteError ? err.code : "";
  return code.startsWith("SQLITE_READONLY")
    ? new FailedPreconditionError(
        `SQLite database at ${path} is read-only for this process (${code}); the control plane needs to write it and its directory`,
      )
    : undefined;
}

/** Maps a better-sqlite3 error to an AppError (AppErrors pass through unchanged). */
export function mapSqliteError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof Database.SqliteError) {
    const code = err.code;
    if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") {
      return new AlreadyExistsError(`${what}: already exists`, { cause: err });
    }
    if (code.startsWith("SQLITE_CONSTRAINT")) {
      return new InvalidArgumentError(`${what}: constraint violated`, { cause: err });
    }
    if (
      code.startsWith("SQLITE_BUSY") ||
      code.startsWith("SQLITE_LOCKED") ||
      code.startsWith("SQLITE_IOERR") ||
      code.startsWith("SQLITE_CANTOPEN") ||
      code.startsWith("SQLITE_READONLY") ||
      code === "SQLITE_FULL"
    ) {
      return new UnavailableError(`${what}: database unavailable (${code})`, { cause: err });
    }
    if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"))
      return new FailedPreconditionError(
        `${what}: the file is not a usable SQLite database (${code}: ${err.message}); restore it from a backup`,
        { cause: err },
      );
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new UnavailableError(`${what}: datastore is closed`, { cause: err });
  }
  return new InternalError(`${what} failed`, { cause: err });
}
