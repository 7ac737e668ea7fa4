import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { runTool } from "@pipecd-ts/plugin-sdk";

/** Binaries the renderers use (features §1.2), set by the piped's main. */
export interface ToolboxOptions {
  /** The default helm (used for `helm repo`/`helm registry` and when no helmVersion is set). */
  readonly helm: string;
  /** kubectl; `kubectl kustomize` renders kustomizations when no standalone kustomize is set. */
  readonly kubectl: string;
  /** A standalone kustomize binary, used instead of `kubectl kustomize` when set. */
  readonly kustomize?: string;
  /** Where operators pre-seed pinned binaries named `helm-<V>` / `kustomize-<V>` (PipeCD's names). */
  readonly toolsDir?: string;
  /** Deadline of the version queries; default 30 s. */
  readonly timeoutMs?: number;
}

/** A binary chosen for an app, and a line for the user when it is not the one they asked for. */
export interface ResolvedTool {
  readonly path: string;
  /** Set when the requested version is not installed and the default is used instead. */
  readonly note?: string;
}

/** How to run `kustomize build`: `kustomize build` or `kubectl kustomize`. */
export interface KustomizeCommand {
  readonly path: string;
  /** The sub-command: `["build"]` for kustomize, `["kustomize"]` for kubectl. */
  readonly subcommand: readonly string[];
  /** True for a standalone kustomize binary, false for `kubectl kustomize`. */
  readonly standalone: boolean;
  /** Set when the requested version is not installed and the default is used instead. */
  readonly note?: string;
}

/** Versions look like `3.8.2`, `v4.5.7` or `5.0.0-rc.1`; anything else could escape toolsDir. */
const VERSION = /^v?[0-9][0-9A-Za-z.+-]*$/;

/**
 * The helm/kustomize/kubectl binaries of a piped (PipeCD `toolregistry`). A pinned version is a
 * pre-seeded `<toolsDir>/helm-<V>` file; unlike PipeCD nothing is downloaded, and a version that
 * is not there falls back to the default binary with a note for the user, never silently.
 */
export class Toolbox {
  readonly helm: string;
  readonly kubectl: string;
  readonly kustomize: string | undefined;
  readonly toolsDir: string | undefined;
  private readonly timeoutMs: number;
  private readonly versions = new Map<string, Promise<string>>();

  constructor(opts: ToolboxOptions) {
    this.helm = opts.helm;
    this.kubectl = opts.kubectl;
    this.kustomize = opts.kustomize;
    this.toolsDir = opts.toolsDir;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The helm binary for `input.helmVersion` ("" = the default). */
  async helmFor(version: string): Promise<ResolvedTool> {
    if (version === "") return { path: this.helm };
    const pinned = await this.pinned("helm", "helmVersion", version);
    if (pinned) return { path: pinned };
    const using = await this.helmVersion(this.helm).catch(() => "(version unknown)");
    return {
      path: this.helm,
      note: `${this.missing("helm", "helmVersion", version)}; rendering with helm ${using}`,
    };
  }

  /** The kustomize command for `input.kustomizeVersion` ("" = the default). */
  async kustomizeFor(version: string): Promise<KustomizeCommand> {
    const fallback: KustomizeCommand = this.kustomize
      ? { path: this.kustomize, subcommand: ["build"], standalone: true }
      : { path: this.kubectl, subcommand: ["kustomize"], standalone: false };
    if (version === "") return fallback;
    const pinned = await this.pinned("kustomize", "kustomizeVersion", version);
    if (pinned) return { path: pinned, subcommand: ["build"], standalone: true };
    const using = await this.kustomizeVersion(fallback).catch(() => "(version unknown)");
    const how = fallback.standalone
      ? `kustomize ${using}`
      : `kubectl kustomize (kustomize ${using})`;
    return {
      ...fallback,
      note: `${this.missing("kustomize", "kustomizeVersion", version)}; rendering with ${how}`,
    };
  }

  /** `helm version --short` of a helm binary (e.g. `v4.1.4+g05fa379`), asked once per binary. */
  helmVersion(path: string): Promise<string> {
    return this.cached(`helm:${path}`, async () => {
      const { stdout } = await runTool(path, ["version", "--short"], {
        timeoutMs: this.timeoutMs,
        what: "helm version",
      });
      return stdout.trim();
    });
  }

  /** The kustomize version a command runs (e.g. `v5.6.0`), asked once per binary. */
  kustomizeVersion(cmd: KustomizeCommand): Promise<string> {
    return this.cached(`kustomize:${cmd.path}`, async () => {
      if (!cmd.standalone) {
        const { stdout } = await runTool(cmd.path, ["version", "--client", "--output=json"], {
          timeoutMs: this.timeoutMs,
          what: "kubectl version",
        });
        const v = (JSON.parse(stdout) as { kustomizeVersion?: unknown }).kustomizeVersion;
        return typeof v === "string" ? v : "";
      }
      const { stdout } = await runTool(cmd.path, ["version"], {
        timeoutMs: this.timeoutMs,
        what: "kustomize version",
      });
      // v5 prints `v5.6.0`; v3 prints `{Version:kustomize/v3.8.1 GitCommit:…}`.
      return /v?\d+\.\d+\.\d+[0-9A-Za-z.+-]*/.exec(stdout)?.[0] ?? stdout.trim();
    });
  }

  private cached(key: string, load: () => Promise<string>): Promise<string> {
    let p = this.versions.get(key);
    if (!p) {
      p = load();
      this.versions.set(key, p);
      // A failed query is asked again next time.
      p.catch(() => this.versions.delete(key));
    }
    return p;
  }

  private async pinned(tool: string, field: string, version: string): Promise<string | undefined> {
    if (!VERSION.test(version)) {
      throw new InvalidArgumentError(`${field} ${JSON.stringify(version)} is not a version`);
    }
    if (!this.toolsDir) return undefined;
    const file = join(this.toolsDir, `${tool}-${version}`);
    try {
      if (!(await stat(file)).isFile()) return undefined;
      await access(file, constants.X_OK);
      return file;
    } catch {
      return undefined;
    }
  }

  private missing(tool: string, field: string, version: string): string {
    const bin = `${tool}-${version}`;
    return this.toolsDir
      ? `${field} ${version} is not installed in ${this.toolsDir} (put a ${bin} binary there to pin it)`
      : `${field} ${version} cannot be pinned: the piped has no tools directory (put a ${bin} binary there)`;
  }
}
