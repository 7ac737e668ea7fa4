// RFC 6902 JSON Patch as kube-apiserver applies it (evanphx/json-patch v4 under `patch.go`):
// decode errors are 400, more than 10000 operations is 413, and every failure while applying an
// operation is a generic 422 whose detail travels in `details.causes`.
import { PatchError, unprocessable } from "./errors.js";
import { deepClone, deepEqual, getKey, hasKey, isObject, setKey, type Json } from "../json.js";

/** apiserver's `maxJSONPatchOperations`. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** Go's name for the JSON kind of `v`, as `encoding/json` prints it in unmarshal errors. */
function goKind(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "object") return "object";
  return typeof v; // "string" | "number" | "boolean"
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) {
    throw unprocessable(`JSON pointer must be empty or start with a "/": ${pointer}`);
  }
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** An array index token; `extra` is 1 for `add` (which may address one past the end). */
function arrayIndex(token: string, length: number, extra: 0 | 1): number | undefined {
  if (!/^[+-]?\d+$/.test(token)) return undefined;
  let idx = Number(token);
  const size = length + extra;
  if (idx >= size) return undefined;
  // evanphx/json-patch v4 has SupportNegativeIndices on: -1 is the last element.
  if (idx < 0) {
    if (idx < -size) return undefined;
    idx += size;
  }
  return idx;
}

function child(container: Json, token: string): Json | undefined {
  if (Array.isArray(container)) {
    const idx = arrayIndex(token, container.length, 0);
    return idx === undefined ? undefined : container[idx];
  }
  if (isObject(container)) return getKey(container, token);
  return undefined;
}

function lookup(root: Json, tokens: readonly string[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const t of tokens) {
    if (cur === undefined) return undefined;
    cur = child(cur, t);
  }
  return cur;
}

type Op = { [k: string]: unknown };

function missingPath(kind: string, path: string) {
  return unprocessable(
    `${kind} operation does not apply: doc is missing path: "${path}": missing value`,
  );
}

function stringField(op: Op, name: "path" | "from"): string {
  const v = op[name];
  if (typeof v !== "string") throw unprocessable(`operation missing ${name} field`);
  return v;
}

function valueField(op: Op, kind: string): Json {
  if (!Object.prototype.hasOwnProperty.call(op, "value")) {
    throw unprocessable(`${kind} operation missing value field`);
  }
  return op["value"] as Json;
}

/** Applies ops to a private working copy; `root` holds the current document. */
class Doc {
  constructor(public root: Json) {}

  /** The container `path` points into and its last token (`undefined` for the root). */
  private locate(path: string): { parent: Json | undefined; last: string | undefined } {
    const tokens = parsePointer(path);
    const last = tokens.pop();
    return { parent: last === undefined ? undefined : lookup(this.root, tokens), last };
  }

  add(path: string, value: Json, kind = "add"): void {
    const { parent, last } = this.locate(path);
    if (last === undefined) {
      this.root = value;
    } else if (Array.isArray(parent)) {
      const idx = last === "-" ? parent.length : arrayIndex(last, parent.length, 1);
      if (idx === undefined) throw unprocessable(`Unable to access invalid index: ${last}`);
      parent.splice(idx, 0, value);
    } else if (isObject(parent)) {
      setKey(parent, last, value);
    } else {
      throw missingPath(kind, path);
    }
  }

  remove(path: string, kind = "remove"): Json {
    const { parent, last } = this.locate(path);
    if (last !== undefined && Array.isArray(parent)) {
      const idx = arrayIndex(last, parent.length, 0);
      if (idx !== undefined) return parent.splice(idx, 1)[0] as Json;
    } else if (last !== undefined && isObject(parent) && hasKey(parent, last)) {
      const old = parent[last] as Json;
      delete parent[last];
      return old;
    }
    throw missingPath(kind, path);
  }

  replace(path: string, value: Json): void {
    const { parent, last } = this.locate(path);
    const idx =
      Array.isArray(parent) && last !== undefined ? arrayIndex(last, parent.length, 0) : undefined;
    if (last === undefined) {
      this.root = value;
    } else if (Array.isArray(parent) && idx !== undefined) {
      parent[idx] = value;
    } else if (isObject(parent) && hasKey(parent, last)) {
      setKey(parent, last, value);
    } else {
      throw unprocessable(
        `replace operation does not apply: doc is missing key: ${path}: missing value`,
      );
    }
  }

  get(path: string): Json | undefined {
    return lookup(this.root, parsePointer(path));
  }
}

/**
 * Applies an RFC 6902 JSON Patch (`application/json-patch+json`) to `doc` and returns the new
 * document; `doc` is not mutated. Throws {@link PatchError} 400 when `ops` is not an array of
 * objects, 413 beyond 10000 operations, 422 when an operation fails (missing path, failed test).
 */
export function applyJsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) {
    throw new PatchError(
      400,
      `json: cannot unmarshal ${goKind(ops)} into Go value of type jsonpatch.Patch`,
    );
  }
  for (const op of ops) {
    if (!isObject(op)) {
      throw new PatchError(
        400,
        `json: cannot unmarshal ${goKind(op)} into Go value of type jsonpatch.Operation`,
      );
    }
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError(
      413,
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  }
  const d = new Doc(deepClone(doc));
  for (const op of ops as Op[]) {
    const kind = typeof op["op"] === "string" ? op["op"] : "unknown";
    switch (kind) {
      case "add":
        d.add(stringField(op, "path"), deepClone(valueField(op, kind)));
        break;
      case "remove":
        d.remove(stringField(op, "path"));
        break;
      case "replace":
        d.replace(stringField(op, "path"), deepClone(valueField(op, kind)));
        break;
      case "move": {
        const from = stringField(op, "from");
        const path = stringField(op, "path");
        if (from === path) break;
        if (path.startsWith(`${from}/`)) {
          throw unprocessable(`move operation does not apply: "${path}" is a child of "${from}"`);
        }
        if (d.get(from) === undefined) {
          throw unprocessable(
            `move operation does not apply: doc is missing from path: ${from}: missing value`,
          );
        }
        d.add(path, d.remove(from, "move"), "move");
        break;
      }
      case "copy": {
        const from = stringField(op, "from");
        const value = d.get(from);
        if (value === undefined) {
          throw unprocessable(
            `copy operation does not apply: doc is missing from path: "${from}": missing value`,
          );
        }
        d.add(stringField(op, "path"), deepClone(value), "copy");
        break;
      }
      case "test": {
        const path = stringField(op, "path");
        const expected = hasKey(op as { [k: string]: Json }, "value")
          ? (op["value"] as Json)
          : null;
        const actual = d.get(path);
        // json-patch v4 treats a missing path as equal to an expected `null`.
        const ok = actual === undefined ? expected === null : deepEqual(actual, expected);
        if (!ok) throw unprocessable(`testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw unprocessable(`Unexpected kind: ${kind}`);
    }
  }
  return d.root;
}
