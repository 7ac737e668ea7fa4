import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { APIKeySchema, PipedSchema, type APIKey, type Piped } from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import {
  addKeyHash,
  applyUpdate,
  checkKeyHash,
  keepNewestKey,
  parseKeyHashes,
  requireId,
  stampCreate,
  tsMs,
  withKeys,
} from "../internal/entities.js";
import { decode, encode, pipedColumns, type DataRow } from "../internal/rows.js";
import type { APIKeyRepository, PipedRepository, StoredKeyHash } from "../types.js";
import { execute, first, query, sql, type Program, type SqlContext } from "./program.js";

/** A pipeds row: its document and key hashes (JSON text on SQLite, parsed JSONB on PostgreSQL). */
interface PipedRow extends DataRow {
  key_hashes: unknown;
}

/** {@link PipedRepository} over either driver. */
export class SqlPipedRepository implements PipedRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async create(piped: Piped, key: StoredKeyHash): Promise<Piped> {
    requireId("piped", piped.id);
    checkKeyHash(piped.id, key);
    const p = stampCreate(PipedSchema, piped, this.#c.clock);
    const keys = [key];
    await this.#c.db.writeOne(
      `create piped ${p.id}`,
      sql(
        `INSERT INTO pipeds (id, project_id, name, disabled, created_at, updated_at, key_hashes, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [p.id, ...pipedColumns(p, keys)],
      ),
      (err) =>
        this.#c.db.dialect.isUniqueViolation(err)
          ? new AlreadyExistsError(`piped ${p.id} exists already`, { cause: err })
          : undefined,
    );
    return withKeys(p, keys);
  }

  async get(id: string): Promise<Piped> {
    return (await this.getAuth(id)).piped;
  }

  async getAuth(id: string): Promise<{ piped: Piped; keyHashes: StoredKeyHash[] }> {
    const load = () => this.#load(id, "");
    return this.#c.db.read(`get piped ${id}`, function* () {
      const { piped, keyHashes } = yield* load();
      return { piped: withKeys(piped, keyHashes), keyHashes };
    });
  }

  async list(projectId: string): Promise<Piped[]> {
    return this.#c.db.read(`list pipeds of ${projectId}`, function* () {
      const rows = yield* query<PipedRow>(
        "SELECT data, key_hashes FROM pipeds WHERE project_id = ? ORDER BY created_at DESC, id DESC",
        [projectId],
      );
      return rows.map((r) => withKeys(decode(PipedSchema, r), parseKeyHashes(r.key_hashes)));
    });
  }

  async addKey(id: string, key: StoredKeyHash): Promise<Piped> {
    return this.#rewriteKeys(id, `add key to piped ${id}`, (keys) => addKeyHash(id, keys, key));
  }

  async deleteOldKeys(id: string): Promise<Piped> {
    return this.#rewriteKeys(id, `delete old keys of piped ${id}`, keepNewestKey);
  }

  async update(id: string, fn: (p: Piped) => void): Promise<Piped> {
    const clock = this.#c.clock;
    const load = () => this.#load(id, this.#c.db.dialect.forUpdate);
    return this.#c.db.write(`update piped ${id}`, function* () {
      const { piped, keyHashes } = yield* load();
      const next = applyUpdate("piped", withKeys(piped, keyHashes), fn, clock);
      yield* save(next, keyHashes);
      // Keys are managed by addKey/deleteOldKeys only; whatever fn did to them is discarded.
      return withKeys(next, keyHashes);
    });
  }

  *#load(id: string, forUpdate: string): Program<{ piped: Piped; keyHashes: StoredKeyHash[] }> {
    const row = yield* first<PipedRow>(
      `SELECT data, key_hashes FROM pipeds WHERE id = ?${forUpdate}`,
      [id],
    );
    if (!row) throw new NotFoundError(`piped ${id} not found`);
    return { piped: decode(PipedSchema, row), keyHashes: parseKeyHashes(row.key_hashes) };
  }

  #rewriteKeys(
    id: string,
    what: string,
    change: (keys: StoredKeyHash[]) => StoredKeyHash[],
  ): Promise<Piped> {
    const clock = this.#c.clock;
    const load = () => this.#load(id, this.#c.db.dialect.forUpdate);
    return this.#c.db.write(what, function* () {
      const { piped, keyHashes } = yield* load();
      const keys = change(keyHashes);
      piped.updatedAt = timestampFromDate(clock.now());
      yield* save(piped, keys);
      return withKeys(piped, keys);
    });
  }
}

function* save(p: Piped, keys: StoredKeyHash[]): Program<void> {
  yield* execute(
    `UPDATE pipeds SET project_id = ?, name = ?, disabled = ?, created_at = ?, updated_at = ?, key_hashes = ?,
     data = ? WHERE id = ?`,
    [...pipedColumns(p, keys), p.id],
  );
}

interface APIKeyRow extends DataRow {
  hash: string;
}

/** API key index columns + document, in table order after `id` (the hash has its own column). */
function apiKeyColumns(k: APIKey): unknown[] {
  return [k.projectId, k.name, k.disabled, tsMs(k.createdAt), tsMs(k.updatedAt)];
}

/** {@link APIKeyRepository} over either driver. */
export class SqlAPIKeyRepository implements APIKeyRepository {
  readonly #c: SqlContext;

  constructor(c: SqlContext) {
    this.#c = c;
  }

  async create(key: APIKey, hash: string): Promise<APIKey> {
    requireId("API key", key.id);
    if (!hash) throw new InvalidArgumentError(`API key ${key.id}: hash is required`);
    const k = stampCreate(APIKeySchema, key, this.#c.clock);
    await this.#c.db.writeOne(
      `create API key ${k.id}`,
      sql(
        `INSERT INTO api_keys (id, project_id, name, disabled, created_at, updated_at, hash, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [k.id, ...apiKeyColumns(k), hash, encode(APIKeySchema, k)],
      ),
      (err) =>
        this.#c.db.dialect.isUniqueViolation(err)
          ? new AlreadyExistsError(`API key ${k.id} exists already`, { cause: err })
          : undefined,
    );
    return k;
  }

  async get(id: string): Promise<APIKey> {
    return (await this.getAuth(id)).apiKey;
  }

  async getAuth(id: string): Promise<{ apiKey: APIKey; hash: string }> {
    return this.#c.db.read(`get API key ${id}`, function* () {
      const row = yield* first<APIKeyRow>("SELECT data, hash FROM api_keys WHERE id = ?", [id]);
      if (!row) throw new NotFoundError(`API key ${id} not found`);
      return { apiKey: decode(APIKeySchema, row), hash: row.hash };
    });
  }

  async list(projectId: string): Promise<APIKey[]> {
    return this.#c.db.read(`list API keys of ${projectId}`, function* () {
      const rows = yield* query<DataRow>(
        "SELECT data FROM api_keys WHERE project_id = ? ORDER BY created_at DESC, id DESC",
        [projectId],
      );
      return rows.map((r) => decode(APIKeySchema, r));
    });
  }

  async update(id: string, fn: (k: APIKey) => void): Promise<APIKey> {
    const clock = this.#c.clock;
    const forUpdate = this.#c.db.dialect.forUpdate;
    return this.#c.db.write(`update API key ${id}`, function* () {
      const row = yield* first<DataRow>(`SELECT data FROM api_keys WHERE id = ?${forUpdate}`, [id]);
      if (!row) throw new NotFoundError(`API key ${id} not found`);
      const k = applyUpdate("API key", decode(APIKeySchema, row), fn, clock);
      yield* execute(
        "UPDATE api_keys SET project_id = ?, name = ?, disabled = ?, created_at = ?, updated_at = ?, data = ? WHERE id = ?",
        [...apiKeyColumns(k), encode(APIKeySchema, k), id],
      );
      return k;
    });
  }

  async touchLastUsed(id: string, at: Date): Promise<void> {
    const forUpdate = this.#c.db.dialect.forUpdate;
    await this.#c.db.write(`touch API key ${id}`, function* () {
      const row = yield* first<DataRow>(`SELECT data FROM api_keys WHERE id = ?${forUpdate}`, [id]);
      // Best effort: a key deleted meanwhile is not an error, and the time never goes back.
      if (!row) return;
      const k = decode(APIKeySchema, row);
      if (k.lastUsedAt && tsMs(k.lastUsedAt) >= at.getTime()) return;
      k.lastUsedAt = timestampFromDate(at);
      yield* execute("UPDATE api_keys SET data = ? WHERE id = ?", [encode(APIKeySchema, k), id]);
    });
  }
}
