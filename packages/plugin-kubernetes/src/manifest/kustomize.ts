import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { runTool, toolErrorToAppError } from "@pipecd-ts/plugin-sdk";
import type { RenderRequest, RenderedText, Renderer } from "./render.js";
import type { Toolbox } from "./tools.js";

/** The file names that make a directory a kustomization (PipeCD `determineTemplatingMethod`). */
export const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/** Whether `appDir` itself holds a kustomization file, i.e. its app renders with kustomize. */
export async function hasKustomization(appDir: string): Promise<boolean> {
  for (const name of KUSTOMIZATION_FILES) {
    try {
      await lstat(join(appDir, name));
      return true;
    } catch {
      // Try the next name.
    }
  }
  return false;
}

/** What {@link kustomizeBuildArgs} turns into arguments. */
export interface KustomizeArgsInput {
  /** `["build"]` (kustomize) or `["kustomize"]` (kubectl). */
  readonly subcommand: readonly string[];
  /** `input.kustomizeOptions`. */
  readonly options: Readonly<Record<string, string>>;
  /** `--helm-command <path>` when set. */
  readonly helmCommand?: string;
  /** Rewrite kustomize 3 flag names (`load_restrictor`) to today's (`load-restrictor`). */
  readonly hyphenate: boolean;
}

/** Flags that must not be set through kustomizeOptions: they would write on the piped's host. */
const REFUSED_OPTIONS = new Set(["output", "o"]);
const OPTION_KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * The `kustomize build` argv of features §1.6: `<subcommand> . [--helm-command <helm>]
 * [--<key> [<value>] ...]`, options in sorted key order (PipeCD: Go map order). Also returns the
 * option names it rewrote from the kustomize 3 spelling.
 */
export function kustomizeBuildArgs(input: KustomizeArgsInput): {
  args: string[];
  renamed: Array<[from: string, to: string]>;
} {
  const args = [...input.subcommand, "."];
  const renamed: Array<[string, string]> = [];
  if (input.helmCommand) args.push("--helm-command", input.helmCommand);
  for (const key of Object.keys(input.options).sort()) {
    if (!OPTION_KEY.test(key)) {
      throw new InvalidArgumentError(
        `kustomizeOptions key ${JSON.stringify(key)} is not a flag name`,
      );
    }
    let flag = key;
    if (input.hyphenate && key.includes("_")) {
      flag = key.replaceAll("_", "-");
      renamed.push([key, flag]);
    }
    if (REFUSED_OPTIONS.has(flag)) {
      throw new InvalidArgumentError(
        `kustomizeOptions ${key} is not allowed: the rendered manifests are read from stdout`,
      );
    }
    args.push(`--${flag}`);
    const value = input.options[key];
    if (value) args.push(value);
  }
  return { args, renamed };
}

/** Options of {@link KustomizeRenderer}. */
export interface KustomizeRendererOptions {
  readonly toolbox: Toolbox;
  /** Deadline of each `kustomize build`; default 5 min. */
  readonly timeoutMs?: number;
}

/**
 * Renders apps whose directory holds a kustomization with `kustomize build .` (cwd = app dir;
 * features §1.6), or `kubectl kustomize .` when the piped has no standalone kustomize. Remote
 * bases are fetched by kustomize itself with git, which may not prompt.
 */
export class KustomizeRenderer implements Renderer {
  readonly method = "kustomize";
  private readonly toolbox: Toolbox;
  private readonly timeoutMs: number;

  constructor(opts: KustomizeRendererOptions) {
    this.toolbox = opts.toolbox;
    this.timeoutMs = opts.timeoutMs ?? 300_000;
  }

  async render(req: RenderRequest): Promise<RenderedText[]> {
    const input = req.input;
    const cmd = await this.toolbox.kustomizeFor(input.kustomizeVersion);
    if (cmd.note) req.note(cmd.note);
    const version = await this.toolbox.kustomizeVersion(cmd).catch(() => "");
    // PipeCD resolves helm for every kustomize app; only say something when helm will run.
    const helm = await this.toolbox.helmFor(input.helmVersion);
    const enablesHelm = Object.keys(input.kustomizeOptions).some(
      (k) => k.replaceAll("_", "-") === "enable-helm",
    );
    if (helm.note && enablesHelm) req.note(helm.note);

    // kubectl always has --helm-command (and normalises `_` itself); a standalone kustomize has
    // it from v4.1.0 (PipeCD's gate) and renamed its flags to the hyphen spelling in v4.
    const modern = !cmd.standalone || atLeast(version, [4, 0, 0]);
    const withHelmCommand = !cmd.standalone || atLeast(version, [4, 1, 0]);
    const { args, renamed } = kustomizeBuildArgs({
      subcommand: cmd.subcommand,
      options: input.kustomizeOptions,
      hyphenate: modern,
      ...(withHelmCommand ? { helmCommand: helm.path } : {}),
    });
    for (const [from, to] of renamed) {
      req.note(`kustomizeOptions ${from} is the kustomize 3 spelling: passing --${to}`);
    }
    const name = cmd.standalone ? "kustomize" : "kubectl kustomize";
    req.note(
      `${name}${version ? ` (kustomize ${version})` : ""}: ${name} ${args.slice(1).join(" ")}`,
    );
    try {
      const { stdout } = await runTool(cmd.path, args, {
        cwd: req.appDir,
        env: { GIT_TERMINAL_PROMPT: "0" },
        timeoutMs: this.timeoutMs,
        signal: req.signal,
        what: cmd.standalone ? "kustomize build" : "kubectl kustomize",
      });
      return [{ source: `${name} ${cmd.standalone ? "build ." : "."}`, text: stdout }];
    } catch (e) {
      throw toolErrorToAppError(e, "unable to run kustomize build");
    }
  }
}

/** Whether a version such as `v5.6.0` or `kustomize/v3.8.1` is at least `min` ("" is not). */
function atLeast(version: string, min: readonly [number, number, number]): boolean {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major !== min[0]) return major > min[0];
  if (minor !== min[1]) return minor > min[1];
  return patch >= min[2];
}
