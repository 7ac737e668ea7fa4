/**
 * The manifest diff behind drift detection (v0 §8.2) and plan-preview (§9.3): PipeCD's
 * `pkg/diff` (differ and renderer) plus `kubernetes/diff.go` (`DiffList`, `Render`) and the
 * detector's sync-state texts, re-implemented over plain JSON so the rendered text is identical.
 */
import { createHash } from "node:crypto";
import { DEFAULT_NAMESPACE, resourceKey, type KubeObject } from "@pipecd-ts/kube";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { asObj, isObj } from "../json.js";
import { isNamespaced } from "../manifest/manifest.js";

/** One step of a diff path: a map key or a list index. */
export type PathStep = string | number;

/** One differing leaf: path dot-joined with numeric indices, e.g. "spec.template.spec.containers.0.image". */
export interface DiffNode {
  path: string;
  /** live (or "old") value; undefined = absent. */
  before: unknown;
  /** Git (or "new") value; undefined = absent. */
  after: unknown;
  /** The path as typed steps (keys may contain dots); derived from `path` when missing. */
  steps?: readonly PathStep[];
}

/** PipeCD `diff.Option`s; `ignorePaths` hides a path and everything under it (`WithIgnoreConfig`). */
export interface DiffOptions {
  ignoreAddingMapKeys?: boolean;
  equateEmpty?: boolean;
  compareNumberAndNumericString?: boolean;
  ignorePaths?: readonly string[];
}

/** Go's `strconv.ParseFloat` for the forms manifests use; undefined when it would fail. */
function parseGoFloat(s: string): number | undefined {
  if (/^[+-]?(?:inf|infinity)$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined; // out of range is an error in Go
}

/** PipeCD `isEmptyInterface`: nil, a zero scalar (false, 0, "") or an empty map/list. */
function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  return isObj(v) && Object.keys(v).length === 0;
}

const kindOf = (v: unknown): string => (Array.isArray(v) ? "array" : typeof v);
const own = (m: Record<string, unknown>, k: string): unknown =>
  Object.hasOwn(m, k) ? m[k] : undefined;
const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

/** Whether `path` or one of its dot-separated prefixes is ignored (PipeCD `isIgnoredPath`). */
function isIgnored(ignore: ReadonlySet<string>, path: string): boolean {
  let prefix = "";
  for (const part of path.split(".")) {
    prefix = prefix === "" ? part : `${prefix}.${part}`;
    if (ignore.has(prefix)) return true;
  }
  return false;
}

/** A node value with ignored sub-paths removed (PipeCD `ignoredValue`; nil values drop out too). */
function withoutIgnored(ignore: ReadonlySet<string>, v: unknown, prefix: string): unknown {
  if (v === null || v === undefined) return undefined;
  const sub = (e: unknown, p: string): unknown =>
    isIgnored(ignore, p) ? undefined : withoutIgnored(ignore, e, p);
  if (Array.isArray(v))
    return v.map((e, i) => sub(e, `${prefix}.${i}`)).filter((e) => e !== undefined);
  const o = asObj(v);
  if (!o) return v;
  const kept = Object.entries(o).map(([k, e]) => [k, sub(e, `${prefix}.${k}`)] as const);
  return Object.fromEntries(kept.filter(([, e]) => e !== undefined));
}

/** PipeCD `DiffUnstructureds`: the differing leaves of `before` vs `after`, sorted by path. */
export function diffObjects(before: unknown, after: unknown, o: DiffOptions): DiffNode[] {
  const nodes: DiffNode[] = [];
  const ignore = new Set(o.ignorePaths ?? []);
  const add = (steps: PathStep[], x: unknown, y: unknown): void => {
    const path = steps.join(".");
    if (ignore.size > 0) {
      if (isIgnored(ignore, path)) return;
      [x, y] = [withoutIgnored(ignore, x, path), withoutIgnored(ignore, y, path)];
    }
    nodes.push({ path, before: x, after: y, steps });
  };
  // Every value below the root is an `interface{}` in Go: absent, nil and empty get their rules
  // here, before the concrete comparison.
  const diff = (steps: PathStep[], x: unknown, y: unknown): void => {
    if (x === undefined || y === undefined) {
      if (!(o.equateEmpty && isEmpty(x === undefined ? y : x))) add(steps, x, y);
      return;
    }
    if (isEmpty(x) && isEmpty(y)) return;
    if (x === null || y === null) return add(steps, x, y);
    // With compareNumberAndNumericString Go compares (and reports) the parsed number of the string.
    const conv = o.compareNumberAndNumericString === true;
    const nx = conv && typeof x === "string" && typeof y === "number" ? parseGoFloat(x) : x;
    const ny = conv && typeof y === "string" && typeof x === "number" ? parseGoFloat(y) : y;
    if (typeof nx === "number" && typeof ny === "number") {
      if (nx !== ny) add(steps, nx, ny);
      return;
    }
    if (kindOf(x) !== kindOf(y)) return add(steps, x, y);
    if (Array.isArray(x) && Array.isArray(y)) {
      // Lists compare by index; extra elements on either side are diffs, even empty ones.
      for (let i = 0; i < Math.max(x.length, y.length); i++) {
        if (i < x.length && i < y.length) diff([...steps, i], x[i], y[i]);
        else add([...steps, i], x[i], y[i]);
      }
      return;
    }
    const mx = asObj(x);
    const my = asObj(y);
    if (mx && my) {
      for (const k of new Set([...Object.keys(mx), ...Object.keys(my)])) {
        // Keys only the live side has (defaults, status, PipeCD annotations) are not drift.
        if (o.ignoreAddingMapKeys && own(my, k) === undefined) continue;
        diff([...steps, k], own(mx, k), own(my, k));
      }
      return;
    }
    if (x !== y) add(steps, x, y);
  };
  diff([], before, after);
  return nodes.sort((a, b) => cmp(a.path, b.path));
}

/** PipeCD `renderNodeValue`: YAML-like text of a value and whether it spans lines. */
function renderValue(v: unknown, prefix: string): [string, boolean] {
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const e of v) {
      const [sub] = renderValue(e, `${prefix}  `);
      sub.split("\n").forEach((p, i) => {
        const t = p.startsWith(`${prefix}  `) ? p.slice(prefix.length + 2) : p;
        out.push(i === 0 ? `${prefix}- ${t}` : `${prefix}  ${t}`);
      });
    }
    return [out.join("\n"), true];
  }
  const o = asObj(v);
  if (o) {
    const out = Object.keys(o)
      .sort()
      .map((k) => {
        const [sub, nl] = renderValue(o[k], `${prefix}  `);
        return nl ? `${prefix}${k}:\n${sub}` : `${prefix}${k}: ${sub}`;
      });
    return out.length === 0 ? ["", false] : [out.join("\n"), true];
  }
  if (typeof v === "string") return [v, false];
  // Go's FormatFloat(v, 'f', -1, 64) and FormatInt agree with String() for manifest values.
  if (typeof v === "number") return [Number.isFinite(v) ? String(v) : goSpecial(v), false];
  if (typeof v === "boolean") return [String(v), false];
  return ["<invalid Value>", false]; // what Go prints for a nil interface (YAML `key:` / null)
}

const goSpecial = (n: number): string => (Number.isNaN(n) ? "NaN" : n > 0 ? "+Inf" : "-Inf");
const MASK = "*****";
const pad = (n: number): string => " ".repeat(Math.max(0, n));

/** PipeCD `Renderer.Render` with left padding 1; `maskData` replaces both sides of `data…` paths. */
export function renderDiffNodes(
  nodes: readonly DiffNode[],
  o: { maskData?: boolean } = {},
): string {
  const lp = 1;
  let b = "";
  let prev: readonly PathStep[] = [];
  for (const n of nodes) {
    const steps = n.steps ?? n.path.split(".").map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    // The depth from which this path differs from the previous one (0 when one is a prefix).
    const dup = Math.max(
      0,
      steps.slice(0, prev.length).findIndex((st, k) => st !== prev[k]),
    );
    prev = steps;
    let inList = false;
    for (let i = dup; i < steps.length - 1; i++) {
      const s = steps[i];
      if (typeof s === "number") {
        b += `${pad((lp + i) * 2)}-`;
        inList = true;
      } else if (inList) {
        b += ` ${s}:\n`;
        inList = false;
      } else b += `${pad((lp + i) * 2)}${s}:\n`;
    }
    if (inList) b += "\n";
    const last = steps.at(-1) ?? "";
    const depth = lp + steps.length - 1;
    const masked = o.maskData === true && n.path.startsWith("data");
    b += `${pad(depth * 2)}#${n.path}\n`;
    b += renderSide("-", masked ? MASK : n.before, last, depth);
    b += renderSide("+", masked ? MASK : n.after, last, depth);
    b += "\n";
  }
  return b;
}

/** PipeCD's `printValue`: one side of a node, each line led by `mark`. */
function renderSide(mark: string, v: unknown, last: PathStep, depth: number): string {
  if (v === undefined) return "";
  const isIndex = typeof last === "number";
  const [text, multi] = renderValue(v, "");
  const nl = multi && !isIndex;
  let b = `${mark}${pad(depth * 2 - 1)}${isIndex ? "- " : nl ? `${last}:\n` : `${last}: `}`;
  text.split("\n").forEach((p, i) => {
    b += (nl || (isIndex && i > 0) ? `${mark}${pad(depth * 2 + 1)}` : "") + `${p}\n`;
  });
  return b;
}

/** A live/Git pair whose diff is not empty; `key` is the live resource key string. */
export interface ManifestChange {
  key: string;
  live: KubeObject;
  git: KubeObject;
  nodes: DiffNode[];
}

/** PipeCD `DiffListResult`: Git-only objects, live-only objects and changed pairs, in key order. */
export interface DriftResult {
  adds: KubeObject[];
  deletes: KubeObject[];
  changes: ManifestChange[];
}

const keyOf = (o: KubeObject): string => resourceKey(o, { namespaced: isNamespaced(o.kind) });
const isCore = (o: KubeObject, kind: string): boolean => o.kind === kind && o.apiVersion === "v1";

/** `name="…", kind="…", namespace="…", apiVersion="…"` (PipeCD `ResourceKey.ReadableString`). */
export function readableKey(o: KubeObject): string {
  const ns = isNamespaced(o.kind) ? o.metadata.namespace || DEFAULT_NAMESPACE : "";
  const q = JSON.stringify;
  return `name=${q(o.metadata.name)}, kind=${q(o.kind)}, namespace=${q(ns)}, apiVersion=${q(o.apiVersion)}`;
}

/** "apiVersion:kind:namespace:name#fieldPath"; throws InvalidArgumentError naming the bad value unless exactly one '#' and a 4-part key. */
export function parseIgnoreField(s: string): { key: string; path: string } {
  const parts = s.split("#");
  const [key = "", path = ""] = parts;
  // A name may hold ':' (ClusterRole "system:…"), so the key needs at least four parts.
  const [apiVersion, kind, , ...name] = key.split(":");
  if (parts.length !== 2 || !apiVersion || !kind || name.join(":") === "" || path === "")
    throw new InvalidArgumentError(
      `invalid driftDetection.ignoreFields entry ${JSON.stringify(s)}: ` +
        "want 'apiVersion:kind:namespace:name#fieldPath'",
    );
  return { key, path };
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;
const digest = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** A Secret copy whose `data` maps every key (stringData winning) to "sha256:<hex>" of its bytes, without stringData; other kinds unchanged. */
export function hashSecretData(o: KubeObject): KubeObject {
  if (!isCore(o, "Secret")) return o;
  const { stringData, ...rest } = o;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObj(o.data) ?? {})) {
    const s = typeof v === "string" ? v : "";
    // Base64 has no ':', so an already hashed value is left as is: hashing is idempotent.
    data[k] = SHA256.test(s) ? s : digest(Buffer.from(s, "base64"));
  }
  // The API server merges stringData over data; PipeCD approximates this by moving live keys.
  for (const [k, v] of Object.entries(asObj(stringData) ?? {}))
    data[k] = digest(Buffer.from(typeof v === "string" ? v : String(v), "utf8"));
  const out: KubeObject = { ...rest, metadata: { ...o.metadata } };
  if (o.data !== undefined || stringData !== undefined) out.data = data;
  // kubectl's last-applied annotation carries the data in clear; it is live-only, so never drift.
  if (o.metadata.annotations?.[LAST_APPLIED] !== undefined) {
    const { [LAST_APPLIED]: _clear, ...annotations } = o.metadata.annotations;
    out.metadata.annotations = annotations;
  }
  return out;
}

/** PipeCD `IsLessWithIgnoringNamespace` as a sort comparator. */
const byName = (a: KubeObject, b: KubeObject): number =>
  cmp(a.apiVersion, b.apiVersion) || cmp(a.kind, b.kind) || cmp(a.metadata.name, b.metadata.name);

/** PipeCD `DiffList`: pairs `olds` (live) with `news` (Git) ignoring namespace and diffs each pair; `ignore` maps an old key string to its ignored paths. Secrets are hashed first. */
export function diffManifestLists(
  olds: readonly KubeObject[],
  news: readonly KubeObject[],
  o: DiffOptions,
  ignore: ReadonlyMap<string, readonly string[]> = new Map(),
): DriftResult {
  const sorted = (l: readonly KubeObject[]): KubeObject[] => l.map(hashSecretData).sort(byName);
  const [ls, ns] = [sorted(olds), sorted(news)];
  const r: DriftResult = { adds: [], deletes: [], changes: [] };
  let [i, j] = [0, 0];
  while (i < ls.length || j < ns.length) {
    const live = ls[i];
    const git = ns[j];
    const c = !live ? -1 : !git ? 1 : byName(git, live);
    if (c < 0 && git) {
      r.adds.push(git);
      j++;
    } else if (c > 0 && live) {
      r.deletes.push(live);
      i++;
    } else if (live && git) {
      i++;
      j++;
      const key = keyOf(live);
      const nodes = diffObjects(live, git, { ...o, ignorePaths: ignore.get(key) ?? [] });
      if (nodes.length > 0) r.changes.push({ key, live, git, nodes });
    }
  }
  return r;
}

const IGNORE_DRIFT = "pipecd.dev/ignore-drift-detection";

/** The options the v0 drift detector diffs with (plan-preview drops `ignoreAddingMapKeys`). */
export const DRIFT_DIFF_OPTIONS: Readonly<DiffOptions> = {
  ignoreAddingMapKeys: true,
  equateEmpty: true,
  compareNumberAndNumericString: true,
};

/** PipeCD drift: drops objects annotated `pipecd.dev/ignore-drift-detection: "true"`, pairs live with Git ignoring namespace, and diffs each pair as the v0 detector does. */
export function diffLiveAndGit(
  live: readonly KubeObject[],
  git: readonly KubeObject[],
  o: { ignoreFields: readonly string[] },
): DriftResult {
  const ignore = new Map<string, string[]>();
  for (const f of o.ignoreFields) {
    const { key, path } = parseIgnoreField(f);
    ignore.set(key, [...(ignore.get(key) ?? []), path]);
  }
  const kept = (l: readonly KubeObject[]): KubeObject[] =>
    l.filter((m) => m.metadata.annotations?.[IGNORE_DRIFT] !== "true");
  return diffManifestLists(kept(live), kept(git), DRIFT_DIFF_OPTIONS, ignore);
}

/** PipeCD `DiffListResult.Render` with the in-process renderer (no `diff` command). */
export function renderDiffList(
  r: DriftResult,
  o: { maskSecret?: boolean; maskConfigMap?: boolean; maxChangedManifests?: number } = {},
): string {
  let b = "";
  let index = 0;
  for (const d of r.deletes) b += `- ${++index}. ${readableKey(d)}\n\n`;
  for (const a of r.adds) b += `+ ${++index}. ${readableKey(a)}\n\n`;
  const max = o.maxChangedManifests ? Math.min(o.maxChangedManifests, r.changes.length) : Infinity;
  const shown = r.changes.slice(0, max);
  for (const c of shown) {
    const maskData =
      (o.maskSecret === true && isCore(c.live, "Secret")) ||
      (o.maskConfigMap === true && isCore(c.live, "ConfigMap"));
    b += `# ${++index}. ${readableKey(c.live)}\n\n${renderDiffNodes(c.nodes, { maskData })}\n`;
  }
  // v0 prints no closing parenthesis here (pipedv1 added it); we keep v0's text.
  if (shown.length < r.changes.length)
    b += `... (omitted ${r.changes.length - shown.length} other changed manifests\n`;
  return b;
}

/** PipeCD's sync-state texts (detector `makeSyncState`) for a drift result at Git `commit`. */
export function renderDrift(
  r: DriftResult,
  commit: string,
): { status: "SYNCED" | "OUT_OF_SYNC"; shortReason: string; reason: string } {
  const [a, d, c] = [r.adds.length, r.deletes.length, r.changes.length];
  if (a + d + c === 0) return { status: "SYNCED", shortReason: "", reason: "" };
  return {
    status: "OUT_OF_SYNC",
    shortReason: `There are ${a + d + c} manifests not synced (${a} adds, ${d} deletes, ${c} changes)`,
    reason:
      `Diff between the defined state in Git at commit ${commit.slice(0, 7)} and actual state in cluster:\n\n` +
      "--- Actual   (LiveState)\n+++ Expected (Git)\n\n" +
      renderDiffList(r, { maskSecret: true, maskConfigMap: true, maxChangedManifests: 3 }),
  };
}
