import type { UnregisteredApplicationJson } from "@pipecd-ts/proto";

// The app configs a piped found in its repositories that no application uses yet (PipeCD's
// "unregistered applications"), as the "Add application" form offers them: how one is named,
// matched against a location typed by hand, and turned into the new application's fields.

/** An app config a piped reports (`piped.unregisteredApplications[]`). */
export type FoundConfig = UnregisteredApplicationJson;

/** A location in a piped's repositories, as typed: repository id, directory, config file. */
export interface ConfigLocation {
  repoId: string;
  path: string;
  /** Empty: app.pipecd.yaml (or the legacy .pipe.yaml), as PipeCD reads an unset name. */
  configFilename: string;
}

/** The file names an unset `gitPath.configFilename` means, in the order the piped tries them. */
const DEFAULT_FILES = ["app.pipecd.yaml", ".pipe.yaml"];

/** A stable key of a found config (repository, directory, file). */
export function configKey(c: FoundConfig): string {
  return JSON.stringify([c.repoId ?? "", c.path ?? "", c.configFilename ?? ""]);
}

/** "extra/app.pipecd.yaml": the config's file in its repository. */
export function configFile(c: FoundConfig): string {
  return c.path ? `${c.path}/${c.configFilename ?? ""}` : (c.configFilename ?? "");
}

/** A directory as the piped reports it: no "./" in front, no "/" at the end, "" for the root. */
export function normalizeDir(p: string): string {
  const s = p
    .trim()
    .replace(/\/{2,}/g, "/")
    .replace(/^(\.\/)+/, "")
    .replace(/\/+$/, "");
  return s === "." ? "" : s;
}

/**
 * Finds the config at a typed location among those the piped reports. A path that names the
 * file itself ("extra/app.pipecd.yaml") is split into directory and file. Only a found, valid
 * config is returned: anything else is refused with a sentence saying why, so the form never
 * saves a location nobody has validated.
 */
export function matchLocation(
  found: readonly FoundConfig[],
  repos: readonly string[],
  loc: ConfigLocation,
  pipedName: string,
): { config: FoundConfig } | { message: string } {
  const repoId = loc.repoId.trim();
  let dir = normalizeDir(loc.path);
  let file = loc.configFilename.trim();
  const last = dir.slice(dir.lastIndexOf("/") + 1);
  if (!file && (last.endsWith(".pipecd.yaml") || last === ".pipe.yaml")) {
    file = last;
    dir = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "";
  }
  if (!repos.includes(repoId))
    return {
      message: `piped ${pipedName} has no repository "${repoId}" (it has: ${repos.join(", ") || "none"})`,
    };
  const inDir = found.filter((c) => (c.repoId ?? "") === repoId && (c.path ?? "") === dir);
  const hit = file
    ? inDir.find((c) => c.configFilename === file)
    : DEFAULT_FILES.map((f) => inDir.find((c) => c.configFilename === f)).find((c) => c);
  const where = file ? (dir ? `${dir}/${file}` : file) : dir || "/";
  if (!hit) {
    const others = inDir.map((c) => c.configFilename ?? "").filter((f) => f);
    return {
      message:
        `no app config at ${where} in ${repoId}: the piped reports the configs it finds in its repositories` +
        (others.length > 0
          ? ` (that directory has ${others.join(", ")}: enter it as the config file)`
          : ""),
    };
  }
  if (hit.error)
    return { message: `the app config ${configFile(hit)} in ${repoId} is invalid: ${hit.error}` };
  return { config: hit };
}

/** A new application's name from its config: spec.name, else the directory's last segment. */
export function defaultAppName(c: FoundConfig): string {
  if (c.name) return c.name;
  const dir = c.path ?? "";
  return dir.slice(dir.lastIndexOf("/") + 1);
}

/** A config's labels as `[key, value]` pairs sorted by key. */
export function sortedLabels(
  labels: Readonly<Record<string, string>> | undefined,
): [string, string][] {
  return Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Labels as the form edits them: one `key=value` a line, sorted by key. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  return sortedLabels(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

/** Limits of POST /applications' labels (rest-api schemas). */
const MAX_LABELS = 64;
const MAX_KEY = 63;
const MAX_VALUE = 253;

/** Parses the form's labels (one `key=value` a line, blank lines ignored), or says what's wrong. */
export function parseLabels(
  text: string,
): { labels: Record<string, string> } | { message: string } {
  const labels: Record<string, string> = {};
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    const key = eq < 0 ? "" : line.slice(0, eq).trim();
    const value = eq < 0 ? "" : line.slice(eq + 1).trim();
    const at = `labels, line ${i + 1}`;
    if (!key) return { message: `${at}: "${line}" is not key=value` };
    if (key.length > MAX_KEY) return { message: `${at}: the key is longer than ${MAX_KEY}` };
    if (value.length > MAX_VALUE)
      return { message: `${at}: the value is longer than ${MAX_VALUE}` };
    if (Object.hasOwn(labels, key)) return { message: `${at}: "${key}" is given twice` };
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_LABELS)
    return { message: `labels: more than ${MAX_LABELS}` };
  return { labels };
}
