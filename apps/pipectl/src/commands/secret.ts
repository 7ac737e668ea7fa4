import { chmod, writeFile } from "node:fs/promises";
import { CliError, ExitCode } from "../errors.js";

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
