import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { DOCS } from "./proto/docs.generated.js";
import { SCHEMA } from "./proto/schema.generated.js";
import type { FieldRow } from "./proto/codec.js";

// OpenAPI v3 component schemas of the built-in kinds, as the API server publishes them under
// /openapi/v3/<gv>: built from the same generated tables as the protobuf codec (types, JSON
// names, inlined structs) plus the Go doc comments and patch metadata of the API types. kubectl
// explain reads the descriptions; kubectl apply reads x-kubernetes-patch-strategy/merge-key.

/** Per message: its description and, per JSON field, doc + patch metadata. */
export type ProtoDocs = Record<
  string,
  {
    d: string;
    f: Record<
      string,
      { d?: string; ps?: string; pk?: string; lt?: string; lk?: string[]; mt?: string }
    >;
  }
>;

type Schema = Record<string, unknown>;

/** The OpenAPI name of a protobuf message (io.k8s.api.apps.v1.Deployment). */
export function openApiName(message: string): string {
  return `io.${message.replace(/^k8s\.io\./, "k8s.").replace("apiextensions_apiserver", "apiextensions-apiserver")}`;
}

const META = "k8s.io.apimachinery.pkg.apis.meta.v1.";
const EXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.";

/** Messages whose OpenAPI form is not an object of their fields. */
const SPECIAL: Record<string, Schema> = {
  [`${META}Time`]: { type: "string", format: "date-time" },
  [`${META}MicroTime`]: { type: "string", format: "date-time" },
  "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {
    type: "string",
    format: "int-or-string",
    "x-kubernetes-int-or-string": true,
  },
  "k8s.io.apimachinery.pkg.api.resource.Quantity": { type: "string" },
  "k8s.io.apimachinery.pkg.runtime.RawExtension": { type: "object" },
  [`${META}FieldsV1`]: { type: "object" },
  [`${EXT}JSON`]: { "x-kubernetes-preserve-unknown-fields": true },
  [`${EXT}JSONSchemaPropsOrArray`]: { "x-kubernetes-preserve-unknown-fields": true },
  [`${EXT}JSONSchemaPropsOrBool`]: { "x-kubernetes-preserve-unknown-fields": true },
  [`${EXT}JSONSchemaPropsOrStringArray`]: { "x-kubernetes-preserve-unknown-fields": true },
};

const SCALARS: Record<string, Schema> = {
  string: { type: "string" },
  bytes: { type: "string", format: "byte" },
  bool: { type: "boolean" },
  int32: { type: "integer", format: "int32" },
  int64: { type: "integer", format: "int64" },
  uint32: { type: "integer", format: "int32" },
  uint64: { type: "integer", format: "int64" },
  double: { type: "number", format: "double" },
  float: { type: "number", format: "float" },
};

function valueSchema(type: string, refs: Set<string>): Schema {
  const scalar = SCALARS[type];
  if (scalar) return { ...scalar };
  refs.add(type);
  return { allOf: [{ $ref: `#/components/schemas/${openApiName(type)}` }] };
}

/** The properties of `message` (inlined embedded structs merged in), collecting references. */
function properties(message: string, refs: Set<string>): Schema {
  const out: Schema = {};
  const rows: FieldRow[] = SCHEMA.messages[message] ?? [];
  const docs = DOCS[message]?.f ?? {};
  for (const [, proto, type, card, jsonName, flags] of rows) {
    if (flags & 2) {
      Object.assign(out, properties(type, refs));
      continue;
    }
    const name = jsonName || proto;
    const doc = docs[name] ?? {};
    let s: Schema;
    if (card === 1) s = { type: "array", items: valueSchema(type, refs) };
    else if (card === 2) {
      const valueType = type.split(",")[1] ?? "string";
      s = { type: "object", additionalProperties: valueSchema(valueType, refs) };
    } else s = valueSchema(type, refs);
    if (doc.d) s.description = doc.d;
    if (doc.ps) s["x-kubernetes-patch-strategy"] = doc.ps;
    if (doc.pk) s["x-kubernetes-patch-merge-key"] = doc.pk;
    if (doc.lt) s["x-kubernetes-list-type"] = doc.lt;
    if (doc.lk) s["x-kubernetes-list-map-keys"] = doc.lk;
    if (doc.mt) s["x-kubernetes-map-type"] = doc.mt;
    out[name] = s;
  }
  return out;
}

/** The schema of one message, and the messages it refers to. */
function messageSchema(message: string): { schema: Schema; refs: Set<string> } {
  const refs = new Set<string>();
  const special = SPECIAL[message];
  const description = DOCS[message]?.d;
  if (special) return { schema: { ...(description ? { description } : {}), ...special }, refs };
  return {
    schema: {
      ...(description ? { description } : {}),
      type: "object",
      properties: properties(message, refs),
    },
    refs,
  };
}

/**
 * The component schemas of the built-in kinds served at `group/version` (`kinds`: kind names)
 * and of every message they reach, each kind with its x-kubernetes-group-version-kind.
 */
export function builtinSchemas(group: string, version: string, kinds: readonly string[]): Schema {
  // Built-in kinds never change while the server runs: each group/version is built once (the
  // /openapi/v3 index and /openapi/v2 ask for every one on each request). Callers only read it.
  const key = `${group}/${version}/${kinds.join(",")}`;
  let out = schemaCache.get(key);
  if (!out) schemaCache.set(key, (out = buildSchemas(group, version, kinds)));
  return out;
}

const schemaCache = new Map<string, Schema>();

function buildSchemas(group: string, version: string, kinds: readonly string[]): Schema {
  const apiVersion = group ? `${group}/${version}` : version;
  const out: Schema = {};
  const gvkOf = new Map<string, Schema[]>();
  const queue: string[] = [];
  for (const kind of kinds)
    for (const k of [kind, `${kind}List`]) {
      const message = SCHEMA.kinds[`${apiVersion}/${k}`];
      if (!message) continue;
      gvkOf.set(message, [{ group, kind: k, version }]);
      queue.push(message);
    }
  const seen = new Set<string>();
  while (queue.length) {
    const message = queue.pop()!;
    if (seen.has(message)) continue;
    seen.add(message);
    const { schema, refs } = messageSchema(message);
    const gvk = gvkOf.get(message);
    if (gvk) {
      schema["x-kubernetes-group-version-kind"] = gvk;
      const props = schema.properties as Schema | undefined;
      if (props) {
        props.apiVersion = {
          type: "string",
          description:
            "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        };
        props.kind = {
          type: "string",
          description:
            "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        };
      }
    }
    out[openApiName(message)] = schema;
    for (const r of refs) queue.push(r);
  }
  return out;
}

// --- OpenAPI v2, as the gnostic protobuf document kubectl ≤ 1.27 reads ------------------------
// Field numbers of github.com/google/gnostic-models openapiv2/OpenAPIv2.proto: Document
// {swagger 1, info 2, paths 8, definitions 9}, Info {title 1, version 2}, Paths {path 2},
// NamedPathItem / NamedSchema / NamedAny {name 1, value 2}, PathItem {put 3, post 4, patch 8},
// Operation {parameters 8, vendor_extension 13}, ParametersItem {parameter 1}, Parameter
// {non_body_parameter 2}, NonBodyParameter {query_parameter_sub_schema 3, path 4},
// QueryParameterSubSchema {in 2, name 4, type 6}, Schema {_ref 1, format 2, description 4,
// additional_properties 21, type 22, items 23, properties 25, vendor_extension 31},
// TypeItem {value 1}, ItemsItem {schema 1}, Properties {additional_properties 1},
// AdditionalPropertiesItem {schema 1}, Any {yaml 2}.

/** A resource's PATCH/PUT/POST operations for the v2 document (kubectl 1.22 looks for dryRun). */
export interface V2Resource {
  group: string;
  version: string;
  kind: string;
  path: string;
  namespaced: boolean;
}

type Writer = BinaryWriter;

function yamlScalar(v: string): string {
  return /^[A-Za-z0-9._/-]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
}

/** A NamedAny vendor extension whose value is YAML. */
function writeExtension(w: Writer, field: number, name: string, yaml: string): void {
  w.tag(field, 2).fork();
  w.tag(1, 2).string(name);
  w.tag(2, 2).fork().tag(2, 2).string(yaml).join();
  w.join();
}

function gvkYaml(gvk: Schema[]): string {
  return gvk
    .map(
      (g) =>
        `- group: ${yamlScalar(String(g.group))}\n  kind: ${yamlScalar(String(g.kind))}\n  version: ${yamlScalar(String(g.version))}\n`,
    )
    .join("");
}

/** Writes a v3 schema (as builtinSchemas makes them) as a gnostic v2 Schema. */
function writeSchema(w: Writer, s: Schema): void {
  const ref = (s.allOf as Schema[] | undefined)?.[0]?.$ref;
  if (typeof ref === "string")
    w.tag(1, 2).string(ref.replace("#/components/schemas/", "#/definitions/"));
  if (typeof s.format === "string") w.tag(2, 2).string(s.format);
  if (typeof s.description === "string") w.tag(4, 2).string(s.description);
  if (s.additionalProperties && typeof s.additionalProperties === "object") {
    w.tag(21, 2).fork().tag(1, 2).fork();
    writeSchema(w, s.additionalProperties as Schema);
    w.join().join();
  }
  if (typeof s.type === "string") w.tag(22, 2).fork().tag(1, 2).string(s.type).join();
  if (s.items && typeof s.items === "object") {
    w.tag(23, 2).fork().tag(1, 2).fork();
    writeSchema(w, s.items as Schema);
    w.join().join();
  }
  if (s.properties && typeof s.properties === "object") {
    w.tag(25, 2).fork();
    for (const [name, p] of Object.entries(s.properties as Record<string, Schema>)) {
      w.tag(1, 2).fork().tag(1, 2).string(name).tag(2, 2).fork();
      writeSchema(w, p);
      w.join().join();
    }
    w.join();
  }
  for (const key of [
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
  ])
    if (typeof s[key] === "string") writeExtension(w, 31, key, `${yamlScalar(s[key])}\n`);
  if (Array.isArray(s["x-kubernetes-list-map-keys"]))
    writeExtension(
      w,
      31,
      "x-kubernetes-list-map-keys",
      (s["x-kubernetes-list-map-keys"] as string[]).map((k) => `- ${yamlScalar(k)}\n`).join(""),
    );
  if (Array.isArray(s["x-kubernetes-group-version-kind"]))
    writeExtension(
      w,
      31,
      "x-kubernetes-group-version-kind",
      gvkYaml(s["x-kubernetes-group-version-kind"] as Schema[]),
    );
}

function writeOperation(
  w: Writer,
  field: number,
  r: V2Resource,
  action: string,
  withName: boolean,
): void {
  w.tag(field, 2).fork();
  const query = (name: string, type: string) => {
    w.tag(8, 2).fork().tag(1, 2).fork().tag(2, 2).fork().tag(3, 2).fork();
    w.tag(2, 2).string("query").tag(4, 2).string(name).tag(6, 2).string(type);
    w.join().join().join().join();
  };
  const pathParam = (name: string) => {
    w.tag(8, 2).fork().tag(1, 2).fork().tag(2, 2).fork().tag(4, 2).fork();
    w.tag(1, 0)
      .bool(true)
      .tag(2, 2)
      .string("path")
      .tag(4, 2)
      .string(name)
      .tag(5, 2)
      .string("string");
    w.join().join().join().join();
  };
  if (withName) pathParam("name");
  if (r.namespaced) pathParam("namespace");
  for (const [name, type] of [
    ["dryRun", "string"],
    ["fieldManager", "string"],
    ["fieldValidation", "string"],
    ["force", "boolean"],
  ] as const)
    query(name, type);
  writeExtension(w, 13, "x-kubernetes-action", `${action}\n`);
  writeExtension(
    w,
    13,
    "x-kubernetes-group-version-kind",
    `group: ${yamlScalar(r.group)}\nkind: ${yamlScalar(r.kind)}\nversion: ${yamlScalar(r.version)}\n`,
  );
  w.join();
}

/**
 * `/openapi/v2` as gnostic protobuf: PATCH/PUT/POST operations (with dryRun, so kubectl 1.22
 * dry-runs and diffs) for every served resource, and the built-in kinds' definitions (kubectl
 * ≤ 1.27 explain and builds client-side-apply patches from them).
 */
export function openApiV2Protobuf(
  resources: readonly V2Resource[],
  builtinKinds: readonly { group: string; version: string; kind: string }[],
): Buffer {
  const w = new BinaryWriter();
  w.tag(1, 2).string("2.0");
  w.tag(2, 2).fork().tag(1, 2).string("Kubernetes").tag(2, 2).string("v1.33.9-kube-sim").join();
  w.tag(8, 2).fork();
  for (const r of resources) {
    w.tag(2, 2).fork().tag(1, 2).string(`${r.path}/{name}`).tag(2, 2).fork();
    writeOperation(w, 3, r, "put", true);
    writeOperation(w, 8, r, "patch", true);
    w.join().join();
    w.tag(2, 2).fork().tag(1, 2).string(r.path).tag(2, 2).fork();
    writeOperation(w, 4, r, "post", false);
    w.join().join();
  }
  w.join();
  const byGv = new Map<string, { group: string; version: string; kinds: string[] }>();
  for (const k of builtinKinds) {
    const key = `${k.group}/${k.version}`;
    const e = byGv.get(key) ?? { group: k.group, version: k.version, kinds: [] };
    e.kinds.push(k.kind);
    byGv.set(key, e);
  }
  const definitions: Schema = {};
  for (const e of byGv.values())
    Object.assign(definitions, builtinSchemas(e.group, e.version, e.kinds));
  w.tag(9, 2).fork();
  for (const [name, s] of Object.entries(definitions)) {
    w.tag(1, 2).fork().tag(1, 2).string(name).tag(2, 2).fork();
    writeSchema(w, s as Schema);
    w.join().join();
  }
  w.join();
  return Buffer.from(w.finish());
}
