import { relative } from "node:path";
import type { KubernetesDeploymentInput } from "@pipecd-ts/config";
import { checkoutRoot } from "@pipecd-ts/plugin-sdk";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { hasKustomization } from "./kustomize.js";
import type { Manifest } from "./manifest.js";
import { parseManifests } from "./parse.js";
import { PlainRenderer } from "./plain.js";
import type { RenderMethod, Renderer } from "./render.js";

/** An application at one commit, checked out: what {@link ManifestSource.render} renders. */
export interface AppCheckout {
  /** Application id (the cache key) and registered name (helm's default release name). */
  readonly id: string;
  readonly name: string;
  /** Absolute application directory in a checkout of `commit`. */
  readonly dir: string;
  readonly input: KubernetesDeploymentInput;
}

/** Options of {@link ManifestSource}. */
export interface ManifestSourceOptions {
  /** Renders `helmChart` apps; without it such apps fail with a clear message. */
  readonly helm?: Renderer;
  /** Renders kustomize apps; without it such apps fail with a clear message. */
  readonly kustomize?: Renderer;
  /** Rendered commits kept (PipeCD `--app-manifest-cache-count`, default 150). */
  readonly cacheSize?: number;
  /** Called after every render actually run (not for cache hits), for the operator log. */
  readonly onRender?: (e: RenderEvent) => void;
}

/** One render that ran. */
export interface RenderEvent {
  readonly appId: string;
  readonly commit: string;
  readonly method: RenderMethod;
  readonly ms: number;
  /** Manifests rendered; undefined when the render failed. */
  readonly manifests: number | undefined;
  readonly error?: string;
}

interface Entry {
  readonly manifests: readonly Manifest[];
  readonly notes: readonly string[];
}

/**
 * PipeCD §1.1 method selection: `helmChart` set → helm; a kustomization file in the app
 * directory → kustomize; else plain YAML.
 */
export async function renderMethodOf(
  app: Pick<AppCheckout, "dir" | "input">,
): Promise<RenderMethod> {
  if (app.input.helmChart) return "helm";
  if (await hasKustomization(app.dir)) return "kustomize";
  return "plain";
}

/**
 * Where every stage, the planner and rollback get an app's manifests: renders an application
 * at a commit with the method PipeCD would pick, parses the output (features §10.2: namespace
 * override, `pipecd.dev/order`), and keeps the result per (application, commit, app path) in an
 * LRU cache shared by the piped — one deployment renders each commit once. Every caller gets
 * deep copies. Failures are not cached.
 */
export class ManifestSource {
  private readonly plain = new PlainRenderer();
  private readonly cache = new Map<string, Entry>();
  private readonly cacheSize: number;

  constructor(private readonly o: ManifestSourceOptions = {}) {
    this.cacheSize = o.cacheSize ?? 150;
  }

  /**
   * The manifests of `app` at `commit`. Throws InvalidArgumentError with the renderer's message
   * (helm's or kustomize's own) when they cannot be rendered. `note` gets the renderer's notes
   * for the user (also when the result comes from the cache).
   */
  async render(
    app: AppCheckout,
    commit: string,
    signal: AbortSignal,
    note: (line: string) => void = () => undefined,
  ): Promise<Manifest[]> {
    const repoDir = checkoutRoot(app.dir);
    const key = `${app.id}/${commit}/${relative(repoDir, app.dir)}`;
    let entry = commit ? this.cache.get(key) : undefined;
    if (entry) {
      this.cache.delete(key);
      this.cache.set(key, entry);
    } else {
      const method = await renderMethodOf(app);
      const renderer = method === "plain" ? this.plain : this.o[method];
      if (!renderer)
        throw new InvalidArgumentError(
          `this piped cannot render ${method} applications (no ${method} tool is configured)`,
        );
      const notes: string[] = [];
      const t0 = performance.now();
      const event = (manifests: number | undefined, error?: string): void =>
        this.o.onRender?.({
          appId: app.id,
          commit,
          method,
          ms: Math.round(performance.now() - t0),
          manifests,
          ...(error === undefined ? {} : { error }),
        });
      try {
        const texts = await renderer.render({
          appId: app.id,
          appName: app.name,
          appDir: app.dir,
          repoDir,
          input: app.input,
          signal,
          note: (line) => notes.push(line),
        });
        entry = { manifests: parseManifests(texts, app.input.namespace), notes };
      } catch (err) {
        event(undefined, err instanceof Error ? err.message : String(err));
        throw err;
      }
      event(entry.manifests.length);
      if (commit) {
        this.cache.set(key, entry);
        while (this.cache.size > this.cacheSize) {
          const oldest = this.cache.keys().next().value;
          if (oldest === undefined) break;
          this.cache.delete(oldest);
        }
      }
    }
    for (const n of entry.notes) note(n);
    return entry.manifests.map((m) => ({ key: m.key, obj: structuredClone(m.obj) }));
  }
}
