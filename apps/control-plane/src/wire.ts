import {
  ScalarType,
  clone,
  toJson,
  type DescField,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { RequestPrecheck } from "@pipecd-ts/proto";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

// The wire rules every PipedService request must keep, checked once at the edge by walking the
// request's descriptor: so a new message or field is covered without code here. What a single
// RPC needs beyond these (required ids, which statuses it accepts, legal transitions) stays in its
// handler. A violation is INVALID_ARGUMENT naming the field; nothing invalid reaches the store.

/** Limits of the checks (the defaults are what a piped ever needs, with a wide margin). */
export interface WireLimits {
  /** Longest string field, in UTF-16 code units (log text and metadata have their own limits). */
  maxStringLength: number;
  /** Most elements of a repeated or map field. */
  maxElements: number;
}

/** The default {@link WireLimits}. */
export const DEFAULT_WIRE_LIMITS: WireLimits = {
  maxStringLength: 1 << 20,
  maxElements: 10_000,
};

/** The protobuf Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n;
/** 64-bit fields are stored as signed 64-bit integers (SQLite INTEGER, PostgreSQL BIGINT). */
const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const LONG_SCALARS = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

/** Throws InvalidArgumentError naming the first field of `msg` that breaks a wire rule. */
export function validateMessage(
  desc: DescMessage,
  msg: unknown,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): void {
  const problem = checkMessage(desc, msg as Record<string, unknown>, "", limits);
  if (problem) throw new InvalidArgumentError(problem);
}

function checkMessage(
  desc: DescMessage,
  msg: Record<string, unknown>,
  path: string,
  limits: WireLimits,
): string | undefined {
  if (desc.typeName === "google.protobuf.Timestamp") return checkTimestamp(msg, path);
  for (const f of desc.fields) {
    let value: unknown;
    if (f.oneof) {
      const o = msg[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (o?.case !== f.localName) continue;
      value = o.value;
    } else value = msg[f.localName];
    const problem = checkField(f, value, path ? `${path}.${f.name}` : f.name, limits);
    if (problem) return problem;
  }
  return undefined;
}

function checkTimestamp(ts: Record<string, unknown>, path: string): string | undefined {
  const seconds = ts.seconds as bigint;
  const nanos = ts.nanos as number;
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS)
    return `${path}: seconds ${seconds} is outside the Timestamp range (years 1 to 9999)`;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999)
    return `${path}: nanos ${nanos} is outside 0..999999999`;
  return undefined;
}

function checkField(f: DescField, value: unknown, path: string, limits: WireLimits) {
  if (value === undefined) return undefined;
  switch (f.fieldKind) {
    case "scalar":
      return checkScalar(f.scalar, value, path, limits);
    case "enum":
      return checkEnum(f.enum.values, f.enum.name, value as number, path);
    case "message":
      return checkMessage(f.message, value as Record<string, unknown>, path, limits);
    case "list": {
      const items = value as unknown[];
      if (items.length > limits.maxElements)
        return `${path}: ${items.length} elements (at most ${limits.maxElements})`;
      for (const [i, item] of items.entries()) {
        const at = `${path}[${i}]`;
        const problem =
          f.listKind === "scalar"
            ? checkScalar(f.scalar, item, at, limits)
            : f.listKind === "enum"
              ? checkEnum(f.enum.values, f.enum.name, item as number, at)
              : checkMessage(f.message, item as Record<string, unknown>, at, limits);
        if (problem) return problem;
      }
      return undefined;
    }
    case "map": {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length > limits.maxElements)
        return `${path}: ${entries.length} entries (at most ${limits.maxElements})`;
      for (const [k, v] of entries) {
        const at = `${path}[${JSON.stringify(k.slice(0, 64))}]`;
        const problem =
          checkScalar(ScalarType.STRING, k, `${path} key`, limits) ??
          (f.mapKind === "scalar"
            ? checkScalar(f.scalar, v, at, limits)
            : f.mapKind === "enum"
              ? checkEnum(f.enum.values, f.enum.name, v as number, at)
              : checkMessage(f.message, v as Record<string, unknown>, at, limits));
        if (problem) return problem;
      }
      return undefined;
    }
  }
}

function checkScalar(
  type: ScalarType,
  value: unknown,
  path: string,
  limits: WireLimits,
): string | undefined {
  if (type === ScalarType.STRING) {
    const s = value as string;
    if (s.length > limits.maxStringLength)
      return `${path}: ${s.length} characters (at most ${limits.maxStringLength})`;
    // The binary decoder turns invalid UTF-8 into U+FFFD, but a lone surrogate can still come
    // from a JSON-mapped message; neither store nor echo one.
    if (/\p{Surrogate}/u.test(s)) return `${path}: holds a lone UTF-16 surrogate`;
    return undefined;
  }
  if (LONG_SCALARS.has(type)) {
    const n = BigInt(value as bigint | string);
    if (n > MAX_INT64 || n < MIN_INT64) return `${path}: ${n} does not fit a signed 64-bit integer`;
  }
  if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) {
    if (!Number.isFinite(value)) return `${path}: ${String(value)} is not a finite number`;
  }
  return undefined;
}

function checkEnum(
  values: readonly { number: number }[],
  name: string,
  value: number,
  path: string,
): string | undefined {
  return values.some((v) => v.number === value)
    ? undefined
    : `${path}: ${value} is not a ${name} value`;
}

/**
 * `msg` in the protobuf JSON mapping, for REST answers, whatever is stored. A value JSON cannot
 * carry (a Timestamp outside its range, stored before the wire checks above existed) is left out
 * and its path listed in `invalidFields`, so one bad row shows up as invalid instead of failing
 * the whole answer with a 500.
 */
export function toRestJson<D extends DescMessage>(desc: D, msg: MessageShape<D>): JsonValue {
  try {
    return toJson(desc, msg, { alwaysEmitImplicit: true });
  } catch {
    const fixed = clone(desc, msg);
    const invalid: string[] = [];
    dropUnrepresentable(desc, fixed, "", invalid);
    const out = toJson(desc, fixed, { alwaysEmitImplicit: true }) as Record<string, JsonValue>;
    return { ...out, invalidFields: invalid };
  }
}

/** Removes Timestamps outside the protobuf range from `msg`, recording their JSON paths. */
function dropUnrepresentable(
  desc: DescMessage,
  msg: Record<string, unknown>,
  path: string,
  invalid: string[],
): void {
  const visit = (d: DescMessage, v: unknown, at: string): boolean => {
    if (d.typeName === "google.protobuf.Timestamp") {
      if (checkTimestamp(v as Record<string, unknown>, at) === undefined) return false;
      invalid.push(at);
      return true;
    }
    dropUnrepresentable(d, v as Record<string, unknown>, at, invalid);
    return false;
  };
  for (const f of desc.fields) {
    const at = path ? `${path}.${f.jsonName}` : f.jsonName;
    if (f.oneof) {
      const o = msg[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (o?.case === f.localName && f.fieldKind === "message" && visit(f.message, o.value, at))
        msg[f.oneof.localName] = { case: undefined };
      continue;
    }
    const value = msg[f.localName];
    if (value === undefined) continue;
    if (f.fieldKind === "message") {
      if (visit(f.message, value, at)) msg[f.localName] = undefined;
    } else if (f.fieldKind === "list" && f.listKind === "message") {
      const items = value as unknown[];
      msg[f.localName] = items.filter((item, i) => !visit(f.message, item, `${at}[${i}]`));
    } else if (f.fieldKind === "map" && f.mapKind === "message") {
      const entries = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(entries))
        if (visit(f.message, v, `${at}.${k}`)) delete entries[k];
    }
  }
}

/** A repeated or map field's own element limit, where it has one, and the limit's name. */
export type ElementLimit = (field: DescField) => { max: number; name: string } | undefined;

/**
 * The gRPC server's {@link RequestPrecheck}: counts the elements of each repeated and map field of
 * the request message in its bytes, without decoding them, and refuses a request with more than
 * its field's limit (`own`) or `limits.maxElements`. Decoding and checking 100,000 log blocks
 * (4 MB) held the event loop for about 200 ms; counting them takes about a millisecond. Bytes that
 * are not a message are left to the decoder.
 */
export function elementCountPrecheck(
  own: ElementLimit,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): RequestPrecheck {
  return (desc, bytes) => {
    const counts = countFields(bytes);
    if (!counts) return undefined;
    for (const [no, n] of counts) {
      const f = desc.fields.find((x) => x.number === no);
      if (!f || (f.fieldKind !== "list" && f.fieldKind !== "map")) continue;
      const limit = own(f) ?? { max: limits.maxElements, name: "the element limit" };
      if (n > limit.max)
        return `${f.name} holds ${n} elements; at most ${limit.max} in one call (${limit.name}), send the rest in further calls`;
    }
    return undefined;
  };
}

/** Occurrences of each top-level field number in protobuf `bytes`; undefined if malformed. */
function countFields(bytes: Uint8Array): Map<number, number> | undefined {
  const counts = new Map<number, number>();
  let pos = 0;
  // A varint at `pos` (up to 10 bytes); sets `pos` past it. NaN if it runs off the end.
  const varint = (): number => {
    let value = 0;
    for (let shift = 1, i = 0; i < 10; i++, shift *= 128) {
      const b = bytes[pos++];
      if (b === undefined) return NaN;
      value += (b & 0x7f) * shift;
      if (b < 0x80) return value;
    }
    return NaN;
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (Number.isNaN(tag)) return undefined;
    switch (tag % 8) {
      case 0:
        if (Number.isNaN(varint())) return undefined;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const len = varint();
        if (Number.isNaN(len)) return undefined;
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return undefined; // groups (3, 4) and invalid wire types: the decoder says why
    }
    if (pos > bytes.length) return undefined;
    const no = Math.floor(tag / 8);
    counts.set(no, (counts.get(no) ?? 0) + 1);
  }
  return counts;
}
