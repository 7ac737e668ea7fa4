/** What a redacted secret shows as. */
export const REDACTED = "[redacted]";

/** Values shorter than this are not redacted: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

/** At most this many secrets are remembered; the oldest are forgotten first. */
const MAX_SECRETS = 10_000;

/**
 * The piped's memory of the secrets it decrypted, so that none of them reaches a stage log, a
 * status reason or the operator log: every text the piped sends or logs passes `redact`. A
 * secret's base64 form is redacted too (it is what a Secret's `data` holds).
 */
export class Redactor {
  readonly #secrets = new Set<string>();
  #pattern: RegExp | undefined;

  /** Remembers a decrypted value. */
  add(secret: string): void {
    for (const form of [secret, Buffer.from(secret).toString("base64")]) {
      if (form.length < MIN_SECRET_LENGTH || this.#secrets.has(form)) continue;
      this.#secrets.add(form);
      this.#pattern = undefined;
    }
    while (this.#secrets.size > MAX_SECRETS) {
      const oldest = this.#secrets.values().next().value;
      if (oldest === undefined) break;
      this.#secrets.delete(oldest);
    }
  }

  /** `text` with every remembered secret replaced by {@link REDACTED}. */
  redact = (text: string): string => {
    if (this.#secrets.size === 0 || text === "") return text;
    this.#pattern ??= new RegExp(
      [...this.#secrets]
        .sort((a, b) => b.length - a.length)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|"),
      "g",
    );
    return text.replace(this.#pattern, REDACTED);
  };
}
