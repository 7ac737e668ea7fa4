import { chmod, writeFile } from "node:fs/promises";
import type { Context } from "../command.js";
import { CliError, ExitCode } from "../errors.js";
import { fields } from "../output.js";

/**
 * Writes a key the server shows once to `file` with mode 0600 (the key is then not printed),
 * so scripts never have to scrape it from the terminal.
 */
export async function saveSecret(file: string, secret: string): Promise<void> {
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    // writeFile's mode only applies to a new file; an existing one keeps its mode otherwise.
    await chmod(file, 0o600);
  } catch (err) {
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
