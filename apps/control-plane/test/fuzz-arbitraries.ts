import fc from "fast-check";
import { ScalarType, create, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { TSchema } from "typebox";

// Request generators for the fuzz suite, derived from the REST route table's JSON schemas and the
// PipedService descriptors: a new route, field or RPC is fuzzed without a line here. Most values
// keep to their schema so that requests reach deep into the handlers; a share of every leaf is
// hostile (lone surrogates, NUL, 64-bit overflows, wrong types, huge or nested values), and the
// encodings are mutated on top (raw bytes, truncation, wrong content types).

/** Values no schema allows that have broken servers before. */
export const hostileString = fc.oneof(
  fc.constantFrom(
    "\ud800",
    "a\udfffb",
    "\u0000",
    "x\u0000y",
    "",
    " ",
    "..",
    "../../etc/passwd",
    "%00",
    "%ZZ",
    "\u202e",
    "💥",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "__proto__",
    "constructor",
    "18446744073709551616",
    "99999999999999999999999999999",
    "-1",
    "1e400",
    // Page cursors are base64url of "<ms>:<id>": well-formed ones with out-of-range parts.
    ...["1:9999999999999999999", "1:9223372036854775808", "99999999999999999:x", "-1:\u0000"].map(
      (c) => Buffer.from(c).toString("base64url"),
    ),
  ),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => `id-${String.fromCharCode(u)}`),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc
    .oneof(fc.integer({ min: 1, max: 2000 }), fc.constantFrom(4095, 4096, 65_535, 65_536, 70_000))
    .map((n) => "a".repeat(n)),
);

/** JSON values of the wrong kind or out of every range. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    -0,
    1.5,
    2 ** 53 + 2,
    -(2 ** 63),
    2 ** 64,
    1e308,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.constant([]),
  fc.constant({}),
  fc.constant(JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}')),
  fc.integer({ min: 1, max: 60 }).map((depth) => nest(depth)),
  fc.jsonValue({ maxDepth: 3 }),
);

function nest(depth: number): unknown {
  let v: unknown = "deep";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** `valid` most of the time, a hostile value otherwise. */
function mostly(valid: fc.Arbitrary<unknown>, hostile: fc.Arbitrary<unknown> = hostileJson) {
  return fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

/** `value` once in `n` cases, null otherwise. */
export function rarely<T>(value: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: value });
}

/** Knobs of the generators: ids of stored things, so that requests get past "not found". */
export interface SchemaContext {
  /**
   * Ids for a field, path segment or parameter named `hint` (`deploymentId`, `pipeds`, `id`):
   * empty where the name does not look like an id.
   */
  ids(hint: string): readonly string[];
}

type JsonSchema = TSchema & {
  type?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  patternProperties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  maxProperties?: number;
};

/** A value for a JSON schema (TypeBox): mostly valid, with hostile leaves. */
export function schemaValue(schema: TSchema, ctx: SchemaContext, key = ""): fc.Arbitrary<unknown> {
  const s = schema as JsonSchema;
  if (s.const !== undefined) return mostly(fc.constant(s.const));
  if (s.anyOf) return fc.oneof(...s.anyOf.map((sub) => schemaValue(sub, ctx, key)));
  switch (s.type) {
    case "string": {
      const min = s.minLength ?? 0;
      const max = Math.min(s.maxLength ?? 64, 64);
      const text = s.pattern
        ? fc
            .stringMatching(new RegExp(s.pattern), { size: "small" })
            .filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity))
        : fc.string({ minLength: min, maxLength: Math.max(min, max), unit: "grapheme" });
      const edges = fc.constantFrom(
        ...[s.maxLength, (s.maxLength ?? 0) + 1]
          .filter((n): n is number => n !== undefined && n > 0)
          .map((n) => "x".repeat(n)),
        ...(min > 0 ? [""] : []),
      );
      const ids = ctx.ids(key);
      return mostly(
        fc.oneof(
          { weight: 8, arbitrary: text },
          { weight: 1, arbitrary: edges },
          ...(ids.length ? [{ weight: 12, arbitrary: fc.constantFrom(...ids) }] : []),
        ),
      );
    }
    case "integer":
    case "number": {
      const min = s.minimum ?? -1e6;
      const max = s.maximum ?? 1e6;
      return mostly(
        fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max, min - 1, max + 1)),
      );
    }
    case "boolean":
      return mostly(fc.boolean());
    case "array":
      return mostly(
        fc.array(s.items ? schemaValue(s.items, ctx, key) : hostileJson, {
          maxLength: Math.min(s.maxItems ?? 5, 5),
        }),
      );
    case "object": {
      if (s.patternProperties) {
        const [[pattern, value]] = Object.entries(s.patternProperties) as [[string, JsonSchema]];
        return mostly(
          fc.dictionary(
            fc.oneof(fc.stringMatching(new RegExp(pattern), { size: "xsmall" }), hostileString),
            schemaValue(value, ctx, key),
            { maxKeys: 6 },
          ),
        );
      }
      const props = Object.fromEntries(
        Object.entries(s.properties ?? {}).map(([k, v]) => [k, schemaValue(v, ctx, k)]),
      );
      const required = new Set(s.required ?? []);
      const record = fc
        .tuple(
          fc.record(props, { requiredKeys: [...required] }),
          // Sometimes drop a required key, sometimes add one the schema does not know.
          rarely(fc.constantFrom(...(required.size ? [...required] : ["-"])), 20),
          rarely(fc.tuple(fc.constantFrom("extra", "__proto__", "id", "role"), hostileJson), 20),
        )
        .map(([obj, drop, extra]) => {
          const out: Record<string, unknown> = { ...obj };
          if (drop !== null) delete out[drop];
          if (extra !== null)
            Object.defineProperty(out, extra[0], { value: extra[1], enumerable: true });
          return out;
        });
      return mostly(record);
    }
    default:
      return hostileJson;
  }
}

// --- protobuf -----------------------------------------------------------------------------------

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function scalarValue(type: ScalarType, ids: readonly string[]): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.STRING:
      return fc.oneof(
        { weight: 3, arbitrary: fc.string({ maxLength: 40, unit: "grapheme" }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: "binary" }) },
        { weight: 1, arbitrary: hostileString },
        ...(ids.length ? [{ weight: 12, arbitrary: fc.constantFrom(...ids) }] : []),
      );
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return usually(
        fc.integer({ min: -3, max: 10 }),
        fc.integer(INT32),
        fc.constantFrom(INT32.min, INT32.max),
      );
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return usually(fc.nat(10), fc.nat(0xffffffff), fc.constant(0xffffffff));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return usually(
        fc.bigInt(0n, 10n),
        fc.bigInt(0n, (1n << 64n) - 1n),
        fc.constantFrom(INT64_MAX, INT64_MAX + 1n, (1n << 64n) - 1n),
      );
    default:
      return usually(
        fc.bigInt(-3n, 10n),
        fc.bigInt(INT64_MIN, INT64_MAX),
        fc.constantFrom(INT64_MIN, INT64_MAX, BigInt(Number.MAX_SAFE_INTEGER) + 2n),
      );
  }
}

/** `common` eight times in ten, each of `rare` otherwise. */
function usually<T>(common: fc.Arbitrary<T>, ...rare: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof(
    { weight: 4 * rare.length, arbitrary: common },
    ...rare.map((arbitrary) => ({ weight: 1, arbitrary })),
  );
}

const TIMESTAMP = fc.record({
  seconds: fc.oneof(
    { weight: 10, arbitrary: fc.bigInt(0n, 4_102_444_800n) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        -62_135_596_801n,
        -62_135_596_800n,
        253_402_300_799n,
        253_402_300_800n,
        -1n,
      ),
    },
    { weight: 1, arbitrary: fc.bigInt(INT64_MIN, INT64_MAX) },
  ),
  nanos: fc.oneof(
    { weight: 10, arbitrary: fc.nat(999_999_999) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1_000_000_000, INT32.max, INT32.min) },
  ),
});

function fieldValue(f: DescField, ctx: SchemaContext, depth: number): fc.Arbitrary<unknown> {
  const ids = ctx.ids(f.localName);
  switch (f.fieldKind) {
    case "scalar":
      return scalarValue(f.scalar, ids);
    case "enum":
      return enumValue(f.enum.values.map((v) => v.number));
    case "message":
      return messageValue(f.message, ctx, depth + 1);
    case "list":
      return fc.array(
        f.listKind === "scalar"
          ? scalarValue(f.scalar, ids)
          : f.listKind === "enum"
            ? enumValue(f.enum.values.map((v) => v.number))
            : messageValue(f.message, ctx, depth + 1),
        { maxLength: depth > 1 ? 2 : 6 },
      );
    case "map":
      return fc.dictionary(
        // Map keys name things too (stage statuses by stage id).
        fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...ctx.ids("id"))),
        f.mapKind === "scalar"
          ? scalarValue(f.scalar, [])
          : f.mapKind === "enum"
            ? enumValue(f.enum.values.map((v) => v.number))
            : messageValue(f.message, ctx, depth + 1),
        { maxKeys: 4 },
      );
  }
}

function enumValue(known: number[]): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.integer(INT32)) },
  );
}

/** An init object for `desc` (usable with `create`), every field optional; depth-limited. */
export function messageValue(
  desc: DescMessage,
  ctx: SchemaContext,
  depth = 0,
): fc.Arbitrary<Record<string, unknown>> {
  if (desc.typeName === "google.protobuf.Timestamp") return TIMESTAMP;
  if (depth > 3) return fc.constant({});
  const plain: Record<string, fc.Arbitrary<unknown>> = {};
  const oneofs = new Map<string, DescField[]>();
  for (const f of desc.fields) {
    if (f.oneof) oneofs.set(f.oneof.localName, [...(oneofs.get(f.oneof.localName) ?? []), f]);
    else plain[f.localName] = fieldValue(f, ctx, depth);
  }
  for (const [name, fields] of oneofs)
    plain[name] = fc.oneof(
      ...fields.map((f) =>
        fieldValue(f, ctx, depth).map((value) => ({ case: f.localName, value })),
      ),
    );
  return fc.record(plain, { requiredKeys: [] });
}

/** Bytes for an RPC's request: an encoded message, that message mutated, or random bytes. */
export function requestBytes(desc: DescMessage, ctx: SchemaContext): fc.Arbitrary<Uint8Array> {
  const encoded = messageValue(desc, ctx).map((init) => {
    try {
      return toBinary(desc, create(desc, init));
    } catch {
      // A value the encoder refuses (this library checks ranges): send its parts as garbage.
      return new TextEncoder().encode(
        JSON.stringify(init, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
      );
    }
  });
  const mutated = fc
    .tuple(
      encoded,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
      fc.nat(),
    )
    .map(([bytes, flips, cut]) => {
      const out = Uint8Array.from(bytes);
      for (const [at, b] of flips) if (out.length) out[at % out.length] = b;
      return cut % 3 === 0 && out.length ? out.subarray(0, cut % out.length) : out;
    });
  return fc.oneof(
    { weight: 16, arbitrary: encoded },
    { weight: 2, arbitrary: mutated },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  );
}
