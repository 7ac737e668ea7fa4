import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Context } from "../command.js";
import { CliError, ExitCode } from "../errors.js";
import { fields } from "../output.js";

/**
 * Writes a key the server shows once to `file` with mode 0600 (the key is then not printed),
 * so scripts never have to scrape it from the terminal.
 */
export async function saveSecret(file: string, secret: string): Promise<void> {
  // A fresh file (exclusive create, mode 0600 from the start) renamed over the target: the key
  // is never in a file others can read, and a symlink at `file` is replaced, not followed.
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, `${secret}\n`, { mode: 0o600, flag: "wx" });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new CliError(
      `the key was created but could not be written to ${file}: ${(err as Error).message}`,
      ExitCode.API_ERROR,
    );
  }
}

/** The flag that diverts a shown-once key into a file. */
export const KEY_FILE_FLAG = {
  type: "string",
  arg: "FILE",
  help: "write the new key to FILE (mode 0600) instead of printing it",
} as const;

/**
 * Prints a response carrying a key the server shows once: with `keyFile`, the key is saved there
 * and left out of the output; otherwise it is printed with `advice` on where to keep it.
 */
export async function printShownOnce<T extends { key: string }>(
  ctx: Context,
  res: T,
  keyFile: string | undefined,
  what: [label: string, description: string],
  advice: string,
): Promise<void> {
  if (keyFile) await saveSecret(keyFile, res.key);
  const { key, ...rest } = res;
  ctx.print(keyFile ? rest : res, () =>
    fields([
      what,
      keyFile
        ? ["Key", `written to ${keyFile} (mode 0600)`]
        : ["Key", `${key}\n\nThe key is shown only once: ${advice}`],
    ]),
  );
}
