import { createHash } from "node:crypto";

/**
 * PipeCD's `MakeEventKey`: the hex SHA-256 of the event name, followed by `/key:value` for each
 * label in key order. An event watcher's matcher matches an event whose key equals its own: the
 * same name and exactly the same labels.
 */
export function makeEventKey(name: string, labels: Readonly<Record<string, string>>): string {
  const h = createHash("sha256").update(name);
  for (const k of Object.keys(labels).sort()) h.update(`/${k}:${labels[k]}`);
  return h.digest("hex");
}
