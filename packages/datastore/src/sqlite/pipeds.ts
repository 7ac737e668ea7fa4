import { toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { APIKeySchema, PipedSchema, type APIKey, type Piped } from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@pipecd-ts/runtime";
import {
  addKeyHash,
  applyUpdate,
  asBuffer,
  checkKeyHash,
  keepNewestKey,
  parseKeyHashes,
  requireId,
  stampCreate,
  tsMs,
  withKeys,
} from "../internal/entities.js";
import type { APIKeyRepository, PipedRepository, StoredKeyHash } from "../types.js";
import { bit, decode, isUniqueViolation, type DataRow, type SqliteContext } from "./util.js";
import { pipedColumns } from "../internal/rows.js";

interface PipedRow extends DataRow {
  key_hashes: string;
}

/** SQLite {@link PipedRepository}. */
export class SqlitePipedRepository implements PipedRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async create(piped: Piped, key: StoredKeyHash): Promise<Piped> {
    requireId("piped", piped.id);
    checkKeyHash(piped.id, key);
    const p = stampCreate(PipedSchema, piped, this.#c.clock);
    const keys = [key];
    return this.#c.db.write(`create piped ${p.id}`, () => {
      try {
        this.#c.db
          .prepare(
            `INSERT INTO pipeds (id, project_id, name, disabled, created_at, updated_at, key_hashes, data)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(p.id, ...pipedColumns(p, keys, bit));
      } catch (err) {
        if (isUniqueViolation(err))
          throw new AlreadyExistsError(`piped ${p.id} exists already`, { cause: err });
        throw err;
      }
      return withKeys(p, keys);
    });
  }

  async get(id: string): Promise<Piped> {
    return this.#c.db.read(`get piped ${id}`, () => {
      const { piped, keyHashes } = this.#load(id);
      return withKeys(piped, keyHashes);
    });
  }

  async getAuth(id: string): Promise<{ piped: Piped; keyHashes: StoredKeyHash[] }> {
    return this.#c.db.read(`get piped ${id}`, () => {
      const { piped, keyHashes } = this.#load(id);
      return { piped: withKeys(piped, keyHashes), keyHashes };
    });
  }

  async list(projectId: string): Promise<Piped[]> {
    return this.#c.db.read(`list pipeds of ${projectId}`, () => {
      const rows = this.#c.db
        .prepare(
          "SELECT data, key_hashes FROM pipeds WHERE project_id = ? ORDER BY created_at DESC, id DESC",
        )
        .all(projectId) as PipedRow[];
      return rows.map((r) => withKeys(decode(PipedSchema, r), parseKeyHashes(r.key_hashes)));
    });
  }

  async addKey(id: string, key: StoredKeyHash): Promise<Piped> {
    return this.#c.db.write(`add key to piped ${id}`, () =>
      this.#rewriteKeys(id, (keys) => addKeyHash(id, keys, key)),
    );
  }

  async deleteOldKeys(id: string): Promise<Piped> {
    return this.#c.db.write(`delete old keys of piped ${id}`, () =>
      this.#rewriteKeys(id, keepNewestKey),
    );
  }

  async update(id: string, fn: (p: Piped) => void): Promise<Piped> {
    return this.#c.db.write(`update piped ${id}`, () => {
      const { piped, keyHashes } = this.#load(id);
      const next = applyUpdate("piped", withKeys(piped, keyHashes), fn, this.#c.clock);
      this.#save(next, keyHashes);
      // Keys are managed by addKey/deleteOldKeys only; whatever fn did to them is discarded.
      return withKeys(next, keyHashes);
    });
  }

  #load(id: string): { piped: Piped; keyHashes: StoredKeyHash[] } {
    const row = this.#c.db.prepare("SELECT data, key_hashes FROM pipeds WHERE id = ?").get(id) as
      PipedRow | undefined;
    if (!row) throw new NotFoundError(`piped ${id} not found`);
    return { piped: decode(PipedSchema, row), keyHashes: parseKeyHashes(row.key_hashes) };
  }

  #rewriteKeys(id: string, change: (keys: StoredKeyHash[]) => StoredKeyHash[]): Piped {
    const { piped, keyHashes } = this.#load(id);
    const keys = change(keyHashes);
    piped.updatedAt = timestampFromDate(this.#c.clock.now());
    this.#save(piped, keys);
    return withKeys(piped, keys);
  }

  #save(p: Piped, keys: StoredKeyHash[]): void {
    this.#c.db
      .prepare(
        `UPDATE pipeds SET project_id = ?, name = ?, disabled = ?, created_at = ?, updated_at = ?, key_hashes = ?, data = ?
         WHERE id = ?`,
      )
      .run(...pipedColumns(p, keys, bit), p.id);
  }
}

interface APIKeyRow extends DataRow {
  hash: string;
}

/** SQLite {@link APIKeyRepository}. */
export class SqliteAPIKeyRepository implements APIKeyRepository {
  readonly #c: SqliteContext;

  constructor(c: SqliteContext) {
    this.#c = c;
  }

  async create(key: APIKey, hash: string): Promise<APIKey> {
    requireId("API key", key.id);
    if (!hash) throw new InvalidArgumentError(`API key ${key.id}: hash is required`);
    const k = stampCreate(APIKeySchema, key, this.#c.clock);
    return this.#c.db.write(`create API key ${k.id}`, () => {
      try {
        this.#c.db
          .prepare(
            `INSERT INTO api_keys (id, project_id, name, disabled, created_at, updated_at, hash, data)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            k.id,
            k.projectId,
            k.name,
            bit(k.disabled),
            tsMs(k.createdAt),
            tsMs(k.updatedAt),
            hash,
            asBuffer(toBinary(APIKeySchema, k)),
          );
      } catch (err) {
        if (isUniqueViolation(err))
          throw new AlreadyExistsError(`API key ${k.id} exists already`, { cause: err });
        throw err;
      }
      return k;
    });
  }

  async get(id: string): Promise<APIKey> {
    return this.#c.db.read(`get API key ${id}`, () => decode(APIKeySchema, this.#load(id)));
  }

  async getAuth(id: string): Promise<{ apiKey: APIKey; hash: string }> {
    return this.#c.db.read(`get API key ${id}`, () => {
      const row = this.#load(id);
      return { apiKey: decode(APIKeySchema, row), hash: row.hash };
    });
  }

  async list(projectId: string): Promise<APIKey[]> {
    return this.#c.db.read(`list API keys of ${projectId}`, () => {
      const rows = this.#c.db
        .prepare("SELECT data FROM api_keys WHERE project_id = ? ORDER BY created_at DESC, id DESC")
        .all(projectId) as DataRow[];
      return rows.map((r) => decode(APIKeySchema, r));
    });
  }

  async update(id: string, fn: (k: APIKey) => void): Promise<APIKey> {
    return this.#c.db.write(`update API key ${id}`, () => {
      const next = applyUpdate("API key", decode(APIKeySchema, this.#load(id)), fn, this.#c.clock);
      this.#save(next);
      return next;
    });
  }

  async touchLastUsed(id: string, at: Date): Promise<void> {
    return this.#c.db.write(`touch API key ${id}`, () => {
      const row = this.#c.db.prepare("SELECT data, hash FROM api_keys WHERE id = ?").get(id) as
        APIKeyRow | undefined;
      // Best effort: a key deleted meanwhile is not an error, and the time never goes back.
      if (!row) return;
      const k = decode(APIKeySchema, row);
      if (k.lastUsedAt && tsMs(k.lastUsedAt) >= at.getTime()) return;
      k.lastUsedAt = timestampFromDate(at);
      this.#c.db
        .prepare("UPDATE api_keys SET data = ? WHERE id = ?")
        .run(asBuffer(toBinary(APIKeySchema, k)), id);
    });
  }

  #load(id: string): APIKeyRow {
    const row = this.#c.db.prepare("SELECT data, hash FROM api_keys WHERE id = ?").get(id) as
      APIKeyRow | undefined;
    if (!row) throw new NotFoundError(`API key ${id} not found`);
    return row;
  }

  #save(k: APIKey): void {
    this.#c.db
      .prepare(
        "UPDATE api_keys SET project_id = ?, name = ?, disabled = ?, created_at = ?, updated_at = ?, data = ? WHERE id = ?",
      )
      .run(
        k.projectId,
        k.name,
        bit(k.disabled),
        tsMs(k.createdAt),
        tsMs(k.updatedAt),
        asBuffer(toBinary(APIKeySchema, k)),
        k.id,
      );
  }
}
