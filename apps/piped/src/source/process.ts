import { readFile, stat, writeFile } from "node:fs/promises";
import type { ApplicationConfig } from "@pipecd-ts/config";
import { insideDir } from "@pipecd-ts/plugin-kubernetes";
import { FailedPreconditionError, InvalidArgumentError } from "@pipecd-ts/runtime";
import { renderGoTemplate, type TemplateData } from "./gotemplate.js";
import type { Redactor } from "./redactor.js";

/** Decrypts one `encryptedSecrets` value with the piped's private key (throws why it cannot). */
export type SecretDecrypter = (ciphertext: string) => string;

/** Largest file `encryption` or `attachment` templates or inlines. */
const MAX_FILE_BYTES = 4 << 20;

/**
 * PipeCD's source processing (`sourceprocesser`), run on the piped's own checkout of a commit
 * before planning, so the planner, every stage and scripts see the result:
 * 1. `encryption`: each of `encryptedSecrets` is decrypted, then every `decryptionTargets` file
 *    is rendered as a Go template with `{{ .encryptedSecrets.NAME }}` and written in place.
 * 2. `attachment`: the `sources` are read (after step 1, so a decrypted file can be a source)
 *    and every `targets` file is rendered with `{{ .attachment.NAME }}`.
 *
 * Unlike PipeCD, `encryption` on a piped without `secretManagement` is an error (PipeCD deploys
 * the `{{ … }}` placeholders as they are), and every file must stay inside the repository.
 * Every plaintext goes to `redactor` before it is used, so no log or report can show it.
 */
export async function processAppSource(o: {
  /** The app directory in the checkout. */
  appDir: string;
  /** The checkout's root: no file outside it may be read or written. */
  repoDir: string;
  config: ApplicationConfig;
  /** Undefined when the piped has no `secretManagement`. */
  decrypt?: SecretDecrypter;
  redactor: Redactor;
}): Promise<void> {
  const { encryption, attachment } = o.config;
  const data: { encryptedSecrets?: TemplateData; attachment?: TemplateData } = {};
  if (encryption) {
    if (!o.decrypt)
      throw new FailedPreconditionError(
        "spec.encryption is set but this piped has no secretManagement (KEY_PAIR) to decrypt it; the deployment stops rather than apply the encrypted placeholders",
      );
    const secrets: Record<string, string> = {};
    for (const [name, ciphertext] of Object.entries(encryption.encryptedSecrets)) {
      try {
        secrets[name] = o.decrypt(ciphertext);
      } catch (err) {
        throw new InvalidArgumentError(
          `failed to decrypt the secret "${name}" of spec.encryption.encryptedSecrets: ${(err as Error).message}`,
        );
      }
      o.redactor.add(secrets[name]);
    }
    data.encryptedSecrets = secrets;
    await renderTargets(o, encryption.decryptionTargets, data, "spec.encryption.decryptionTargets");
  }
  if (attachment) {
    const contents: Record<string, string> = {};
    for (const [name, source] of Object.entries(attachment.sources))
      contents[name] = (await readInside(o, source, `spec.attachment.sources.${name}`)).text;
    data.attachment = contents;
    await renderTargets(o, attachment.targets, data, "spec.attachment.targets");
  }
}

async function renderTargets(
  o: { appDir: string; repoDir: string },
  targets: readonly string[],
  data: TemplateData,
  what: string,
): Promise<void> {
  for (const target of targets) {
    const { file, text } = await readInside(o, target, what);
    await writeFile(file, renderGoTemplate(target, text, data));
  }
}

async function readInside(
  o: { appDir: string; repoDir: string },
  path: string,
  what: string,
): Promise<{ file: string; text: string }> {
  const file = await insideDir(o.repoDir, o.appDir, path, what);
  let st;
  try {
    st = await stat(file);
  } catch {
    throw new InvalidArgumentError(`${what}: ${path} does not exist in the app directory`);
  }
  if (!st.isFile()) throw new InvalidArgumentError(`${what}: ${path} is not a file`);
  if (st.size > MAX_FILE_BYTES)
    throw new InvalidArgumentError(`${what}: ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  return { file, text: await readFile(file, "utf8") };
}
