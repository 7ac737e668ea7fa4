import { readFile } from "node:fs/promises";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/**
 * A provider secret read from a file at start-up, trimmed (PipeCD reads them the same way);
 * undefined when no file is configured. The error names the field and the file, never the
 * content.
 */
export async function readSecretFile(
  provider: string,
  field: string,
  path: string | undefined,
): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new InvalidArgumentError(`${provider}: cannot read ${field} ${path}: ${code}`, {
      cause: err,
    });
  }
}
