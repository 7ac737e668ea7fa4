import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { dirname } from "node:path";
import { stringify as toYaml } from "yaml";
import { createApiHandler } from "./api.js";
import { generateServingCerts } from "./certs.js";
import { WorkloadController } from "./controllers/workloads.js";
import { establishedStatus, registerCrd } from "./crd.js";
import { Faults } from "./faults.js";
import { meta, type Obj } from "./object.js";
import { Objects } from "./objects.js";
import { Auth, type AuthorizationMode } from "./rbac.js";
import { Registry } from "./registry.js";
import { Store } from "./store.js";

/** Options of {@link startKubeSim}. */
export interface KubeSimOptions {
  /** Port to listen on; 0 picks a free one. Default 6443. */
  port?: number;
  host?: string;
  /** Where to write the kubeconfig. */
  kubeconfigPath: string;
  /** How long new pods take to become Ready (ms). Default 500. */
  readyDelayMs?: number;
  /** Serve plain HTTP (kubeconfig then says insecure-skip-tls-verify). */
  plainHttp?: boolean;
  /** Bearer token clients must send; generated when absent. */
  token?: string;
  /** Interval of watch bookmarks / keep-alives. Default 10 s. */
  bookmarkIntervalMs?: number;
  /** Events kept for watches resuming from a resourceVersion (older ones get 410). Default 10,000. */
  watchHistory?: number;
  /** Persist objects here (JSON) and load them at start. */
  stateFile?: string;
  /**
   * `RBAC` authorizes ServiceAccount tokens (minted with the TokenRequest API) by the stored
   * Roles/ClusterRoles and bindings; the admin token always bypasses. Default `AlwaysAllow`.
   */
  authorizationMode?: AuthorizationMode;
}

/** A running kube-sim. */
export interface KubeSim {
  readonly url: string;
  readonly kubeconfigPath: string;
  readonly token: string;
  readonly caCert: string | undefined;
  readonly store: Store;
  readonly registry: Registry;
  readonly objects: Objects;
  readonly faults: Faults;
  /** Token authentication and the authorization mode (switchable at run time). */
  readonly auth: Auth;
  /** Stops the server, ends watches and timers (and saves state if configured). */
  close(): Promise<void>;
}

const DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** Starts a Kubernetes API server emulator and writes a kubeconfig for it. */
export async function startKubeSim(opts: KubeSimOptions): Promise<KubeSim> {
  const store = new Store(opts.watchHistory);
  const registry = new Registry();
  const objects = new Objects(store, registry);
  const faults = new Faults();
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const host = opts.host ?? "127.0.0.1";
  let address = `${host}:${opts.port ?? 6443}`;
  const watches = new Set<() => void>();

  if (opts.stateFile) {
    const state = await readFile(opts.stateFile, "utf8").catch(() => undefined);
    if (state) {
      store.load(JSON.parse(state) as { rv: number; objects: [string, Obj][] });
      const crdType = registry.get("apiextensions.k8s.io", "customresourcedefinitions");
      if (crdType) for (const crd of store.list(crdType)) registerCrd(registry, crd);
    }
  }
  const nsType = registry.get("", "namespaces");
  if (nsType)
    for (const name of DEFAULT_NAMESPACES)
      if (!store.get(nsType, "", name))
        objects.create(
          nsType,
          "",
          { metadata: { name } },
          { manager: "kube-apiserver", version: "v1" },
        );

  // The ServiceAccount controller: every namespace has a "default" ServiceAccount (made again
  // if deleted), so `kubectl create token default` works as on a cluster.
  const saType = registry.get("", "serviceaccounts");
  const ensureDefaultSa = (ns: string): void => {
    const live = nsType ? store.get(nsType, "", ns) : undefined;
    if (!saType || !live || meta(live).deletionTimestamp || store.get(saType, ns, "default"))
      return;
    objects.create(
      saType,
      ns,
      { metadata: { name: "default" } },
      {
        manager: "kube-controller-manager",
        version: "v1",
      },
    );
  };
  for (const name of DEFAULT_NAMESPACES) ensureDefaultSa(name);
  const unsubscribeSa = store.subscribe((e) => {
    if (e.group !== "") return;
    if (e.resource === "namespaces" && e.type === "ADDED")
      setImmediate(() => ensureDefaultSa(e.name));
    if (e.resource === "serviceaccounts" && e.type === "DELETED" && e.name === "default")
      setImmediate(() => ensureDefaultSa(e.namespace));
  });

  // CRD establishment: the type is served as soon as the CRD is stored; the status follows.
  const crdType = registry.get("apiextensions.k8s.io", "customresourcedefinitions");
  const unsubscribeCrd = store.subscribe((e) => {
    if (
      e.group !== "apiextensions.k8s.io" ||
      e.resource !== "customresourcedefinitions" ||
      e.type === "DELETED"
    )
      return;
    registerCrd(registry, e.object);
    const conds = ((e.object.status as Obj | undefined)?.conditions ?? []) as Obj[];
    if (!conds.some((c) => c.type === "Established" && c.status === "True") && crdType)
      setImmediate(() => {
        const cur = store.get(crdType, "", e.name);
        if (!cur) return;
        cur.status = establishedStatus(cur);
        objects.writeStatus(crdType, cur);
      });
  });

  const workloads = new WorkloadController({
    store,
    registry,
    objects,
    readyDelayMs: opts.readyDelayMs ?? 500,
  });
  workloads.start();

  const auth = new Auth(store, registry, token, opts.authorizationMode);
  const handler = createApiHandler({
    store,
    registry,
    objects,
    faults,
    auth,
    serverAddress: () => address,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
    watches,
  });
  let caCert: string | undefined;
  let server: Server;
  if (opts.plainHttp) server = createHttpServer(handler);
  else {
    const certs = await generateServingCerts();
    caCert = certs.caCert;
    server = createHttpsServer({ cert: certs.cert, key: certs.key }, handler);
  }
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 6443, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  address = `${host}:${port}`;
  const url = `${opts.plainHttp ? "http" : "https"}://${host}:${port}`;
  await writeKubeconfig(opts.kubeconfigPath, url, token, caCert);

  let closed: Promise<void> | undefined;
  return {
    url,
    kubeconfigPath: opts.kubeconfigPath,
    token,
    caCert,
    store,
    registry,
    objects,
    faults,
    auth,
    close() {
      closed ??= (async () => {
        unsubscribeCrd();
        unsubscribeSa();
        workloads.stop();
        faults.dispose();
        for (const w of [...watches]) w();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        if (opts.stateFile) {
          await mkdir(dirname(opts.stateFile), { recursive: true });
          const tmp = `${opts.stateFile}.tmp`;
          await writeFile(tmp, JSON.stringify(store.dump()));
          await rename(tmp, opts.stateFile);
        }
      })();
      return closed;
    },
  };
}

/** Writes a kubeconfig with CA data, bearer token, current context and namespace default. */
async function writeKubeconfig(
  path: string,
  server: string,
  token: string,
  caCert: string | undefined,
): Promise<void> {
  const cluster: Record<string, unknown> = { server };
  if (caCert) cluster["certificate-authority-data"] = Buffer.from(caCert).toString("base64");
  else cluster["insecure-skip-tls-verify"] = true;
  const cfg = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kube-sim", cluster }],
    users: [{ name: "kube-sim-admin", user: { token } }],
    contexts: [
      {
        name: "kube-sim",
        context: { cluster: "kube-sim", user: "kube-sim-admin", namespace: "default" },
      },
    ],
    "current-context": "kube-sim",
    preferences: {},
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, toYaml(cfg), { mode: 0o600 });
}

/** The name of an object (for logs and tests). */
export function nameOf(o: Obj): string {
  return meta(o).name ?? "";
}
