import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ChartRegistry, ChartRepository, HelmChart, HelmOptions } from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { ToolError, runTool, toolErrorToAppError } from "@pipecd-ts/plugin-sdk";
import { insideDir } from "./paths.js";
import type { RenderRequest, RenderedText, Renderer } from "./render.js";
import type { Toolbox } from "./tools.js";

/** What {@link helmTemplateArgs} turns into `helm template` arguments. */
export interface HelmTemplateArgsInput {
  readonly releaseName: string;
  /** The chart argument: a local directory, `<repo>/<name>` or `oci://…/<name>`. */
  readonly chart: string;
  /** Set for a chart from a repository only: `--version=` (even empty) and the insecure flag. */
  readonly repoChart?: { readonly version: string; readonly insecure: boolean };
  /** `input.namespace`: `--namespace=` when non-empty. */
  readonly namespace: string;
  readonly options: HelmOptions;
}

/**
 * The `helm template` argv of features §1.3 (PipeCD `TemplateLocalChart`/`TemplateRemoteChart`),
 * in PipeCD's order. `setValues`/`setFiles` are emitted in sorted key order where PipeCD uses Go
 * map order, so the same config always renders with the same command.
 */
export function helmTemplateArgs(input: HelmTemplateArgsInput): string[] {
  const o = input.options;
  const args = [
    "template",
    "--no-hooks",
    "--include-crds",
    "--dependency-update",
    input.releaseName,
    input.chart,
  ];
  if (input.repoChart) {
    args.push(`--version=${input.repoChart.version}`);
    if (input.repoChart.insecure) args.push("--insecure-skip-tls-verify");
  }
  if (input.namespace) args.push(`--namespace=${input.namespace}`);
  for (const k of Object.keys(o.setValues).sort()) args.push("--set", `${k}=${o.setValues[k]}`);
  for (const f of o.valueFiles) args.push("-f", f);
  for (const k of Object.keys(o.setFiles).sort()) args.push("--set-file", `${k}=${o.setFiles[k]}`);
  for (const v of o.apiVersions) args.push("--api-versions", v);
  if (o.kubeVersion) args.push("--kube-version", o.kubeVersion);
  return args;
}

/** Options of {@link HelmRenderer}. */
export interface HelmRendererOptions {
  readonly toolbox: Toolbox;
  /** The piped's `chartRepositories` (HTTP: `helm repo add`; GIT: an SSH key for a remote). */
  readonly chartRepositories: readonly ChartRepository[];
  /** The piped's `chartRegistries` (OCI: `helm registry login`). */
  readonly chartRegistries: readonly ChartRegistry[];
  /** Helm's own state (repositories, caches) and the git mirrors of `gitRemote` charts. */
  readonly cacheDir: string;
  /** Deadline of each helm or git call; default 5 min. */
  readonly timeoutMs?: number;
  /** The git CLI; default `git` from PATH. */
  readonly git?: string;
}

/** A scheme such as `https:` at the start of a value file (Go's `url.Parse` rule). */
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/**
 * Renders apps whose `input.helmChart` is set with `helm template` (features §1.3–§1.5, §1.8).
 * Helm's state lives under `cacheDir`, never in the piped user's `~/.config/helm`.
 */
export class HelmRenderer implements Renderer {
  readonly method = "helm";
  private readonly toolbox: Toolbox;
  private readonly repositories: readonly ChartRepository[];
  private readonly registries: readonly ChartRegistry[];
  private readonly cacheDir: string;
  private readonly timeoutMs: number;
  private readonly git: string;
  private readonly gitLocks = new Map<string, Promise<unknown>>();
  private updating: Promise<void> | undefined;

  constructor(opts: HelmRendererOptions) {
    this.toolbox = opts.toolbox;
    this.repositories = opts.chartRepositories;
    this.registries = opts.chartRegistries;
    this.cacheDir = opts.cacheDir;
    this.timeoutMs = opts.timeoutMs ?? 300_000;
    this.git = opts.git ?? "git";
  }

  /**
   * Run once at piped start (PipeCD `piped.go`): `helm repo add` for every HTTP repository (the
   * password through stdin), one `helm repo update`, `helm registry login` for every OCI registry
   * with credentials. Throws InvalidArgumentError with helm's message when one fails.
   */
  async setupRepositories(signal: AbortSignal): Promise<void> {
    const http = this.repositories.filter((r) => r.type === "HTTP");
    for (const r of http) {
      const args = ["repo", "add", r.name, r.address, "--force-update"];
      if (r.insecure) args.push("--insecure-skip-tls-verify");
      const auth = r.username !== "" || r.password !== "";
      if (auth) args.push("--username", r.username, "--password-stdin");
      await this.helmCall(args, signal, `unable to add chart repository ${r.name}`, {
        what: "helm repo add",
        ...(auth ? { stdin: r.password } : {}),
      });
    }
    if (http.length > 0) {
      await this.helmCall(["repo", "update"], signal, "unable to update chart repositories", {
        what: "helm repo update",
      });
    }
    for (const r of this.registries) {
      if (r.username === "" || r.password === "") continue;
      await this.helmCall(
        ["registry", "login", r.address, "--username", r.username, "--password-stdin"],
        signal,
        `unable to log in to chart registry ${r.address}`,
        { what: "helm registry login", stdin: r.password },
      );
    }
  }

  async render(req: RenderRequest): Promise<RenderedText[]> {
    const chart = req.input.helmChart;
    if (!chart) throw new InvalidArgumentError("input.helmChart is not set");
    const options = req.input.helmOptions;
    // Every path is checked before any tool runs (features §1.8, stricter: see verify*).
    for (const f of options.valueFiles) await verifyValueFile(req.repoDir, req.appDir, f);
    for (const [k, f] of Object.entries(options.setFiles)) {
      await verifySetFile(req.repoDir, req.appDir, k, f);
    }
    const localChart =
      !chart.gitRemote && !chart.repository
        ? await insideDir(req.repoDir, req.appDir, chart.path, "chart path")
        : undefined;

    const helm = await this.toolbox.helmFor(req.input.helmVersion);
    if (helm.note) req.note(helm.note);
    const version = await this.toolbox.helmVersion(helm.path).catch(() => "(version unknown)");
    const template = async (
      chartArg: string,
      label: string,
      repoChart?: HelmTemplateArgsInput["repoChart"],
    ): Promise<RenderedText[]> => {
      const releaseName = options.releaseName || req.appName;
      const args = helmTemplateArgs({
        releaseName,
        chart: chartArg,
        namespace: req.input.namespace,
        options,
        ...(repoChart ? { repoChart } : {}),
      });
      const source = `helm template ${releaseName} ${label}`;
      // Not the whole argv: setValues may hold values the stage log's readers should not see.
      req.note(`helm ${version}: ${source}`);
      const text = await this.runTemplate(helm.path, args, req);
      return [{ source, text }];
    };

    if (chart.gitRemote) {
      const clone = await this.checkoutGitChart(chart, req.signal);
      try {
        const dir = await insideDir(clone, clone, chart.path || ".", "chart path");
        const at = chart.ref ? `@${chart.ref}` : "";
        return await template(dir, `${chart.gitRemote}//${chart.path}${at}`);
      } finally {
        await rm(dirname(clone), { recursive: true, force: true });
      }
    }
    if (chart.repository) {
      const { ref, insecure } = this.repositoryChart(chart);
      return template(ref, ref, { version: chart.version, insecure });
    }
    // PipeCD passes `path` as written with cwd = app dir; an absolute path says the same and
    // keeps helm from reading a missing `repo/name`-shaped path as a repository chart.
    return template(localChart ?? resolve(req.appDir, chart.path), chart.path);
  }

  /** The chart argument of a repository chart and whether its repository is insecure. */
  private repositoryChart(chart: HelmChart): { ref: string; insecure: boolean } {
    if (/^oci:\/\//i.test(chart.repository)) {
      return { ref: `${chart.repository.replace(/\/+$/, "")}/${chart.name}`, insecure: false };
    }
    const repo = this.repositories.find((r) => r.type === "HTTP" && r.name === chart.repository);
    if (!repo) {
      throw new InvalidArgumentError(
        `chart repository ${chart.repository} is not one of the piped's chartRepositories ` +
          `(use a configured name, or an oci:// address)`,
      );
    }
    return { ref: `${repo.name}/${chart.name}`, insecure: repo.insecure };
  }

  /**
   * `helm template`, retried once after one shared `helm repo update` when helm says the local
   * index is stale (PipeCD `chartrepo.Update`, single-flight).
   */
  private async runTemplate(helm: string, args: string[], req: RenderRequest): Promise<string> {
    const run = async (): Promise<string> =>
      (
        await runTool(helm, args, {
          cwd: req.appDir,
          env: this.helmEnv(),
          timeoutMs: this.timeoutMs,
          signal: req.signal,
          what: "helm template",
        })
      ).stdout;
    try {
      try {
        return await run();
      } catch (e) {
        const stale =
          e instanceof ToolError && e.failure === "exit" && e.stderr.includes("helm repo update");
        if (!stale || !this.repositories.some((r) => r.type === "HTTP")) throw e;
        req.note("helm suggests `helm repo update`: updating the chart repositories and retrying");
        await this.updateRepositories(req.signal);
        return await run();
      }
    } catch (e) {
      throw toolErrorToAppError(e, "unable to run helm template");
    }
  }

  /** One `helm repo update` at a time; callers arriving meanwhile wait for the running one. */
  private async updateRepositories(signal: AbortSignal): Promise<void> {
    // The shared run is not tied to the first caller's signal; each caller can still stop waiting.
    this.updating ??= this.helmCall(
      ["repo", "update"],
      undefined,
      "unable to update chart repositories",
      {
        what: "helm repo update",
      },
    ).finally(() => {
      this.updating = undefined;
    });
    const running = this.updating;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      void running
        .then(resolve, reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private async helmCall(
    args: string[],
    signal: AbortSignal | undefined,
    prefix: string,
    extra: { what: string; stdin?: string },
  ): Promise<void> {
    try {
      await runTool(this.toolbox.helm, args, {
        env: this.helmEnv(),
        timeoutMs: this.timeoutMs,
        ...(signal ? { signal } : {}),
        ...extra,
      });
    } catch (e) {
      throw toolErrorToAppError(e, prefix);
    }
  }

  /** Every helm state path, so that neither `~/.config/helm` nor the operator's HELM_* is used. */
  private helmEnv(): Record<string, string> {
    const h = join(this.cacheDir, "helm");
    return {
      HELM_CONFIG_HOME: join(h, "config"),
      HELM_CACHE_HOME: join(h, "cache"),
      HELM_DATA_HOME: join(h, "data"),
      HELM_REPOSITORY_CONFIG: join(h, "config", "repositories.yaml"),
      HELM_REPOSITORY_CACHE: join(h, "cache", "repository"),
      HELM_REGISTRY_CONFIG: join(h, "config", "registry", "config.json"),
      HELM_CONTENT_CACHE: join(h, "cache", "content"),
      HELM_PLUGINS: join(h, "data", "plugins"),
    };
  }

  /**
   * Clones `gitRemote` at `ref` into a new temp dir (returns `<tmp>/repo`) through a mirror kept
   * under `cacheDir` and fetched on later calls (PipeCD's git client, `clone --mirror`).
   */
  private async checkoutGitChart(chart: HelmChart, signal: AbortSignal): Promise<string> {
    const remote = chart.gitRemote;
    if (remote.startsWith("-"))
      throw new InvalidArgumentError(`gitRemote ${remote} is not a git remote`);
    if (chart.ref.startsWith("-"))
      throw new InvalidArgumentError(`ref ${chart.ref} is not a git ref`);
    const env: Record<string, string> = { GIT_TERMINAL_PROMPT: "0" };
    const keyed = this.repositories.find((r) => r.type === "GIT" && r.gitRemote === remote);
    if (keyed?.sshKeyFile) {
      env.GIT_SSH_COMMAND = `ssh -i ${keyed.sshKeyFile} -o StrictHostKeyChecking=no -F /dev/null`;
    }
    const git = async (args: string[], what: string, cwd?: string): Promise<void> => {
      try {
        await runTool(this.git, args, {
          env,
          timeoutMs: this.timeoutMs,
          signal,
          what,
          ...(cwd ? { cwd } : {}),
        });
      } catch (e) {
        throw toolErrorToAppError(e, `unable to get the chart from ${remote}`);
      }
    };

    const key = createHash("sha256").update(remote).digest("hex").slice(0, 24);
    const mirrors = join(this.cacheDir, "git");
    const mirror = join(mirrors, `${key}.git`);
    const work = await mkdtemp(join(tmpdir(), "helm-remote-chart-"));
    try {
      const clone = join(work, "repo");
      await this.withGitLock(key, async () => {
        if (await exists(mirror)) {
          await git(["fetch", "--prune", "--quiet"], "git fetch", mirror);
        } else {
          await mkdir(mirrors, { recursive: true });
          // Cloned aside and renamed, so an interrupted clone never looks like a mirror.
          const partial = await mkdtemp(join(mirrors, `${key}.partial-`));
          try {
            await git(["clone", "--mirror", "--quiet", "--", remote, partial], "git clone");
            await rename(partial, mirror);
          } finally {
            await rm(partial, { recursive: true, force: true });
          }
        }
        await git(["clone", "--quiet", "--", mirror, clone], "git clone");
      });
      if (chart.ref) await git(["checkout", "--quiet", chart.ref, "--"], "git checkout", clone);
      return clone;
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }

  private async withGitLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.gitLocks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.gitLocks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.gitLocks.get(key) === next) this.gitLocks.delete(key);
    }
  }
}

/**
 * A `valueFiles` entry (features §1.8, stricter): an http(s) URL is left to helm; another scheme
 * is refused; a path must resolve, through every symlink, to inside the repository.
 */
async function verifyValueFile(repoDir: string, appDir: string, file: string): Promise<void> {
  const scheme = URL_SCHEME.exec(file)?.[1];
  if (scheme !== undefined) {
    const s = scheme.toLowerCase();
    if (s === "http" || s === "https") return;
    throw new InvalidArgumentError(`scheme ${scheme} is not allowed to load values file`);
  }
  // helm reads `-f a,b` as two files (a string slice flag): each one would need checking.
  if (file.includes(",")) {
    throw new InvalidArgumentError(`values file ${file} contains ',': list each file separately`);
  }
  await insideDir(repoDir, appDir, file, "values file");
}

/** A `setFiles` entry: helm splits `k=v,k2=v2`, so neither part may smuggle in another file. */
async function verifySetFile(
  repoDir: string,
  appDir: string,
  key: string,
  file: string,
): Promise<void> {
  if (/[=,]/.test(key) || file.includes(",")) {
    throw new InvalidArgumentError(
      `setFiles ${key}=${file} may not contain ',' (nor '=' in the key)`,
    );
  }
  await insideDir(repoDir, appDir, file, "setFiles file");
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
