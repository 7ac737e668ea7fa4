import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** Default page size of list calls. */
export const DEFAULT_LIMIT = 50;
/** Largest page size of list calls. */
export const MAX_LIMIT = 500;

/** A decoded list cursor: the sort key of the last item of the previous page. */
export interface CursorKey {
  createdAtMs: number;
  id: string;
}

/** Clamps a requested page size to [1, MAX_LIMIT]; undefined or non-finite means the default. */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(1, Math.floor(limit)));
}

/** Encodes a cursor as base64url of `createdAtMs:id` (opaque to callers). */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.createdAtMs}:${key.id}`, "utf8").toString("base64url");
}

/** Decodes a cursor made by {@link encodeCursor}; throws InvalidArgumentError if malformed. */
export function decodeCursor(cursor: string): CursorKey {
  const bad = (): InvalidArgumentError =>
    new InvalidArgumentError(`malformed page cursor "${cursor}"`);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  // Reject anything that does not round-trip, so a cursor is exactly what we handed out.
  if (Buffer.from(text, "utf8").toString("base64url") !== cursor) throw bad();
  const m = /^(-?\d{1,16}):(.+)$/s.exec(text);
  if (!m?.[1] || !m[2]) throw bad();
  const createdAtMs = Number(m[1]);
  if (!Number.isSafeInteger(createdAtMs)) throw bad();
  return { createdAtMs, id: m[2] };
}

/** Decodes an optional cursor (empty string or undefined = first page). */
export function decodeOptionalCursor(cursor: string | undefined): CursorKey | undefined {
  return cursor ? decodeCursor(cursor) : undefined;
}

const MAX_INT64 = (1n << 63n) - 1n;

/** Decodes a cursor whose id part must be a non-negative integer (audit log ids). */
export function decodeNumericCursor(
  cursor: string | undefined,
): { createdAtMs: number; id: bigint } | undefined {
  const key = decodeOptionalCursor(cursor);
  if (!key) return undefined;
  // Ids are signed 64-bit in both stores: a larger one would fail the query, not page.
  if (!/^\d{1,19}$/.test(key.id) || BigInt(key.id) > MAX_INT64)
    throw new InvalidArgumentError(`malformed page cursor "${cursor}"`);
  return { createdAtMs: key.createdAtMs, id: BigInt(key.id) };
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only signals that there is
 * more, and the cursor points at the last returned item.
 */
export function toPage<T>(
  rows: T[],
  limit: number,
  keyOf: (item: T) => CursorKey,
): { items: T[]; cursor: string } {
  if (rows.length <= limit) return { items: rows, cursor: "" };
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, cursor: last === undefined ? "" : encodeCursor(keyOf(last)) };
}
