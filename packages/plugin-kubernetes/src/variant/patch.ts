import { parse as parseYaml, parseDocument } from "yaml";
import type { K8sResourcePatch } from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { isObj } from "../json.js";
import { manifestKey, type Manifest } from "../manifest/manifest.js";
import { cloneManifest } from "./variant.js";

type PathSegment = string | number;

/**
 * Parses a JSONPath-like path as PipeCD's yaml-replace takes it: `$`, then `.key`, `.'key'`,
 * `['key']`, `["key"]` and `[index]` segments, e.g. `$.spec.template.spec.containers[0].image`
 * or `$.data['app.yaml']`.
 */
export function parsePatchPath(path: string): PathSegment[] {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid path ${JSON.stringify(path)}: ${why}`);
  if (!path.startsWith("$")) throw bad('it must start with "$"');
  const out: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
      const q = path[i];
      if (q === "'" || q === '"') {
        const end = path.indexOf(q, i + 1);
        if (end < 0) throw bad("unterminated quote");
        out.push(path.slice(i + 1, end));
        i = end + 1;
      } else {
        let end = i;
        while (end < path.length && path[end] !== "." && path[end] !== "[") end++;
        if (end === i) throw bad(`empty key at offset ${i}`);
        out.push(path.slice(i, end));
        i = end;
      }
    } else if (c === "[") {
      const q = path[i + 1];
      if (q === "'" || q === '"') {
        const end = path.indexOf(`${q}]`, i + 2);
        if (end < 0) throw bad("unterminated quoted key");
        out.push(path.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = path.indexOf("]", i);
        const n = end < 0 ? "" : path.slice(i + 1, end);
        if (!/^\d+$/.test(n)) throw bad(`expected an index at offset ${i}`);
        out.push(Number(n));
        i = end + 1;
      }
    } else throw bad(`unexpected ${JSON.stringify(c)} at offset ${i}`);
  }
  return out;
}

/**
 * The replacement value: `raw` parsed as YAML, except that a string stays a string (`"1.20"`
 * replacing a string must not become the number 1.2 in a ConfigMap).
 */
function replacementValue(existing: unknown, raw: string): unknown {
  const v: unknown = parseYaml(raw);
  return typeof existing === "string" && (v === null || typeof v !== "object") ? raw : v;
}

/**
 * Replaces the existing value at `path` in a plain JS value by `next(existing)`; throws when the
 * path is missing.
 */
function replaceIn(
  root: unknown,
  segs: PathSegment[],
  path: string,
  next: (existing: unknown) => unknown,
): void {
  if (segs.length === 0)
    throw new InvalidArgumentError(`cannot replace the whole document (${path})`);
  let cur: unknown = root;
  for (const [i, seg] of segs.entries()) {
    const last = i === segs.length - 1;
    let exists: boolean;
    if (typeof seg === "number") exists = Array.isArray(cur) && seg < cur.length;
    else exists = isObj(cur) && Object.prototype.hasOwnProperty.call(cur, seg);
    if (!exists)
      throw new InvalidArgumentError(`failed to replace value at path: ${path} (not found)`);
    const holder = cur as Record<PathSegment, unknown>;
    if (last) holder[seg] = next(holder[seg]);
    else cur = holder[seg];
  }
}

/** Reads the value at `path`; undefined when missing. */
function getIn(root: unknown, segs: PathSegment[]): unknown {
  let cur: unknown = root;
  for (const seg of segs) {
    if (typeof seg === "number") cur = Array.isArray(cur) ? cur[seg] : undefined;
    else cur = isObj(cur) ? cur[seg] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Applies yaml-replace ops to an embedded YAML/JSON document; returns its new text. */
function patchDocument(text: string, ops: K8sResourcePatch["ops"]): string {
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      json = undefined;
    }
    if (json !== undefined) {
      for (const op of ops)
        replaceIn(json, parsePatchPath(op.path), op.path, (e) => replacementValue(e, op.value));
      return trimmed.includes("\n") ? `${JSON.stringify(json, null, 2)}\n` : JSON.stringify(json);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length)
    throw new InvalidArgumentError(
      `the document is not valid YAML: ${doc.errors[0]?.message ?? ""}`,
    );
  for (const op of ops) {
    const segs = parsePatchPath(op.path);
    if (segs.length === 0 || !doc.hasIn(segs))
      throw new InvalidArgumentError(`failed to replace value at path: ${op.path} (not found)`);
    const v = replacementValue(doc.getIn(segs), op.value);
    doc.setIn(segs, isObj(v) || Array.isArray(v) ? doc.createNode(v) : v);
  }
  return doc.toString();
}

/**
 * Applies K8S_CANARY_ROLLOUT `patches` (PipeCD `patchManifests`): each patch edits the first
 * manifest with its `target.kind` and `target.name` (none → error), or with `target.documentRoot`
 * the YAML/JSON document held as a string in that field (e.g. `$.data['config.yaml']`). Each
 * `yaml-replace` op replaces the existing value at `path` with `value` parsed as YAML; a missing
 * path is an error. Returns new manifests (the input is not modified).
 */
export function applyPatches(
  manifests: readonly Manifest[],
  patches: readonly K8sResourcePatch[],
): Manifest[] {
  const out = manifests.map(cloneManifest);
  for (const p of patches) {
    const target = out.find(
      (m) => m.obj.kind === p.target.kind && m.obj.metadata.name === p.target.name,
    );
    if (!target)
      throw new InvalidArgumentError(
        `no manifest matches the given patch: kind=${p.target.kind}, name=${p.target.name}`,
      );
    const where = `${p.target.kind} ${p.target.name}`;
    for (const op of p.ops)
      if (op.op !== "yaml-replace")
        throw new InvalidArgumentError(`${where}: ${String(op.op)} operation is not supported`);
    try {
      if (!p.target.documentRoot) {
        for (const op of p.ops)
          replaceIn(target.obj, parsePatchPath(op.path), op.path, (e) =>
            replacementValue(e, op.value),
          );
      } else {
        const rootSegs = parsePatchPath(p.target.documentRoot);
        const text = getIn(target.obj, rootSegs);
        if (typeof text !== "string")
          throw new InvalidArgumentError(
            `the value for the specified root ${p.target.documentRoot} must be a string`,
          );
        const patched = patchDocument(text, p.ops);
        replaceIn(target.obj, rootSegs, p.target.documentRoot, () => patched);
      }
    } catch (err) {
      throw new InvalidArgumentError(`patch of ${where}: ${(err as Error).message}`);
    }
    target.key = manifestKey(target.obj);
  }
  return out;
}
