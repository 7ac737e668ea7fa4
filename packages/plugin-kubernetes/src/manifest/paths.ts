import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** Whether `path` is `dir` or inside it (both absolute and normalised). */
export function isWithin(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Resolves `path` (relative to `base`) and checks that it stays inside `root` after following
 * every symlink — stricter than PipeCD's one-level, string-prefix check (features §1.8). A path
 * that does not exist is checked as written. Returns the resolved path; throws
 * InvalidArgumentError naming `what` when it escapes.
 */
export async function insideDir(
  root: string,
  base: string,
  path: string,
  what: string,
): Promise<string> {
  const lexical = resolve(base, path);
  const realRoot = await realpath(root).catch(() => resolve(root));
  const real = await realpath(lexical).catch(() => undefined);
  if (!isWithin(resolve(root), lexical) || (real !== undefined && !isWithin(realRoot, real)))
    throw new InvalidArgumentError(
      `${what} ${path} references outside the repository; only files inside it can be used`,
    );
  return real ?? lexical;
}
