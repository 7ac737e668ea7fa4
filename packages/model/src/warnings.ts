import type { ConfigWarning } from "@pipecd-ts/proto";

/**
 * A config warning in any of its forms: the proto message, its JSON mapping (where empty
 * fields are left out) or a config loader's issue with its file.
 */
export interface ConfigWarningLike {
  readonly file?: string;
  readonly path?: string;
  /** 1-based; 0 or absent when unknown. */
  readonly line?: number;
  readonly message?: string;
}

/** `file:line: path: message`, the one-line form of a config issue or warning. */
export function formatConfigWarning(w: ConfigWarningLike): string {
  return `${w.file ?? ""}${w.line ? `:${w.line}` : ""}: ${w.path || "(root)"}: ${w.message ?? ""}`;
}

/** At most this many warnings are kept per application config (the rest are counted). */
export const MAX_CONFIG_WARNINGS = 50;

/** Longest file, path or message of a config warning, in characters. */
export const MAX_CONFIG_WARNING_TEXT = 1_000;

/**
 * The warnings of one config file as messages, within the limits the control plane enforces:
 * texts are cut to {@link MAX_CONFIG_WARNING_TEXT} and, beyond {@link MAX_CONFIG_WARNINGS}, the
 * last kept warning says how many more there are.
 */
export function capConfigWarnings(
  file: string,
  warnings: readonly ConfigWarningLike[],
): Omit<ConfigWarning, "$typeName">[] {
  const cut = (s: string | undefined): string =>
    (s ?? "").length > MAX_CONFIG_WARNING_TEXT
      ? `${(s ?? "").slice(0, MAX_CONFIG_WARNING_TEXT - 1)}…`
      : (s ?? "");
  const out = warnings.slice(0, MAX_CONFIG_WARNINGS).map((w) => ({
    file: cut(file),
    path: cut(w.path),
    line: w.line ?? 0,
    message: cut(w.message),
  }));
  const more = warnings.length - MAX_CONFIG_WARNINGS;
  if (more > 0)
    out[MAX_CONFIG_WARNINGS - 1] = {
      file: cut(file),
      path: "",
      line: 0,
      message: `and ${more + 1} more warnings`,
    };
  return out;
}

/** Why a list of warnings breaks the limits of {@link capConfigWarnings}; undefined when it keeps them. */
export function configWarningsProblem(warnings: readonly ConfigWarningLike[]): string | undefined {
  if (warnings.length > MAX_CONFIG_WARNINGS)
    return `at most ${MAX_CONFIG_WARNINGS} config warnings, got ${warnings.length}`;
  for (const [i, w] of warnings.entries())
    for (const k of ["file", "path", "message"] as const)
      if ((w[k] ?? "").length > MAX_CONFIG_WARNING_TEXT)
        return `config warning ${i}: ${k} is longer than ${MAX_CONFIG_WARNING_TEXT} characters`;
  return undefined;
}

/** Whether two lists hold the same warnings in the same order. */
export function sameConfigWarnings(
  a: readonly ConfigWarningLike[],
  b: readonly ConfigWarningLike[],
): boolean {
  return (
    a.length === b.length &&
    a.every((w, i) => formatConfigWarning(w) === formatConfigWarning(b[i] ?? {}))
  );
}

/** A pipeline stage as an app config writes it (what an application shows). */
export interface ConfigStageLike {
  id: string;
  name: string;
  desc: string;
}

/** Whether two lists of config stages are the same, in order. */
export function sameConfigStages(
  a: readonly ConfigStageLike[],
  b: readonly ConfigStageLike[],
): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.id === b[i]!.id && x.name === b[i]!.name && x.desc === b[i]!.desc)
  );
}
