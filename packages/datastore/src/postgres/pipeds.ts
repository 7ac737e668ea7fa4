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
import { isPgUniqueViolation, mapPgError, type PgQuery } from "./db.js";
import { decode, type DataRow, type PgContext } from "./util.js";
import { pipedColumns } from "../internal/rows.js";

interface PipedRow extends DataRow {
  key_hashes: unknown;
}

/** PostgreSQL {@link PipedRepository}. */
export class PgPipedRepository implements PipedRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async create(piped: Piped, key: StoredKeyHash): Promise<Piped> {
    requireId("piped", piped.id);
    checkKeyHash(piped.id, key);
    const p = stampCreate(PipedSchema, piped, this.#c.clock);
    const keys = [key];
    try {
      await this.#c.db.pool.query(
        `INSERT INTO pipeds (id, project_id, name, disabled, created_at, updated_at, key_hashes, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
        [p.id, ...pipedColumns(p, keys, (b) => b)],
      );
    } catch (err) {
      if (isPgUniqueViolation(err))
        throw new AlreadyExistsError(`piped ${p.id} exists already`, { cause: err });
      throw mapPgError(err, `create piped ${p.id}`);
    }
    return withKeys(p, keys);
  }

  async get(id: string): Promise<Piped> {
    const { piped, keyHashes } = await this.#load(id);
    return withKeys(piped, keyHashes);
  }

  async getAuth(id: string): Promise<{ piped: Piped; keyHashes: StoredKeyHash[] }> {
    const { piped, keyHashes } = await this.#load(id);
    return { piped: withKeys(piped, keyHashes), keyHashes };
  }

  async list(projectId: string): Promise<Piped[]> {
    const rows = await this.#c.db.query<PipedRow>(
      `list pipeds of ${projectId}`,
      "SELECT data, key_hashes FROM pipeds WHERE project_id = $1 ORDER BY created_at DESC, id DESC",
      [projectId],
    );
    return rows.map((r) => withKeys(decode(PipedSchema, r), parseKeyHashes(r.key_hashes)));
  }

  async addKey(id: string, key: StoredKeyHash): Promise<Piped> {
    return this.#rewriteKeys(id, `add key to piped ${id}`, (keys) => addKeyHash(id, keys, key));
  }

  async deleteOldKeys(id: string): Promise<Piped> {
    return this.#rewriteKeys(id, `delete old keys of piped ${id}`, keepNewestKey);
  }

  async update(id: string, fn: (p: Piped) => void): Promise<Piped> {
    return this.#c.db.tx(`update piped ${id}`, async (q) => {
      const { piped, keyHashes } = await this.#lock(q, id);
      const next = applyUpdate("piped", withKeys(piped, keyHashes), fn, this.#c.clock);
      await save(q, next, keyHashes);
      // Keys are managed by addKey/deleteOldKeys only; whatever fn did to them is discarded.
      return withKeys(next, keyHashes);
    });
  }

  async #load(id: string): Promise<{ piped: Piped; keyHashes: StoredKeyHash[] }> {
    const [row] = await this.#c.db.query<PipedRow>(
      `get piped ${id}`,
      "SELECT data, key_hashes FROM pipeds WHERE id = $1",
      [id],
    );
    if (!row) throw new NotFoundError(`piped ${id} not found`);
    return { piped: decode(PipedSchema, row), keyHashes: parseKeyHashes(row.key_hashes) };
  }

  async #lock(q: PgQuery, id: string): Promise<{ piped: Piped; keyHashes: StoredKeyHash[] }> {
    const [row] = await q<PipedRow>(
      "SELECT data, key_hashes FROM pipeds WHERE id = $1 FOR UPDATE",
      [id],
    );
    if (!row) throw new NotFoundError(`piped ${id} not found`);
    return { piped: decode(PipedSchema, row), keyHashes: parseKeyHashes(row.key_hashes) };
  }

  async #rewriteKeys(
    id: string,
    what: string,
    change: (keys: StoredKeyHash[]) => StoredKeyHash[],
  ): Promise<Piped> {
    return this.#c.db.tx(what, async (q) => {
      const { piped, keyHashes } = await this.#lock(q, id);
      const keys = change(keyHashes);
      piped.updatedAt = timestampFromDate(this.#c.clock.now());
      await save(q, piped, keys);
      return withKeys(piped, keys);
    });
  }
}

async function save(q: PgQuery, p: Piped, keys: StoredKeyHash[]): Promise<void> {
  await q(
    `UPDATE pipeds SET project_id = $1, name = $2, disabled = $3, created_at = $4, updated_at = $5, key_hashes = $6::jsonb,
     data = $7 WHERE id = $8`,
    [...pipedColumns(p, keys, (b) => b), p.id],
  );
}

interface APIKeyRow extends DataRow {
  hash: string;
}

/** PostgreSQL {@link APIKeyRepository}. */
export class PgAPIKeyRepository implements APIKeyRepository {
  readonly #c: PgContext;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async create(key: APIKey, hash: string): Promise<APIKey> {
    requireId("API key", key.id);
    if (!hash) throw new InvalidArgumentError(`API key ${key.id}: hash is required`);
    const k = stampCreate(APIKeySchema, key, this.#c.clock);
    try {
      await this.#c.db.pool.query(
        `INSERT INTO api_keys (id, project_id, name, disabled, created_at, updated_at, hash, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          k.id,
          k.projectId,
          k.name,
          k.disabled,
          tsMs(k.createdAt),
          tsMs(k.updatedAt),
          hash,
          asBuffer(toBinary(APIKeySchema, k)),
        ],
      );
    } catch (err) {
      if (isPgUniqueViolation(err))
        throw new AlreadyExistsError(`API key ${k.id} exists already`, { cause: err });
      throw mapPgError(err, `create API key ${k.id}`);
    }
    return k;
  }

  async get(id: string): Promise<APIKey> {
    return decode(APIKeySchema, await this.#load(id));
  }

  async getAuth(id: string): Promise<{ apiKey: APIKey; hash: string }> {
    const row = await this.#load(id);
    return { apiKey: decode(APIKeySchema, row), hash: row.hash };
  }

  async list(projectId: string): Promise<APIKey[]> {
    const rows = await this.#c.db.query<DataRow>(
      `list API keys of ${projectId}`,
      "SELECT data FROM api_keys WHERE project_id = $1 ORDER BY created_at DESC, id DESC",
      [projectId],
    );
    return rows.map((r) => decode(APIKeySchema, r));
  }

  async update(id: string, fn: (k: APIKey) => void): Promise<APIKey> {
    return this.#c.db.tx(`update API key ${id}`, async (q) => {
      const [row] = await q<DataRow>("SELECT data FROM api_keys WHERE id = $1 FOR UPDATE", [id]);
      if (!row) throw new NotFoundError(`API key ${id} not found`);
      const k = applyUpdate("API key", decode(APIKeySchema, row), fn, this.#c.clock);
      await q(
        "UPDATE api_keys SET project_id = $1, name = $2, disabled = $3, created_at = $4, updated_at = $5, data = $6 WHERE id = $7",
        [
          k.projectId,
          k.name,
          k.disabled,
          tsMs(k.createdAt),
          tsMs(k.updatedAt),
          asBuffer(toBinary(APIKeySchema, k)),
          id,
        ],
      );
      return k;
    });
  }

  async touchLastUsed(id: string, at: Date): Promise<void> {
    await this.#c.db.tx(`touch API key ${id}`, async (q) => {
      const [row] = await q<DataRow>("SELECT data FROM api_keys WHERE id = $1 FOR UPDATE", [id]);
      // Best effort: a key deleted meanwhile is not an error, and the time never goes back.
      if (!row) return;
      const k = decode(APIKeySchema, row);
      if (k.lastUsedAt && tsMs(k.lastUsedAt) >= at.getTime()) return;
      k.lastUsedAt = timestampFromDate(at);
      await q("UPDATE api_keys SET data = $1 WHERE id = $2", [
        asBuffer(toBinary(APIKeySchema, k)),
        id,
      ]);
    });
  }

  async #load(id: string): Promise<APIKeyRow> {
    const [row] = await this.#c.db.query<APIKeyRow>(
      `get API key ${id}`,
      "SELECT data, hash FROM api_keys WHERE id = $1",
      [id],
    );
    if (!row) throw new NotFoundError(`API key ${id} not found`);
    return row;
  }
}
