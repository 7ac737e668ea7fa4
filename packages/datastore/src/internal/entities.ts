import { clone, create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  assertDeploymentTransition,
  assertStageTransition,
  deploymentStatusName,
  isDeploymentCompleted,
  stageStatusName,
} from "@pipecd-ts/model";
import {
  CommandStatus,
  PipedKeySchema,
  type Command,
  type Deployment,
  type Piped,
} from "@pipecd-ts/proto";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  type Clock,
} from "@pipecd-ts/runtime";
import type { StoredKeyHash } from "../types.js";

// Driver-independent rules shared by the SQLite and PostgreSQL repositories: timestamps,
// update validation, piped key bookkeeping and command results. Pure functions only.

/** A message with the standard createdAt/updatedAt fields. */
export interface Stamped {
  createdAt?: Timestamp | undefined;
  updatedAt?: Timestamp | undefined;
}

/** Epoch milliseconds of a timestamp; 0 when absent. */
export function tsMs(ts: Timestamp | undefined): number {
  return ts ? timestampMs(ts) : 0;
}

/** Rejects an empty id (every stored entity needs one). */
export function requireId(kind: string, id: string): void {
  if (!id) throw new InvalidArgumentError(`${kind}: id is required`);
}

/** A copy of `msg` with createdAt/updatedAt set from the clock where absent. */
export function stampCreate<D extends DescMessage>(
  schema: D,
  msg: MessageShape<D>,
  clock: Clock,
): MessageShape<D> {
  const out = clone(schema, msg);
  const stamped = out as Stamped;
  const now = clock.now();
  stamped.createdAt ??= timestampFromDate(now);
  stamped.updatedAt ??= timestampFromDate(now);
  return out;
}

/**
 * Runs a caller's update function on `fresh` (a message just decoded from its row, owned by this
 * call: no copy is made, since nothing else sees it and it is dropped if `fn` throws) and stamps
 * updatedAt. The id must not change. Errors thrown by `fn` propagate unchanged.
 */
export function applyUpdate<M extends Stamped & { id: string }>(
  kind: string,
  fresh: M,
  fn: (m: M) => void,
  clock: Clock,
): M {
  const id = fresh.id;
  fn(fresh);
  if (fresh.id !== id) {
    throw new InvalidArgumentError(`${kind} ${id}: update must not change the id`);
  }
  fresh.updatedAt = timestampFromDate(clock.now());
  return fresh;
}

/**
 * The deployment update rule: run `fn` on `fresh` (see {@link applyUpdate}), then check the
 * deployment status transition and every stage's status transition against a snapshot taken
 * before (stages matched by id; a stage is retried when its retriedCount went up). Throws
 * FailedPreconditionError for an illegal transition.
 */
export function applyDeploymentUpdate(
  fresh: Deployment,
  fn: (d: Deployment) => void,
  clock: Clock,
): Deployment {
  const { id, status, pipedId, projectId } = fresh;
  const before = new Map(
    fresh.stages.map((s) => [s.id, { status: s.status, retriedCount: s.retriedCount }]),
  );
  const next = applyUpdate("deployment", fresh, fn, clock);
  assertDeploymentTransition(id, status, next.status);
  const completed = isDeploymentCompleted(status);
  for (const stage of next.stages) {
    if (stage.retriedCount < 0)
      throw new InvalidArgumentError(
        `deployment ${id}: stage ${stage.id} retried_count ${stage.retriedCount} is negative`,
      );
    const old = before.get(stage.id);
    if (!old) continue;
    if (stage.retriedCount < old.retriedCount)
      throw new FailedPreconditionError(
        `deployment ${id}: stage ${stage.id} retried_count cannot go back from ${old.retriedCount} to ${stage.retriedCount}`,
      );
    // A completed deployment's stages are final: a retried count going up does not reopen one.
    if (completed && stage.status !== old.status)
      throw new FailedPreconditionError(
        `deployment ${id} is completed (${deploymentStatusName(status)}): stage ${stage.id} stays ${stageStatusName(old.status)}`,
      );
    assertStageTransition(
      id,
      stage.id,
      old.status,
      stage.status,
      stage.retriedCount > old.retriedCount,
    );
  }
  // Ownership is what authorizes a piped's reports; it is fixed at creation.
  if (next.pipedId !== pipedId || next.projectId !== projectId) {
    throw new FailedPreconditionError(
      `deployment ${id}: update must not change its piped or project`,
    );
  }
  return next;
}

/** A piped key hash as stored in the `key_hashes` JSON column. */
interface KeyHashRow {
  id: string;
  hash: string;
  creator: string;
  createdAt: number;
}

/** Parses the `key_hashes` column (JSON text in SQLite, already-parsed jsonb in PostgreSQL). */
export function parseKeyHashes(value: unknown): StoredKeyHash[] {
  const rows: unknown = typeof value === "string" ? JSON.parse(value) : value;
  if (!Array.isArray(rows)) throw new InternalError("corrupt piped key_hashes column");
  return (rows as KeyHashRow[]).map((r) => ({
    id: r.id,
    hash: r.hash,
    creator: r.creator,
    createdAt: new Date(r.createdAt),
  }));
}

/** Serializes key hashes for the `key_hashes` column. */
export function serializeKeyHashes(keys: StoredKeyHash[]): string {
  const rows: KeyHashRow[] = keys.map((k) => ({
    id: k.id,
    hash: k.hash,
    creator: k.creator,
    createdAt: k.createdAt.getTime(),
  }));
  return JSON.stringify(rows);
}

/** Validates a key hash before it is stored. */
export function checkKeyHash(pipedId: string, key: StoredKeyHash): void {
  if (!key.id || !key.hash)
    throw new InvalidArgumentError(`piped ${pipedId}: a key needs an id and a hash`);
  if (!(key.createdAt instanceof Date) || Number.isNaN(key.createdAt.getTime())) {
    throw new InvalidArgumentError(`piped ${pipedId}: key ${key.id} has an invalid createdAt`);
  }
}

/** Adds a key, dropping the oldest so that at most two remain (newest last). */
export function addKeyHash(
  pipedId: string,
  keys: StoredKeyHash[],
  key: StoredKeyHash,
): StoredKeyHash[] {
  checkKeyHash(pipedId, key);
  if (keys.some((k) => k.id === key.id)) {
    throw new AlreadyExistsError(`piped ${pipedId}: key ${key.id} exists already`);
  }
  return [...keys, key].slice(-2);
}

/** Keeps only the newest key. */
export function keepNewestKey(keys: StoredKeyHash[]): StoredKeyHash[] {
  return keys.slice(-1);
}

/** The piped as returned to callers: `keys` derived from the stored hashes, without the hashes. */
export function withKeys(piped: Piped, keys: StoredKeyHash[]): Piped {
  piped.keys = keys.map((k) =>
    create(PipedKeySchema, {
      id: k.id,
      creator: k.creator,
      createdAt: timestampFromDate(k.createdAt),
    }),
  );
  return piped;
}

/** A copy of the piped document as stored: keys live in their own column, so it has none. */
export function storedPiped(piped: Piped): Piped {
  return { ...piped, keys: [] };
}

/**
 * Applies a command result. Returns undefined when the command already has `status` (an
 * idempotent re-report), else the updated command; throws FailedPreconditionError when an
 * already handled command would change its status.
 */
export function applyMarkHandled(
  cmd: Command,
  status: CommandStatus,
  metadata: Record<string, string>,
  handledAt: Date,
  clock: Clock,
  output?: Uint8Array,
): Command | undefined {
  if (status === CommandStatus.COMMAND_NOT_HANDLED_YET) {
    throw new InvalidArgumentError(`command ${cmd.id}: a handled status is required`);
  }
  if (cmd.status === status) return undefined;
  if (cmd.status !== CommandStatus.COMMAND_NOT_HANDLED_YET) {
    throw new FailedPreconditionError(
      `command ${cmd.id} was already handled as ${CommandStatus[cmd.status]}, cannot change it to ${CommandStatus[status]}`,
    );
  }
  cmd.status = status;
  cmd.metadata = { ...cmd.metadata, ...metadata };
  cmd.handledAt = timestampFromDate(handledAt);
  cmd.updatedAt = timestampFromDate(clock.now());
  if (output?.length) cmd.output = output;
  return cmd;
}

/** Checks the size bound of a notification payload and the shape of a channel name. */
export function checkNotification(channel: string, payload?: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) {
    throw new InvalidArgumentError(
      `invalid notification channel "${channel}": must match [a-z_][a-z0-9_]* (≤63 chars)`,
    );
  }
  if (payload !== undefined && Buffer.byteLength(payload, "utf8") > MAX_NOTIFY_PAYLOAD) {
    throw new InvalidArgumentError(
      `notification payload on ${channel} exceeds ${MAX_NOTIFY_PAYLOAD} bytes`,
    );
  }
}

/** Largest notification payload in bytes (PostgreSQL's NOTIFY limit is 8000). */
export const MAX_NOTIFY_PAYLOAD = 7000;

/** Bytes of a protobuf binary as a Buffer (what both drivers bind for BLOB/BYTEA). */
export function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}
