import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { isObj, type Obj } from "../object.js";
import { SCHEMA } from "./schema.generated.js";

// Kubernetes' protobuf wire format (application/vnd.kubernetes.protobuf) for the built-in
// kinds: an object is the 4-byte magic "k8s\0" and a runtime.Unknown envelope {typeMeta
// {apiVersion, kind}, raw: the kind's message}. The field tables come from Kubernetes'
// generated.proto files (scripts/gen-kube-proto.mjs); the JSON side follows the Go structs:
// JSON names, fields Go's omitempty drops when zero, embedded structs JSON inlines. A few
// messages have their own JSON form (times, IntOrString, Quantity, raw JSON): see SPECIAL.

/** One field: number, proto name, type ("a.b.Msg", a scalar, or "key,value" for maps),
 * cardinality (0 singular, 1 repeated, 2 map), JSON name if different (else 0), flags
 * (1: dropped from JSON when zero, 2: inlined into the parent's JSON). */
export type FieldRow = [number, string, string, 0 | 1 | 2, string | 0, number];

/** The generated tables: message per `apiVersion/kind` (meta kinds under `meta/`). */
export interface ProtoSchema {
  kinds: Record<string, string>;
  messages: Record<string, FieldRow[]>;
}

/** The content type of Kubernetes protobuf bodies. */
export const PROTOBUF = "application/vnd.kubernetes.protobuf";
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const META = "k8s.io.apimachinery.pkg.apis.meta.v1.";
const EXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.";

/** A bad protobuf body (the caller answers 400). */
export class ProtoError extends Error {}

/** Go's RFC3339 of a time in seconds (+ nanoseconds shown to `digits` places). */
function rfc3339(seconds: number, nanos: number, digits: 0 | 6): string {
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  return digits ? `${iso}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z` : `${iso}Z`;
}

function parseTime(v: unknown): { seconds: number; nanos: number } {
  const s = String(v);
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) throw new ProtoError(`invalid time ${JSON.stringify(s)}`);
  const frac = /\.(\d+)/.exec(s)?.[1] ?? "";
  return { seconds: Math.floor(ms / 1000), nanos: Number(frac.padEnd(9, "0").slice(0, 9)) };
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const unjson = (b: unknown): unknown =>
  typeof b === "string" && b ? JSON.parse(Buffer.from(b, "base64").toString("utf8")) : undefined;

/** Messages whose JSON form is not their fields: JSON → the message's fields, and back. */
const SPECIAL: Record<string, { toProto(v: unknown): Obj; fromProto(o: Obj): unknown }> = {
  [`${META}Time`]: {
    toProto: (v) => ({ seconds: parseTime(v).seconds }),
    fromProto: (o) => (o.seconds ? rfc3339(Number(o.seconds), 0, 0) : null),
  },
  [`${META}MicroTime`]: {
    toProto: (v) => parseTime(v),
    fromProto: (o) =>
      o.seconds || o.nanos ? rfc3339(Number(o.seconds ?? 0), Number(o.nanos ?? 0), 6) : null,
  },
  "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {
    toProto: (v) =>
      typeof v === "number" ? { type: 0, intVal: v } : { type: 1, strVal: String(v) },
    fromProto: (o) => (Number(o.type ?? 0) === 1 ? (o.strVal ?? "") : (o.intVal ?? 0)),
  },
  "k8s.io.apimachinery.pkg.api.resource.Quantity": {
    toProto: (v) => ({ string: String(v) }),
    fromProto: (o) => o.string ?? "0",
  },
  "k8s.io.apimachinery.pkg.runtime.RawExtension": {
    toProto: (v) => ({ raw: json(v) }),
    fromProto: (o) => unjson(o.raw) ?? null,
  },
  [`${META}FieldsV1`]: {
    toProto: (v) => ({ Raw: json(v) }),
    fromProto: (o) => unjson(o.Raw) ?? {},
  },
  [`${EXT}JSON`]: {
    toProto: (v) => ({ raw: json(v) }),
    fromProto: (o) => unjson(o.raw) ?? null,
  },
  [`${EXT}JSONSchemaPropsOrArray`]: {
    toProto: (v) => (Array.isArray(v) ? { jSONSchemas: v } : { schema: v }),
    fromProto: (o) => o.schema ?? o.jSONSchemas ?? [],
  },
  [`${EXT}JSONSchemaPropsOrBool`]: {
    toProto: (v) => (typeof v === "boolean" ? { allows: v } : { allows: true, schema: v }),
    fromProto: (o) => o.schema ?? o.allows ?? false,
  },
  [`${EXT}JSONSchemaPropsOrStringArray`]: {
    toProto: (v) => (Array.isArray(v) ? { property: v } : { schema: v }),
    fromProto: (o) => o.schema ?? o.property ?? [],
  },
};

const SCALAR_WIRE: Record<string, WireType> = {
  string: WireType.LengthDelimited,
  bytes: WireType.LengthDelimited,
  bool: WireType.Varint,
  int32: WireType.Varint,
  int64: WireType.Varint,
  uint32: WireType.Varint,
  uint64: WireType.Varint,
  double: WireType.Bit64,
  float: WireType.Bit32,
};

function fields(name: string, schema: ProtoSchema): FieldRow[] {
  const f = schema.messages[name];
  if (!f) throw new ProtoError(`no protobuf message ${name}`);
  return f;
}

function writeScalar(w: BinaryWriter, type: string, v: unknown): void {
  switch (type) {
    case "string":
      w.string(String(v));
      return;
    case "bytes":
      w.bytes(v instanceof Uint8Array ? v : Buffer.from(String(v), "base64"));
      return;
    case "bool":
      w.bool(v === true);
      return;
    case "int32":
      w.int32(Number(v));
      return;
    case "int64":
      w.int64(Math.trunc(Number(v)));
      return;
    case "uint32":
      w.uint32(Number(v));
      return;
    case "uint64":
      w.uint64(Math.trunc(Number(v)));
      return;
    case "double":
      w.double(Number(v));
      return;
    case "float":
      w.float(Number(v));
      return;
    default:
      throw new ProtoError(`unsupported scalar ${type}`);
  }
}

function writeValue(w: BinaryWriter, no: number, type: string, v: unknown, s: ProtoSchema): void {
  const wire = SCALAR_WIRE[type];
  if (wire !== undefined) {
    w.tag(no, wire);
    writeScalar(w, type, v);
    return;
  }
  w.tag(no, WireType.LengthDelimited).fork();
  writeMessage(w, type, v, s);
  w.join();
}

/** Writes the fields of message `name` taken from its JSON form `v`. */
function writeMessage(w: BinaryWriter, name: string, v: unknown, s: ProtoSchema): void {
  const special = SPECIAL[name];
  const o = special ? special.toProto(v) : v;
  if (!isObj(o)) throw new ProtoError(`${name}: expected an object, got ${JSON.stringify(v)}`);
  for (const [no, proto, type, card, jsonName, flags] of fields(name, s)) {
    if (flags & 2) {
      // An embedded struct: its fields sit in this object's JSON.
      writeValue(w, no, type, o, s);
      continue;
    }
    const value = o[special ? proto : jsonName || proto];
    if (value === undefined || value === null) continue;
    if (card === 1) {
      if (!Array.isArray(value)) throw new ProtoError(`${name}.${proto}: expected a list`);
      for (const item of value) if (item !== null) writeValue(w, no, type, item, s);
    } else if (card === 2) {
      if (!isObj(value)) throw new ProtoError(`${name}.${proto}: expected a map`);
      const [keyType, valueType] = type.split(",") as [string, string];
      for (const [k, item] of Object.entries(value)) {
        w.tag(no, WireType.LengthDelimited).fork();
        writeValue(w, 1, keyType, k, s);
        if (item !== null && item !== undefined) writeValue(w, 2, valueType, item, s);
        w.join();
      }
    } else writeValue(w, no, type, value, s);
  }
}

function readScalar(r: BinaryReader, type: string): unknown {
  switch (type) {
    case "string":
      return r.string();
    case "bytes":
      return Buffer.from(r.bytes()).toString("base64");
    case "bool":
      return r.bool();
    case "int32":
      return r.int32();
    case "int64":
      return Number(r.int64());
    case "uint32":
      return r.uint32();
    case "uint64":
      return Number(r.uint64());
    case "double":
      return r.double();
    case "float":
      return r.float();
    default:
      throw new ProtoError(`unsupported scalar ${type}`);
  }
}

function readValue(r: BinaryReader, type: string, wire: WireType, s: ProtoSchema): unknown {
  if (SCALAR_WIRE[type] !== undefined) return readScalar(r, type);
  if (wire !== WireType.LengthDelimited) throw new ProtoError(`${type}: wrong wire type ${wire}`);
  return readMessage(r.bytes(), type, s);
}

function isZero(v: unknown): boolean {
  return (
    v === "" ||
    v === 0 ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (isObj(v) && Object.keys(v).length === 0)
  );
}

/** Reads message `name` from `bytes` into its JSON form. */
function readMessage(bytes: Uint8Array, name: string, s: ProtoSchema): unknown {
  const rows = fields(name, s);
  const byNo = new Map(rows.map((f) => [f[0], f]));
  const special = SPECIAL[name];
  const out: Obj = {};
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    const row = byNo.get(no);
    if (!row) {
      r.skip(wire, no);
      continue;
    }
    const [, proto, type, card, jsonName, flags] = row;
    const key = special ? proto : jsonName || proto;
    if (flags & 2) {
      const inner = readValue(r, type, wire, s);
      if (isObj(inner)) Object.assign(out, inner);
    } else if (card === 1) {
      const list = (out[key] ??= []) as unknown[];
      if (
        wire === WireType.LengthDelimited &&
        SCALAR_WIRE[type] !== undefined &&
        type !== "string" &&
        type !== "bytes"
      ) {
        // A packed run of numbers.
        const end = r.uint32() + r.pos;
        while (r.pos < end) list.push(readScalar(r, type));
      } else list.push(readValue(r, type, wire, s));
    } else if (card === 2) {
      const [keyType, valueType] = type.split(",") as [string, string];
      const entry = new BinaryReader(r.bytes());
      let k: unknown = keyType === "string" ? "" : 0;
      // An entry without a value holds the value type's zero (a special message's JSON form).
      let v: unknown =
        SCALAR_WIRE[valueType] === undefined
          ? (SPECIAL[valueType]?.fromProto({}) ?? {})
          : valueType === "string"
            ? ""
            : undefined;
      while (entry.pos < entry.len) {
        const [eno, ewire] = entry.tag();
        if (eno === 1) k = readValue(entry, keyType, ewire, s);
        else if (eno === 2) v = readValue(entry, valueType, ewire, s);
        else entry.skip(ewire, eno);
      }
      ((out[key] ??= {}) as Obj)[String(k)] = v;
    } else out[key] = readValue(r, type, wire, s);
  }
  if (special) return special.fromProto(out);
  for (const [, proto, , , jsonName, flags] of rows)
    if (flags & 1 && isZero(out[jsonName || proto])) delete out[jsonName || proto];
  return out;
}

/** The message of an apiVersion/kind, if kube-sim speaks protobuf for it. */
export function messageOf(
  apiVersion: string,
  kind: string,
  s: ProtoSchema = SCHEMA,
): string | undefined {
  if (kind === "Status" || kind === "DeleteOptions" || kind === "WatchEvent")
    return s.kinds[`meta/${kind}`];
  return s.kinds[`${apiVersion}/${kind}`];
}

/** Encodes a JSON object (with apiVersion and kind) as a protobuf body, or undefined. */
export function encodeObject(o: Obj, s: ProtoSchema = SCHEMA): Buffer | undefined {
  const apiVersion = typeof o.apiVersion === "string" ? o.apiVersion : "";
  const kind = typeof o.kind === "string" ? o.kind : "";
  const name = messageOf(apiVersion, kind, s);
  if (!name) return undefined;
  const body = new BinaryWriter();
  writeMessage(body, name, o, s);
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(apiVersion);
  w.tag(2, WireType.LengthDelimited).string(kind);
  w.join();
  w.tag(2, WireType.LengthDelimited).bytes(body.finish());
  w.tag(3, WireType.LengthDelimited).string("");
  w.tag(4, WireType.LengthDelimited).string("");
  return Buffer.concat([MAGIC, w.finish()]);
}

/** Decodes a protobuf body into the JSON object it stands for (apiVersion and kind set). */
export function decodeObject(buf: Buffer, s: ProtoSchema = SCHEMA): Obj {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC))
    throw new ProtoError(
      "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
    );
  let apiVersion = "";
  let kind = "";
  let raw: Uint8Array = new Uint8Array();
  let encoding = "";
  const r = new BinaryReader(buf.subarray(4));
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    if (no === 1 && wire === WireType.LengthDelimited) {
      const tm = new BinaryReader(r.bytes());
      while (tm.pos < tm.len) {
        const [tno, twire] = tm.tag();
        if (tno === 1) apiVersion = tm.string();
        else if (tno === 2) kind = tm.string();
        else tm.skip(twire, tno);
      }
    } else if (no === 2 && wire === WireType.LengthDelimited) raw = r.bytes();
    else if (no === 3 && wire === WireType.LengthDelimited) encoding = r.string();
    else r.skip(wire, no);
  }
  if (encoding) throw new ProtoError(`unsupported content encoding ${JSON.stringify(encoding)}`);
  const name = messageOf(apiVersion, kind, s);
  if (!name) throw new ProtoError(`no kind "${kind}" is registered for version "${apiVersion}"`);
  const o = readMessage(raw, name, s);
  if (!isObj(o)) throw new ProtoError(`${kind}: not an object`);
  return { apiVersion, kind, ...o };
}

/** The JSON kind of a value, as Go's json.UnmarshalTypeError names it. */
function jsonKind(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "number";
  if (typeof v === "boolean") return "bool";
  return Array.isArray(v) ? "array" : "object";
}

const GO_SCALARS: Record<string, string> = {
  string: "string",
  bytes: "[]uint8",
  bool: "bool",
  int32: "int32",
  int64: "int64",
  uint32: "uint32",
  uint64: "uint64",
  double: "float64",
  float: "float32",
};

/** The Go type name of a message or scalar ("v1.DeploymentSpec", "int32"). */
function goType(type: string): string {
  const scalar = GO_SCALARS[type];
  if (scalar) return scalar;
  const parts = type.split(".");
  return `${parts.at(-2) ?? ""}.${parts.at(-1) ?? ""}`;
}

/** Whether a JSON value fits a scalar type as Go's decoder takes it. */
function fitsScalar(type: string, v: unknown): boolean {
  switch (type) {
    case "string":
    case "bytes":
      return typeof v === "string";
    case "bool":
      return typeof v === "boolean";
    case "double":
    case "float":
      return typeof v === "number";
    case "int32":
      return typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
    case "uint32":
      return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32;
    case "uint64":
      return typeof v === "number" && Number.isInteger(v) && v >= 0;
    default:
      return typeof v === "number" && Number.isInteger(v);
  }
}

/** JSON forms the special messages accept. */
const SPECIAL_FITS: Record<string, (v: unknown) => boolean> = {
  [`${META}Time`]: (v) => typeof v === "string",
  [`${META}MicroTime`]: (v) => typeof v === "string",
  "k8s.io.apimachinery.pkg.util.intstr.IntOrString": (v) =>
    typeof v === "string" || (typeof v === "number" && Number.isInteger(v)),
  "k8s.io.apimachinery.pkg.api.resource.Quantity": (v) =>
    typeof v === "string" || typeof v === "number",
};

/**
 * The first value of a built-in object's JSON that Go's decoder would refuse (a string where an
 * integer goes, an object where a list goes), as the API server words it, or undefined.
 */
export function jsonTypeError(o: Obj, s: ProtoSchema = SCHEMA): string | undefined {
  const apiVersion = typeof o.apiVersion === "string" ? o.apiVersion : "";
  const kind = typeof o.kind === "string" ? o.kind : "";
  const name = messageOf(apiVersion, kind, s);
  if (!name) return undefined;
  const err = checkMessage(name, o, "", s);
  return (
    err &&
    `${kind} in version "${apiVersion.split("/").pop() ?? ""}" cannot be handled as a ${kind}: ${err}`
  );
}

function checkValue(
  type: string,
  v: unknown,
  field: string,
  struct: string,
  s: ProtoSchema,
): string | undefined {
  const wrong = (goName: string) =>
    `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${field} of type ${goName}`;
  if (GO_SCALARS[type]) return fitsScalar(type, v) ? undefined : wrong(GO_SCALARS[type]);
  const special = SPECIAL_FITS[type];
  if (special) return special(v) ? undefined : wrong(goType(type));
  if (SPECIAL[type]) return undefined; // raw JSON of any shape
  if (!isObj(v)) return wrong(goType(type));
  return checkMessage(type, v, `${field}.`, s);
}

function checkMessage(name: string, o: Obj, prefix: string, s: ProtoSchema): string | undefined {
  const struct = name.split(".").pop() ?? name;
  for (const [, proto, type, card, jsonName, flags] of fields(name, s)) {
    if (flags & 2) {
      const err = checkMessage(type, o, prefix, s);
      if (err) return err;
      continue;
    }
    const key = jsonName || proto;
    const v = o[key];
    if (v === undefined || v === null) continue;
    const field = `${prefix}${key}`;
    if (card === 1) {
      if (!Array.isArray(v))
        return `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${field} of type []${goType(type)}`;
      for (const item of v) {
        if (item === null) continue;
        const err = checkValue(type, item, field, struct, s);
        if (err) return err;
      }
    } else if (card === 2) {
      const valueType = type.split(",")[1] ?? "string";
      if (!isObj(v))
        return `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${field} of type map[string]${goType(valueType)}`;
      for (const item of Object.values(v)) {
        if (item === null) continue;
        const err = checkValue(valueType, item, field, struct, s);
        if (err) return err;
      }
    } else {
      const err = checkValue(type, v, field, struct, s);
      if (err) return err;
    }
  }
  return undefined;
}
