import { Watch, type Configuration, type KubeConfig } from "@kubernetes/client-node";
import {
  AppError,
  InvalidArgumentError,
  retry,
  silentLogger,
  sleep,
  withDeadline,
  type Logger,
} from "@pipecd-ts/runtime";
import { Discovery, type ResourceInfo } from "./discovery.js";
import { classifyError, httpStatusOfError, type ClassifiedError } from "./errors.js";
import { loadKubeConfig, type KubeConfigOptions } from "./kubeconfig.js";
import { runInformer, type InformerHandler } from "./informer.js";
import { ObjectApi, type ObjectHeader } from "./object-api.js";
import { DEFAULT_NAMESPACE, RESOURCE_KEY_ANNOTATION } from "./resource-key.js";
import {
  waitForDeploymentRollout,
  type RolloutResult,
  type RolloutWaitOptions,
} from "./rollout-wait.js";
import type { KubeObject, ObjectRef } from "./types.js";

/** Retry policy of every API call (409 Conflict, 429, 500/502/503/504 and network errors only). */
export interface KubeRetryOptions {
  /** Total attempts including the first. Default 5. */
  maxAttempts?: number;
  /** First backoff (jittered, doubling). Default 100. */
  initialDelayMs?: number;
  /** Backoff cap. Default 5000. */
  maxDelayMs?: number;
  /** The longest Retry-After of a 429 that is honoured. Default 10000. */
  maxRetryAfterMs?: number;
}

/** Options of {@link createKubeClient}. */
export interface KubeClientOptions extends KubeConfigOptions {
  /** The server-side-apply field manager. Default "piped". */
  fieldManager?: string;
  /** Deadline of each attempt of each call. Default 30000. */
  requestTimeoutMs?: number;
  retry?: KubeRetryOptions;
  logger?: Logger;
}

/** Every call takes an optional signal; aborting it rejects the call with the signal's reason. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Options of {@link KubeClient.apply}. */
export interface ApplyOptions extends CallOptions {
  /** Take over fields owned by other field managers. Default true (like `kubectl apply --server-side --force-conflicts`). */
  force?: boolean;
  /** Validate and default on the server without persisting (`dryRun=All`). */
  dryRun?: boolean;
}

/** Options of {@link KubeClient.list}. */
export interface ListOptions extends CallOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per request (`limit`); pages are joined. Default 500, like kubectl. */
  pageSize?: number;
}

/** Options of {@link KubeClient.deleteOwned}. */
export interface DeleteOwnedOptions extends CallOptions {
  propagationPolicy?: "Background" | "Foreground";
}

/** What {@link KubeClient.deleteOwned} did. */
export type DeleteOutcome = "deleted" | "not-found" | "not-owned";

/** Kind → plural/scope lookups, cached per group-version (see {@link Discovery}). */
export interface KubeDiscovery {
  resourceFor(apiVersion: string, kind: string, opts?: CallOptions): Promise<ResourceInfo>;
}

/** Items per page when listing (kubectl's `limit=500`). */
const PAGE_SIZE = 500;

/** Creates a {@link KubeClient} for the cluster named by `kubeConfigPath`/`masterURL` (else in-cluster). */
export function createKubeClient(opts: KubeClientOptions = {}): KubeClient {
  return new KubeClient(loadKubeConfig(opts), opts);
}

/**
 * The piped's Kubernetes API client over `@kubernetes/client-node` 1.4.0: server-side apply,
 * get, list, owner-checked delete and rollout waits. Every call has a per-attempt deadline and
 * bounded, jittered retries for transient failures only; failures surface as runtime AppErrors
 * that keep the API server's message.
 */
export class KubeClient {
  /** The field manager of {@link apply}. */
  readonly fieldManager: string;
  /** Kind → resource lookups (cached per group-version, refreshed once on a miss). */
  readonly discovery: KubeDiscovery;
  private readonly configuration: Configuration;
  private readonly cache = new Discovery();
  private readonly watcher: Watch;
  private readonly requestTimeoutMs: number;
  private readonly retryOpts: Required<KubeRetryOptions>;
  private readonly logger: Logger;

  /** Prefer {@link createKubeClient}; this takes an already loaded KubeConfig. */
  constructor(kc: KubeConfig, opts: Omit<KubeClientOptions, keyof KubeConfigOptions> = {}) {
    this.fieldManager = opts.fieldManager ?? "piped";
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.retryOpts = {
      maxAttempts: opts.retry?.maxAttempts ?? 5,
      initialDelayMs: opts.retry?.initialDelayMs ?? 100,
      maxDelayMs: opts.retry?.maxDelayMs ?? 5_000,
      maxRetryAfterMs: opts.retry?.maxRetryAfterMs ?? 10_000,
    };
    this.logger = (opts.logger ?? silentLogger()).child({ component: "kube" });
    // Exactly what kc.makeApiClient() builds: base server + the KubeConfig as auth (token, TLS).
    this.configuration = kc.makeApiClient(ConfigurationHolder).configuration;
    this.watcher = new Watch(kc);
    this.discovery = {
      resourceFor: (apiVersion, kind, o = {}) =>
        this.call(`discover ${kind} in ${apiVersion}`, o.signal, (api) =>
          this.cache.lookup(apiVersion, kind, (gv) => api.fetchResourceList(gv)),
        ),
    };
  }

  /**
   * Server-side applies `manifest` (PATCH `application/apply-patch+yaml` with this client's field
   * manager, `force` default true): creates it when missing, else updates the fields it owns.
   * Returns the object as stored. A namespaced manifest without a namespace goes to "default".
   */
  async apply(manifest: KubeObject, opts: ApplyOptions = {}): Promise<KubeObject> {
    if (!manifest?.apiVersion || !manifest.kind || !manifest.metadata?.name)
      throw new InvalidArgumentError(
        "apply: the manifest needs apiVersion, kind and metadata.name",
      );
    const { what, info } = await this.resolve("apply", refOf(manifest), opts.signal);
    const body: KubeObject =
      info.namespaced && !manifest.metadata.namespace
        ? { ...manifest, metadata: { ...manifest.metadata, namespace: DEFAULT_NAMESPACE } }
        : manifest;
    return this.call(what, opts.signal, (api) =>
      api.applyObject(body, {
        fieldManager: this.fieldManager,
        force: opts.force ?? true,
        dryRun: opts.dryRun ?? false,
      }),
    );
  }

  /** Reads one object; undefined when it does not exist. */
  async get(ref: ObjectRef, opts: CallOptions = {}): Promise<KubeObject | undefined> {
    const { what, header } = await this.resolve("get", ref, opts.signal);
    return this.call(what, opts.signal, async (api) => {
      try {
        return await api.readObject(header);
      } catch (err) {
        if (httpStatusOfError(err) === 404) return undefined;
        throw err;
      }
    });
  }

  /**
   * Lists objects of a kind (in `namespace`, or in all namespaces when it is omitted), following
   * `continue` tokens. Items carry apiVersion and kind even where the server omits them.
   */
  async list(
    apiVersion: string,
    kind: string,
    namespace?: string,
    opts: ListOptions = {},
  ): Promise<KubeObject[]> {
    return (await this.listWithVersion(apiVersion, kind, namespace, opts)).items;
  }

  /** {@link list}, with the resourceVersion of the list (where a watch of it starts). */
  async listWithVersion(
    apiVersion: string,
    kind: string,
    namespace?: string,
    opts: ListOptions = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const what = `list ${kind}${namespace ? ` in ${namespace}` : ""}`;
    await this.call(what, opts.signal, (api) =>
      this.cache.lookup(apiVersion, kind, (gv) => api.fetchResourceList(gv)),
    );
    const items: KubeObject[] = [];
    let token: string | undefined;
    let resourceVersion = "";
    do {
      const cont = token;
      const page = await this.call(what, opts.signal, (api) =>
        api.listPage(
          { apiVersion, kind, ...(namespace ? { namespace } : {}) },
          {
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: opts.pageSize ?? PAGE_SIZE,
            continue: cont,
          },
        ),
      );
      // Typed lists of built-in kinds omit apiVersion/kind on the items (reference §3.4).
      for (const item of page.items ?? []) items.push({ ...item, apiVersion, kind });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?.continue || undefined;
    } while (token);
    return { items, resourceVersion };
  }

  /**
   * Keeps `handler` up to date with every object of a kind (in `namespace`, or in all
   * namespaces): list, then watch with resume ({@link runInformer}). Runs until `signal` aborts;
   * rejects only when the kind is not served.
   */
  async inform(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    handler: InformerHandler,
    signal: AbortSignal,
  ): Promise<void> {
    const header: ObjectHeader = {
      apiVersion,
      kind,
      metadata: { name: "", ...(namespace ? { namespace } : {}) },
    };
    await runInformer(
      {
        list: (s) => this.listWithVersion(apiVersion, kind, namespace, { signal: s }),
        collectionPath: (s) =>
          this.call(`watch ${kind}`, s, async (api) => {
            await this.cache.lookup(apiVersion, kind, (gv) => api.fetchResourceList(gv));
            return api.pathOf(header, "list");
          }),
        watch: (path, query, onEvent, done) => this.watcher.watch(path, query, onEvent, done),
        logger: this.logger,
      },
      apiVersion,
      kind,
      handler,
      signal,
    );
  }

  /**
   * Deletes an object only if its `pipecd.dev/resource-key` annotation equals `resourceKey`
   * (PipeCD v0 `applier.Delete`, behaviour §4.2), with a uid precondition so that an object
   * re-created between the read and the delete is not removed unchecked (the conflict makes the
   * whole check run again). A missing object is "not-found".
   */
  async deleteOwned(
    ref: ObjectRef,
    resourceKey: string,
    opts: DeleteOwnedOptions = {},
  ): Promise<DeleteOutcome> {
    const { what, header } = await this.resolve("delete", ref, opts.signal);
    return this.call(what, opts.signal, async (api): Promise<DeleteOutcome> => {
      let live: KubeObject;
      try {
        live = await api.readObject(header);
      } catch (err) {
        if (httpStatusOfError(err) === 404) return "not-found";
        throw err;
      }
      const owner = live.metadata.annotations?.[RESOURCE_KEY_ANNOTATION];
      if (owner !== resourceKey) {
        this.logger.info(
          { object: what, expected: resourceKey, found: owner ?? null },
          "kube: not deleting an object this application does not own",
        );
        return "not-owned";
      }
      try {
        await api.deleteObject(header, {
          propagationPolicy: opts.propagationPolicy ?? "Background",
          preconditions: { uid: live.metadata.uid },
        });
      } catch (err) {
        if (httpStatusOfError(err) === 404) return "not-found";
        throw err;
      }
      return "deleted";
    });
  }

  /**
   * Waits until an apps/v1 Deployment has rolled out, as `kubectl rollout status` decides it
   * (observedGeneration, ProgressDeadlineExceeded, updated/old/available replicas), driven by a
   * watch with a GET on every (re)connect. Reports each new kubectl status line to `onProgress`.
   */
  async waitForRollout(ref: ObjectRef, opts: RolloutWaitOptions): Promise<RolloutResult> {
    if (ref.kind !== "Deployment" || ref.apiVersion !== "apps/v1")
      throw new InvalidArgumentError(
        `waitForRollout supports apps/v1 Deployment, not ${ref.apiVersion} ${ref.kind}`,
      );
    if (!(opts.timeoutMs > 0))
      throw new InvalidArgumentError("waitForRollout: timeoutMs must be > 0");
    return waitForDeploymentRollout(
      {
        get: (r, o) => this.get(r, o),
        collectionPath: async (r, signal) => {
          const { header } = await this.resolve("watch", r, signal);
          return this.call(`watch ${r.kind} ${r.namespace}/${r.name}`, signal, (api) =>
            api.pathOf(header, "list"),
          );
        },
        watch: (path, query, onEvent, done) => this.watcher.watch(path, query, onEvent, done),
        logger: this.logger,
      },
      ref,
      opts,
    );
  }

  /** Resolves the kind (discovery) and names the call for messages: `apply Kind ns/name`. */
  private async resolve(
    op: string,
    ref: ObjectRef,
    signal: AbortSignal | undefined,
  ): Promise<{ what: string; info: ResourceInfo; header: ObjectHeader }> {
    const info = await this.call(`${op} ${ref.kind} ${ref.name}`, signal, (api) =>
      this.cache.lookup(ref.apiVersion, ref.kind, (gv) => api.fetchResourceList(gv)),
    );
    const namespace = info.namespaced ? ref.namespace || DEFAULT_NAMESPACE : undefined;
    const what = `${op} ${ref.kind} ${namespace ? `${namespace}/` : ""}${ref.name}`;
    const header: ObjectHeader = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: namespace ? { name: ref.name, namespace } : { name: ref.name },
    };
    return { what, info, header };
  }

  /**
   * Runs one API call: each attempt under `requestTimeoutMs` (DeadlineExceeded, not retried),
   * retrying only what {@link classifyError} marks retryable, honouring a 429's Retry-After.
   */
  private async call<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (api: ObjectApi) => Promise<T>,
  ): Promise<T> {
    const seen = new WeakMap<AppError, ClassifiedError>();
    let extraWaitMs = 0;
    return retry(
      async () => {
        if (extraWaitMs > 0) {
          const ms = extraWaitMs;
          extraWaitMs = 0;
          await sleep(ms, signal);
        }
        try {
          return await withDeadline(
            what,
            this.requestTimeoutMs,
            (s) => fn(new ObjectApi(this.configuration, this.cache, s)),
            signal,
          );
        } catch (err) {
          if (signal?.aborted) throw signal.reason as Error;
          const c = classifyError(what, err);
          seen.set(c.error, c);
          throw c.error;
        }
      },
      {
        maxAttempts: this.retryOpts.maxAttempts,
        initialDelayMs: this.retryOpts.initialDelayMs,
        maxDelayMs: this.retryOpts.maxDelayMs,
        signal,
        isRetryable: (err) => err instanceof AppError && seen.get(err)?.retryable === true,
        onRetry: (err, attempt, delayMs) => {
          const c = err instanceof AppError ? seen.get(err) : undefined;
          const retryAfter = Math.min(c?.retryAfterMs ?? 0, this.retryOpts.maxRetryAfterMs);
          extraWaitMs = Math.max(0, retryAfter - delayMs);
          this.logger.warn(
            { attempt, retryInMs: delayMs + extraWaitMs, err: (err as Error).message },
            "kube: retrying",
          );
        },
      },
    );
  }
}

/** Lets `kc.makeApiClient` build the Configuration (server + auth) that ObjectApi instances share. */
class ConfigurationHolder {
  constructor(readonly configuration: Configuration) {}
}

function refOf(o: KubeObject): ObjectRef {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  };
}
