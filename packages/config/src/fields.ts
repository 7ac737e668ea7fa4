import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { IssueCollector, YamlSource, parseDuration } from "./source.js";

/** A path into a config document: keys and list indexes. */
export type FieldPath = (string | number)[];

/** A mapping read from YAML. */
export type YamlMap = Record<string, unknown>;

/** True for a YAML mapping (not a list, not null). */
export function isMap(v: unknown): v is YamlMap {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Recursively freezes a plain JSON-like value and returns it. */
export function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as object)) deepFreeze(child);
  }
  return v;
}

/**
 * Reads typed fields out of a parsed YAML value, applying defaults and recording every problem
 * (with its path) in the collector instead of throwing, so one pass lists all of them.
 * YAML `null` (an empty value) is treated like an absent field, as Go's JSON decoder does.
 */
export class FieldReader {
  /** Set while reading where unknown keys are ignored with a warning: why they are. */
  #lenient: string | undefined;

  constructor(readonly issues: IssueCollector) {}

  /** Records an issue at `path`. */
  add(path: FieldPath, message: string): void {
    this.issues.add(path, message);
  }

  /** Records a warning at `path`: the file stays valid, and the user is told. */
  warn(path: FieldPath, message: string): void {
    this.issues.warn(path, message);
  }

  /**
   * Runs `fn` with unknown keys turned from issues into warnings that give `why`, for the parts
   * where PipeCD ignores unknown keys (pipeline stage entries and their `with`, nested keys too).
   */
  ignoringUnknownKeys<T>(why: string, fn: () => T): T {
    const outer = this.#lenient;
    this.#lenient = outer ?? why;
    try {
      return fn();
    } finally {
      this.#lenient = outer;
    }
  }

  /**
   * Warns that the field at `path` is accepted (PipeCD has it) but not implemented yet, when the
   * file sets it to anything but `inert` (the value that asks for nothing, e.g. `disabled: true`).
   */
  notImplemented(path: FieldPath, v: unknown, inert?: unknown): void {
    if (v === undefined || v === null || v === inert) return;
    if (Array.isArray(v) && v.length === 0) return;
    this.warn(path, "is not supported yet and has no effect");
  }

  /** A mapping, or undefined when absent; a non-mapping is an issue. */
  map(path: FieldPath, v: unknown): YamlMap | undefined {
    if (v === undefined || v === null) return undefined;
    if (!isMap(v)) {
      this.add(path, "must be a mapping");
      return undefined;
    }
    return v;
  }

  /** A list, or an empty list when absent; a non-list is an issue. */
  list(path: FieldPath, v: unknown): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.add(path, "must be a list");
      return [];
    }
    return v as unknown[];
  }

  /** Flags every key of `obj` not in `known`. */
  keys(path: FieldPath, obj: YamlMap, known: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const knownText = known.length === 0 ? "this takes no options" : `known: ${known.join(", ")}`;
      if (this.#lenient === undefined) this.add([...path, k], `unknown field (${knownText})`);
      else this.warn([...path, k], `unknown field, ignored ${this.#lenient} (${knownText})`);
    }
  }

  /** A string field; `def` when absent. */
  string(path: FieldPath, v: unknown, def = ""): string {
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") {
      this.add(path, "must be a string" + (isScalar(v) ? " (quote it)" : ""));
      return def;
    }
    return v;
  }

  /** A required non-empty string field. */
  requiredString(path: FieldPath, v: unknown): string {
    if (v === undefined || v === null || v === "") {
      this.add(path, "is required");
      return "";
    }
    return this.string(path, v);
  }

  /** A boolean field; `def` when absent. */
  bool(path: FieldPath, v: unknown, def: boolean): boolean {
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") {
      this.add(path, "must be true or false");
      return def;
    }
    return v;
  }

  /** An integer field within [min, max]; `def` when absent. */
  int(path: FieldPath, v: unknown, def: number, min = -Infinity, max = Infinity): number {
    if (v === undefined || v === null) return def;
    if (typeof v !== "number" || !Number.isInteger(v)) {
      this.add(path, "must be an integer");
      return def;
    }
    if (v < min || v > max) {
      this.add(
        path,
        max === Infinity ? `must be at least ${min}, got ${v}` : `must be ${min}-${max}, got ${v}`,
      );
      return def;
    }
    return v;
  }

  /** A list of strings (frozen); empty when absent. */
  stringList(path: FieldPath, v: unknown): readonly string[] {
    const out: string[] = [];
    this.list(path, v).forEach((item, i) => {
      if (typeof item !== "string") this.add([...path, i], "must be a string");
      else out.push(item);
    });
    return Object.freeze(out);
  }

  /** A map of string to string (frozen); empty when absent. */
  stringMap(path: FieldPath, v: unknown): Readonly<Record<string, string>> {
    const out: Record<string, string> = {};
    const m = this.map(path, v);
    if (m) {
      for (const [k, val] of Object.entries(m)) {
        if (typeof val !== "string")
          this.add([...path, k], "must be a string" + (isScalar(val) ? " (quote it)" : ""));
        else out[k] = val;
      }
    }
    return Object.freeze(out);
  }

  /**
   * A Go-style duration ("30s", "1h30m") in milliseconds. Absent or zero gives `defMs`, as
   * PipeCD's `creasty/defaults` replaces zero durations with the field's default.
   */
  durationMs(path: FieldPath, v: unknown, defMs: number): number {
    if (v === undefined || v === null || v === 0) return defMs;
    if (typeof v === "number") {
      // PipeCD reads a bare number as nanoseconds; nobody means that, so ask for a unit.
      this.add(path, 'must be a duration with a unit, e.g. "30s", "5m" or "1h"');
      return defMs;
    }
    const ms = typeof v === "string" ? parseDuration(v) : undefined;
    if (ms === undefined) {
      this.add(path, `must be a duration such as "30s", "5m" or "1h30m", got ${JSON.stringify(v)}`);
      return defMs;
    }
    return ms === 0 ? defMs : ms;
  }

  /** An optional duration: undefined when absent (or zero). */
  optionalDurationMs(path: FieldPath, v: unknown): number | undefined {
    const ms = this.durationMs(path, v, -1);
    return ms === -1 ? undefined : ms;
  }

  /** A mapping accepted as-is (deep-frozen), for sections this product does not interpret. */
  looseMap(path: FieldPath, v: unknown): Readonly<YamlMap> | undefined {
    const m = this.map(path, v);
    return m ? deepFreeze(m) : undefined;
  }

  /** A list accepted as-is (deep-frozen), for sections this product does not interpret. */
  looseList(path: FieldPath, v: unknown): readonly unknown[] {
    return deepFreeze(this.list(path, v));
  }
}

function isScalar(v: unknown): boolean {
  return typeof v === "number" || typeof v === "boolean";
}

/** The apiVersions our config documents accept: PipeCD's own, and ours. */
const API_VERSION_RE = /^pipecd(-ts)?\.dev\/v1beta1$/;

/** A config document opened for reading: its issues, a reader, and its checked top level. */
export interface ConfigDocument {
  readonly issues: IssueCollector;
  readonly r: FieldReader;
  /** The top-level mapping: exactly apiVersion, kind and spec (unknown keys are issues). */
  readonly root: YamlMap;
  /** `root.apiVersion`, or "" when it is not a string (already recorded as an issue). */
  readonly apiVersion: string;
}

/**
 * Parses a config document and checks what every kind shares: a mapping of apiVersion, kind
 * and spec, with apiVersion `pipecd.dev/v1beta1` (or `pipecd-ts.dev/v1beta1`). Throws at once
 * when the document is not a mapping; other problems are collected for the kind's own pass.
 */
export function openConfigDocument(file: string, text: string): ConfigDocument {
  const src = new YamlSource(file, text);
  const issues = new IssueCollector(src);
  const r = new FieldReader(issues);
  const root = src.value;
  if (!isMap(root)) {
    issues.add([], "must be a mapping with apiVersion, kind and spec");
    issues.throwIfAny(file);
    throw new InvalidArgumentError("unreachable");
  }
  r.keys([], root, ["apiVersion", "kind", "spec"]);
  const apiVersion = typeof root.apiVersion === "string" ? root.apiVersion : "";
  if (!API_VERSION_RE.test(apiVersion))
    issues.add(
      ["apiVersion"],
      `must be "pipecd.dev/v1beta1", got ${JSON.stringify(root.apiVersion ?? null)}`,
    );
  return { issues, r, root, apiVersion };
}
