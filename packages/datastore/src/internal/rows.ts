import {
  clone,
  fromBinary,
  toBinary,
  type DescMessage,
  type MessageShape,
} from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ApplicationSchema,
  AuditLogEntrySchema,
  CommandSchema,
  DeploymentSchema,
  PipedSchema,
  type Application,
  type AuditLogEntry,
  type Command,
  type Deployment,
  type Piped,
  type Role,
} from "@pipecd-ts/proto";
import { AlreadyExistsError, InvalidArgumentError, type Clock } from "@pipecd-ts/runtime";
import type { Session, StoredKeyHash } from "../types.js";
import {
  asBuffer,
  requireId,
  serializeKeyHashes,
  stampCreate,
  storedPiped,
  tsMs,
} from "./entities.js";

// Row ↔ message mappings of the repositories (sql/): both drivers store the same columns in the
// same order.

/** A row holding a protobuf document. */
export interface DataRow {
  data: Buffer;
}

/** Decodes a stored document. */
export function decode<D extends DescMessage>(schema: D, row: DataRow): MessageShape<D> {
  return fromBinary(schema, row.data);
}

/** Encodes a document for its `data` column. */
export function encode<D extends DescMessage>(schema: D, msg: MessageShape<D>): Buffer {
  return asBuffer(toBinary(schema, msg));
}

/** Deployment index columns + document, in table order after `id`. */
export function deploymentColumns(d: Deployment): unknown[] {
  return [
    d.projectId,
    d.pipedId,
    d.applicationId,
    d.status,
    tsMs(d.createdAt),
    tsMs(d.updatedAt),
    encode(DeploymentSchema, d),
  ];
}

/** Application index columns + document, in table order after `id`. */
export function applicationColumns(a: Application): unknown[] {
  return [
    a.projectId,
    a.pipedId,
    a.name,
    a.disabled,
    a.deleted,
    JSON.stringify(a.labels),
    tsMs(a.createdAt),
    tsMs(a.updatedAt),
    encode(ApplicationSchema, a),
  ];
}

/** Command columns in table order, from `id` (the sequence is assigned by the driver). */
export function commandColumns(c: Command, seq: bigint, dedupKey: string | null): unknown[] {
  return [
    c.id,
    c.projectId,
    c.pipedId,
    seq,
    c.status,
    c.type,
    c.deploymentId,
    c.stageId,
    dedupKey,
    tsMs(c.createdAt),
    tsMs(c.updatedAt),
    encode(CommandSchema, c),
  ];
}

/**
 * The error for a failed command insert: a dedup-key clash (one vote per user) or an id clash
 * become AlreadyExistsError; anything else is returned unchanged.
 */
export function commandInsertError(
  err: unknown,
  c: Command,
  dedupKey: string | null,
  violation: "dedup" | "unique" | undefined,
): unknown {
  if (violation === "dedup")
    return new AlreadyExistsError(`a command with dedup key "${dedupKey ?? ""}" exists already`, {
      cause: err,
    });
  if (violation === "unique")
    return new AlreadyExistsError(`command ${c.id} exists already`, { cause: err });
  return err;
}

/**
 * Piped index columns, key hashes and document, in table order after `id` (the document is
 * stored without keys: they live in their own column).
 */
export function pipedColumns(p: Piped, keys: StoredKeyHash[]): unknown[] {
  return [
    p.projectId,
    p.name,
    p.disabled,
    tsMs(p.createdAt),
    tsMs(p.updatedAt),
    serializeKeyHashes(keys),
    encode(PipedSchema, storedPiped(p)),
  ];
}

/** Validates a command to create and stamps its times; returns it with its dedup key. */
export function prepareCommand(
  cmd: Command,
  opts: { dedupKey?: string } | undefined,
  clock: Clock,
): { c: Command; dedupKey: string | null } {
  requireId("command", cmd.id);
  if (!cmd.pipedId) throw new InvalidArgumentError(`command ${cmd.id}: pipedId is required`);
  return { c: stampCreate(CommandSchema, cmd, clock), dedupKey: opts?.dedupKey || null };
}

/** A sessions row (PostgreSQL returns BIGINT columns as strings). */
export interface SessionRow {
  token_hash: string;
  username: string;
  role: number;
  created_at: number | string;
  expires_at: number | string;
}

/** Session columns in table order. */
export function sessionColumns(s: Session): unknown[] {
  if (!s.tokenHash) throw new InvalidArgumentError("session: tokenHash is required");
  return [s.tokenHash, s.username, s.role, s.createdAt.getTime(), s.expiresAt.getTime()];
}

/** The session of a row, or undefined when it has expired by `now`. */
export function sessionFromRow(row: SessionRow | undefined, now: Date): Session | undefined {
  if (!row || Number(row.expires_at) <= now.getTime()) return undefined;
  return {
    tokenHash: row.token_hash,
    username: row.username,
    role: row.role as Role,
    createdAt: new Date(Number(row.created_at)),
    expiresAt: new Date(Number(row.expires_at)),
  };
}

/**
 * Prepares an audit entry for insertion: a copy without id (the driver assigns it) and with a
 * time, plus its columns after `id` (project_id, actor, action, resource_id, created_at, data).
 */
export function auditEntryRow(
  entry: AuditLogEntry,
  clock: Clock,
): { entry: AuditLogEntry; columns: unknown[] } {
  if (!entry.projectId) throw new InvalidArgumentError("audit log entry: projectId is required");
  const e = clone(AuditLogEntrySchema, entry);
  e.id = "";
  e.time ??= timestampFromDate(clock.now());
  return {
    entry: e,
    columns: [
      e.projectId,
      e.actor,
      e.action,
      e.resourceId,
      tsMs(e.time),
      encode(AuditLogEntrySchema, e),
    ],
  };
}
