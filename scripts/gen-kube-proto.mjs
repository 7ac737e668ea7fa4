#!/usr/bin/env node
// Generates packages/kube-sim/src/proto/schema.generated.ts: the protobuf field tables (field number,
// JSON name, type, cardinality) of the Kubernetes kinds kube-sim serves and of every message
// they reach, read from Kubernetes' published generated.proto files. Field numbers are facts
// of the wire format; this keeps only them (no comments, no options).
//
// Run by hand when kube-sim serves a new kind, with checkouts of kubernetes/api,
// kubernetes/apimachinery and kubernetes/apiextensions-apiserver (git dirs or work trees):
//   node scripts/gen-kube-proto.mjs <api> <apimachinery> <apiextensions-apiserver>
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [apiDir, machineryDir, extDir] = process.argv.slice(2);
if (!apiDir || !machineryDir || !extDir) {
  console.error(
    "usage: gen-kube-proto.mjs <kubernetes/api> <kubernetes/apimachinery> <kubernetes/apiextensions-apiserver>",
  );
  process.exit(2);
}

/** A file's text from a work tree, or from HEAD of a bare git dir. */
function read(dir, path) {
  if (existsSync(join(dir, path))) return readFileSync(join(dir, path), "utf8");
  return execFileSync("git", ["-C", dir, "show", `HEAD:${path}`], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
}

const FILES = [
  [machineryDir, "pkg/apis/meta/v1/generated.proto"],
  [machineryDir, "pkg/runtime/generated.proto"],
  [machineryDir, "pkg/runtime/schema/generated.proto"],
  [machineryDir, "pkg/util/intstr/generated.proto"],
  [machineryDir, "pkg/api/resource/generated.proto"],
  ...[
    "core",
    "apps",
    "rbac",
    "authorization",
    "authentication",
    "autoscaling",
    "networking",
    "policy",
  ].map((g) => [apiDir, `${g}/v1/generated.proto`]),
  [extDir, "pkg/apis/apiextensions/v1/generated.proto"],
];

const SCALARS = new Set([
  "string",
  "bytes",
  "bool",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
  "double",
  "float",
]);

/** Go package directories (beside each generated.proto) whose structs give the JSON side. */
function goFiles(dir, protoPath) {
  const pkgDir = protoPath.replace(/\/generated\.proto$/, "");
  const names = existsSync(join(dir, pkgDir))
    ? execFileSync("ls", [join(dir, pkgDir)], { encoding: "utf8" }).split("\n")
    : execFileSync("git", ["-C", dir, "ls-tree", "--name-only", "HEAD", `${pkgDir}/`], {
        encoding: "utf8",
      })
        .split("\n")
        .map((n) => n.slice(pkgDir.length + 1));
  return names
    .filter(
      (n) =>
        n.endsWith(".go") &&
        !n.endsWith("_test.go") &&
        !/^(zz_|generated)/.test(n) &&
        !n.includes("swagger"),
    )
    .map((n) => read(dir, `${pkgDir}/${n}`));
}

/** A Go doc comment block as the OpenAPI description: lines joined, paragraphs kept. */
function docText(lines) {
  const paras = [[]];
  for (const l of lines) {
    if (l.startsWith("+")) continue; // code-generator markers
    if (l === "") paras.push([]);
    else paras.at(-1).push(l);
  }
  return paras
    .filter((p) => p.length)
    .map((p) => p.join(" "))
    .join("\n\n");
}

/**
 * The JSON side of each Go struct: per protobuf field name, its JSON name, whether Go's JSON
 * encoding drops it when zero (omitempty on a non-pointer scalar, slice or map), whether it is
 * an embedded struct whose fields JSON inlines into the parent, and for OpenAPI its doc comment
 * and patch metadata (patchStrategy/patchMergeKey tags, +listType/+listMapKey markers).
 */
function goJsonFields(sources) {
  const out = new Map();
  for (const src of sources) {
    const lines = src.split("\n");
    let comment = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const c = /^\s*\/\/ ?(.*)$/.exec(line);
      if (c) {
        comment.push(c[1].trim());
        continue;
      }
      const head = /^type (\w+) struct \{$/.exec(line);
      if (!head) {
        comment = [];
        continue;
      }
      const fields = new Map();
      const structDoc = docText(comment);
      comment = [];
      for (i++; i < lines.length && !/^\}/.test(lines[i]); i++) {
        const fl = lines[i];
        const fc = /^\s*\/\/ ?(.*)$/.exec(fl);
        if (fc) {
          comment.push(fc[1].trim());
          continue;
        }
        const f = /^\s+(?:(\w+)\s+)?([*\w.\[\]]+)\s+`([^`]*)`/.exec(fl);
        const fieldComment = comment;
        comment = [];
        if (!f) continue;
        const json = /json:"([^"]*)"/.exec(f[3])?.[1];
        const proto = /protobuf:"[^"]*name=(\w+)/.exec(f[3])?.[1];
        if (json === undefined || !proto) continue;
        const [jsonName, ...opts] = json.split(",");
        const marker = (name) =>
          fieldComment.find((l) => l.startsWith(`+${name}=`))?.slice(name.length + 2);
        // Go inlines an embedded struct only when its JSON name is empty.
        const inline = opts.includes("inline") || jsonName === "";
        fields.set(proto, {
          json: jsonName,
          omitEmpty: opts.includes("omitempty"),
          ptr: f[2].startsWith("*"),
          inline,
          doc: docText(fieldComment),
          patchStrategy: /patchStrategy:"([^"]*)"/.exec(f[3])?.[1],
          patchMergeKey: /patchMergeKey:"([^"]*)"/.exec(f[3])?.[1],
          listType: marker("listType"),
          listMapKeys: fieldComment
            .filter((l) => l.startsWith("+listMapKey="))
            .map((l) => l.slice(12)),
          mapType: marker("mapType"),
        });
      }
      out.set(head[1], { doc: structDoc, fields });
      comment = [];
    }
  }
  return out;
}

/**
 * message full name → [[number, name, type, card, json, flags]] (card: 0 optional, 1 repeated,
 * 2 map; json: the JSON name when it differs, else 0; flags: 1 omit when zero, 2 inlined).
 */
const messages = new Map();
/** message full name → its OpenAPI side: description, and per JSON field doc + patch metadata. */
const docs = new Map();
for (const [dir, path] of FILES) {
  const text = read(dir, path)
    .replace(/\/\/.*$/gm, "")
    .replace(/\/\*[\s\S]*?\*\//g, "");
  const pkg = /^package\s+([\w.]+);/m.exec(text)?.[1];
  if (!pkg) throw new Error(`${path}: no package`);
  const go = goJsonFields(goFiles(dir, path));
  const re = /message\s+(\w+)\s*\{([^{}]*)\}/g;
  let m;
  while ((m = re.exec(text))) {
    const fields = [];
    for (const line of m[2].split(";")) {
      const f =
        /^\s*(optional|repeated|required)?\s*(map\s*<\s*[\w.]+\s*,\s*[\w.]+\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)/.exec(
          line,
        );
      if (!f) {
        if (line.trim()) throw new Error(`${path} ${m[1]}: cannot read "${line.trim()}"`);
        continue;
      }
      const j = go.get(m[1])?.fields.get(f[3]);
      // Go's omitempty drops zero scalars, empty slices and maps, never a struct or pointer.
      const card = f[2].startsWith("map") ? 2 : f[1] === "repeated" ? 1 : 0;
      const omitZero = j?.omitEmpty && !j.ptr && (card !== 0 || SCALARS.has(f[2]));
      const extra = [
        j && j.json !== f[3] && !j.inline ? j.json : 0,
        (omitZero ? 1 : 0) | (j?.inline ? 2 : 0),
      ];
      const resolve = (t) =>
        SCALARS.has(t) ? t : t.includes(".") ? t.replace(/^\./, "") : `${pkg}.${t}`;
      const map = /^map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>$/.exec(f[2]);
      if (map) fields.push([Number(f[4]), f[3], `${map[1]},${resolve(map[2])}`, 2, ...extra]);
      else fields.push([Number(f[4]), f[3], resolve(f[2]), f[1] === "repeated" ? 1 : 0, ...extra]);
    }
    messages.set(
      `${pkg}.${m[1]}`,
      fields.sort((a, b) => a[0] - b[0]),
    );
    const g = go.get(m[1]);
    if (g) {
      const fdocs = {};
      for (const [proto, j] of g.fields) {
        if (j.inline) continue;
        const d = {};
        if (j.doc) d.d = j.doc;
        if (j.patchStrategy) d.ps = j.patchStrategy;
        if (j.patchMergeKey) d.pk = j.patchMergeKey;
        if (j.listType) d.lt = j.listType;
        if (j.listMapKeys.length) d.lk = j.listMapKeys;
        if (j.mapType) d.mt = j.mapType;
        fdocs[j.json || proto] = d;
      }
      docs.set(`${pkg}.${m[1]}`, { d: g.doc, f: fdocs });
    }
  }
}

// The kinds kube-sim serves, by apiVersion/kind, with their lists.
const CORE = "k8s.io.api.core.v1";
const META = "k8s.io.apimachinery.pkg.apis.meta.v1";
const kinds = {};
const add = (apiVersion, pkg, names) => {
  for (const n of names) {
    kinds[`${apiVersion}/${n}`] = `${pkg}.${n}`;
    if (messages.has(`${pkg}.${n}List`)) kinds[`${apiVersion}/${n}List`] = `${pkg}.${n}List`;
  }
};
add("v1", CORE, [
  "Namespace",
  "ConfigMap",
  "Secret",
  "Service",
  "Pod",
  "Event",
  "ServiceAccount",
  "PersistentVolumeClaim",
]);
add("apps/v1", "k8s.io.api.apps.v1", ["Deployment", "ReplicaSet"]);
add("networking.k8s.io/v1", "k8s.io.api.networking.v1", ["Ingress"]);
add("rbac.authorization.k8s.io/v1", "k8s.io.api.rbac.v1", [
  "Role",
  "ClusterRole",
  "RoleBinding",
  "ClusterRoleBinding",
]);
add("authorization.k8s.io/v1", "k8s.io.api.authorization.v1", [
  "SelfSubjectAccessReview",
  "SelfSubjectRulesReview",
]);
add("authentication.k8s.io/v1", "k8s.io.api.authentication.v1", ["TokenRequest"]);
add("autoscaling/v1", "k8s.io.api.autoscaling.v1", ["Scale"]);
add("apiextensions.k8s.io/v1", "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1", [
  "CustomResourceDefinition",
]);
// Meta kinds a server sends or receives in any group.
for (const n of ["Status", "DeleteOptions", "WatchEvent", "List"])
  kinds[`meta/${n}`] = `${META}.${n}`;
kinds["runtime/Unknown"] = "k8s.io.apimachinery.pkg.runtime.Unknown";

const keep = new Map();
const visit = (name) => {
  if (keep.has(name) || SCALARS.has(name)) return;
  const fields = messages.get(name);
  if (!fields) throw new Error(`unknown message ${name}`);
  keep.set(name, fields);
  for (const [, , type, card] of fields) visit(card === 2 ? type.split(",")[1] : type);
};
for (const name of Object.values(kinds)) visit(name);

const json = JSON.stringify({
  kinds,
  messages: Object.fromEntries([...keep].sort(([a], [b]) => (a < b ? -1 : 1))),
});
if (/[`\\]|\$\{/.test(json)) throw new Error("schema text needs escaping");
const dest = new URL("../packages/kube-sim/src/proto/schema.generated.ts", import.meta.url);
writeFileSync(
  dest,
  `// Generated by scripts/gen-kube-proto.mjs from Kubernetes' generated.proto files. Do not edit.\n` +
    `import type { ProtoSchema } from "./codec.js";\n\n` +
    `export const SCHEMA = JSON.parse(\`${json}\`) as ProtoSchema;\n`,
);
const docsJson = JSON.stringify(
  Object.fromEntries(
    [...keep.keys()]
      .filter((n) => docs.has(n))
      .sort()
      .map((n) => [n, docs.get(n)]),
  ),
);
const docsDest = new URL("../packages/kube-sim/src/proto/docs.generated.ts", import.meta.url);
writeFileSync(
  docsDest,
  `// Generated by scripts/gen-kube-proto.mjs from the Go types of Kubernetes' API packages. Do not edit.\n` +
    `import type { ProtoDocs } from "../openapi.js";\n\n` +
    `export const DOCS = JSON.parse(${JSON.stringify(docsJson)}) as ProtoDocs;\n`,
);
console.log(
  `${keep.size} messages, ${Object.keys(kinds).length} kinds → ${dest.pathname}, ${docsDest.pathname} (${docsJson.length} bytes of docs)`,
);
