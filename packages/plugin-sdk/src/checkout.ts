import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The root of the git checkout holding `dir` (the nearest ancestor with `.git`), or `dir` itself
 * when there is none — the strictest root for "stays inside the repository" checks.
 */
export function checkoutRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, ".git"))) return d;
    if (dirname(d) === d) return dir;
  }
}
