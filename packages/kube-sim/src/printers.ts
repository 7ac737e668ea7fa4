import { getPath, isObj, meta, objects, text, type Obj } from "./object.js";
import { apiVersionOf, type ResourceType } from "./registry.js";
import { StatusError, badRequest } from "./status.js";

// Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as the API
// server renders what `kubectl get` prints: the printers of pkg/printers/internalversion for
// the built-in kinds, the CRD's additionalPrinterColumns for custom resources, and the default
// convertor (Name, Created At) for the rest. The server always renders the wide table;
// kubectl hides priority > 0 columns unless `-o wide`.

/** One column of a Table. */
export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

interface Printer {
  columns: TableColumn[];
  cells(o: Obj, now: number): unknown[];
  conditions?(o: Obj): Obj[] | undefined;
}

const col = (
  name: string,
  type = "string",
  priority = 0,
  description = "",
  format = "",
): TableColumn => ({
  name,
  type,
  format,
  description,
  priority,
});
const NAME = col(
  "Name",
  "string",
  0,
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
  "name",
);
const AGE = col("Age");
/** The wide Containers and Images columns of workloads with a pod template. */
const TEMPLATE_COLUMNS = [
  col("Containers", "string", 1, "Names of each container in the template."),
  col("Images", "string", 1, "Images referenced by each container in the template."),
];

/** The `v` of an `as=Table` entry of Accept, or undefined when the client did not ask for one. */
export function negotiateTable(accept: string | undefined): "v1" | "v1beta1" | undefined {
  for (const entry of (accept ?? "").split(",")) {
    const [type, ...params] = entry.split(";").map((x) => x.trim());
    const p = Object.fromEntries(params.map((x) => x.split("=") as [string, string]));
    if (type !== "application/json" || p.as !== "Table") continue;
    if (p.g !== "meta.k8s.io") continue;
    if (p.v === "v1" || p.v === "v1beta1") return p.v;
    throw new StatusError(
      406,
      "NotAcceptable",
      `no Table exists in group version meta.k8s.io/${p.v ?? ""}`,
    );
  }
  return undefined;
}

// --- helpers shared by the printers ---------------------------------------------------------

const get = (o: unknown, ...path: string[]): unknown => getPath(o, path);
const str = text;
const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const list = objects;
const strMap = (v: unknown): Record<string, string> =>
  isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(x)])) : {};

/** apimachinery's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** translateTimestampSince: "<unknown>" for a zero time. */
function since(ts: unknown, now: number): string {
  const t = typeof ts === "string" ? Date.parse(ts) : NaN;
  return Number.isFinite(t) ? humanDuration(now - t) : "<unknown>";
}

const age = (o: Obj, now: number): string => since(meta(o).creationTimestamp, now);

/** labels.FormatLabels: sorted k=v, or "<none>". */
function formatLabels(m: Record<string, string>): string {
  const keys = Object.keys(m).sort();
  return keys.length ? keys.map((k) => `${k}=${m[k]}`).join(",") : "<none>";
}

/** A LabelSelector as apimachinery prints it (requirements sorted by key). */
function selectorString(sel: unknown): string {
  if (!isObj(sel)) return "";
  const reqs: [string, string][] = Object.entries(strMap(sel.matchLabels)).map(([k, v]) => [
    k,
    `${k}=${v}`,
  ]);
  for (const e of list(sel.matchExpressions)) {
    const key = str(e.key);
    const values = (Array.isArray(e.values) ? e.values.map(str) : []).sort().join(",");
    const op = str(e.operator);
    reqs.push([
      key,
      op === "In"
        ? `${key} in (${values})`
        : op === "NotIn"
          ? `${key} notin (${values})`
          : op === "Exists"
            ? key
            : `!${key}`,
    ]);
  }
  return reqs
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((r) => r[1])
    .join(",");
}

function containerCells(o: Obj): [string, string] {
  const cs = list(get(o, "spec", "template", "spec", "containers"));
  return [cs.map((c) => str(c.name)).join(","), cs.map((c) => str(c.image)).join(",")];
}

// --- the printers ----------------------------------------------------------------------------

function podCells(o: Obj, now: number): unknown[] {
  const spec = isObj(o.spec) ? o.spec : {};
  const status = isObj(o.status) ? o.status : {};
  const phase = str(status.phase);
  let reason = str(status.reason) || phase;
  for (const c of list(status.conditions))
    if (c.type === "PodScheduled" && c.reason === "SchedulingGated") reason = "SchedulingGated";
  const inits = list(spec.initContainers);
  const restartable = (name: unknown): boolean =>
    inits.some((c) => c.name === name && c.restartPolicy === "Always");
  const total =
    list(spec.containers).length + inits.filter((c) => c.restartPolicy === "Always").length;
  let restarts = 0;
  let sidecarRestarts = 0;
  let ready = 0;
  let lastRestart = 0;
  let lastSidecarRestart = 0;
  const finished = (c: Obj): number => {
    const t = Date.parse(str(get(c, "lastState", "terminated", "finishedAt")));
    return Number.isFinite(t) ? t : 0;
  };
  let initializing = false;
  const initStatuses = list(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!;
    restarts += num(c.restartCount);
    lastRestart = Math.max(lastRestart, finished(c));
    if (restartable(c.name)) {
      sidecarRestarts += num(c.restartCount);
      lastSidecarRestart = Math.max(lastSidecarRestart, finished(c));
    }
    const term = get(c, "state", "terminated");
    const waiting = str(get(c, "state", "waiting", "reason"));
    if (isObj(term) && num(term.exitCode) === 0) continue;
    if (restartable(c.name) && c.started === true) {
      if (c.ready === true) ready++;
      continue;
    }
    if (isObj(term)) {
      reason = term.reason
        ? `Init:${str(term.reason)}`
        : num(term.signal)
          ? `Init:Signal:${num(term.signal)}`
          : `Init:ExitCode:${num(term.exitCode)}`;
    } else if (waiting && waiting !== "PodInitializing") reason = `Init:${waiting}`;
    else reason = `Init:${i}/${inits.length}`;
    initializing = true;
    break;
  }
  const initialized = list(status.conditions).some(
    (c) => c.type === "Initialized" && c.status === "True",
  );
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = list(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += num(c.restartCount);
      lastRestart = Math.max(lastRestart, finished(c));
      const waiting = str(get(c, "state", "waiting", "reason"));
      const term = get(c, "state", "terminated");
      if (waiting) reason = waiting;
      else if (isObj(term) && term.reason) reason = str(term.reason);
      else if (isObj(term))
        reason = num(term.signal) ? `Signal:${num(term.signal)}` : `ExitCode:${num(term.exitCode)}`;
      else if (c.ready === true && isObj(get(c, "state", "running"))) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === "Completed" && hasRunning)
      reason = list(status.conditions).some((c) => c.type === "Ready" && c.status === "True")
        ? "Running"
        : "NotReady";
  }
  if (meta(o).deletionTimestamp && status.reason === "NodeLost") reason = "Unknown";
  else if (meta(o).deletionTimestamp && phase !== "Succeeded" && phase !== "Failed")
    reason = "Terminating";
  const restartsCell =
    restarts !== 0 && lastRestart
      ? `${restarts} (${humanDuration(now - lastRestart)} ago)`
      : String(restarts);
  const ips = list(status.podIPs);
  const podIP = str(ips[0]?.ip) || str(status.podIP) || "<none>";
  const gates = list(spec.readinessGates);
  let readinessGates = "<none>";
  if (gates.length) {
    const conds = list(status.conditions);
    const trueN = gates.filter(
      (g) => conds.find((c) => c.type === g.conditionType)?.status === "True",
    ).length;
    readinessGates = `${trueN}/${gates.length}`;
  }
  return [
    meta(o).name ?? "",
    `${ready}/${total}`,
    reason,
    restartsCell,
    age(o, now),
    podIP,
    str(spec.nodeName) || "<none>",
    str(status.nominatedNodeName) || "<none>",
    readinessGates,
  ];
}

function serviceExternalIP(o: Obj): string {
  const spec = isObj(o.spec) ? o.spec : {};
  const external = Array.isArray(spec.externalIPs) ? spec.externalIPs.map(str) : [];
  switch (str(spec.type) || "ClusterIP") {
    case "ClusterIP":
    case "NodePort":
      return external.length ? external.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = [
        ...new Set(
          list(get(o, "status", "loadBalancer", "ingress"))
            .map((i) => str(i.ip) || str(i.hostname))
            .filter(Boolean),
        ),
      ].sort();
      if (external.length) return [...lb, ...external].join(",");
      return lb.length ? lb.join(",") : "<pending>";
    }
    case "ExternalName":
      return str(spec.externalName);
    default:
      return "<unknown>";
  }
}

const PRINTERS: Record<string, Printer> = {
  "/pods": {
    columns: [
      NAME,
      col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
      col("Status", "string", 0, "The aggregate status of the containers in this pod."),
      col(
        "Restarts",
        "string",
        0,
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
      ),
      AGE,
      col(
        "IP",
        "string",
        1,
        "IP address allocated to the pod. Routable at least within the cluster.",
      ),
      col("Node", "string", 1, "NodeName indicates in which node this pod is scheduled."),
      col(
        "Nominated Node",
        "string",
        1,
        "nominatedNodeName is set only when this pod preempts other pods on the node.",
      ),
      col(
        "Readiness Gates",
        "string",
        1,
        "If specified, all readiness gates will be evaluated for pod readiness.",
      ),
    ],
    cells: podCells,
    conditions: (o) => {
      const phase = str(get(o, "status", "phase"));
      if (phase === "Succeeded")
        return [
          {
            type: "Completed",
            status: "True",
            reason: "Succeeded",
            message: "The pod has completed successfully.",
          },
        ];
      if (phase === "Failed")
        return [
          { type: "Completed", status: "True", reason: "Failed", message: "The pod failed." },
        ];
      return undefined;
    },
  },
  "apps/deployments": {
    columns: [
      NAME,
      col("Ready", "string", 0, "Number of the pod with ready state"),
      col(
        "Up-to-date",
        "string",
        0,
        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
      ),
      col(
        "Available",
        "string",
        0,
        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
      ),
      AGE,
      ...TEMPLATE_COLUMNS,
      col(
        "Selector",
        "string",
        1,
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
      ),
    ],
    cells: (o, now) => [
      meta(o).name ?? "",
      `${num(get(o, "status", "readyReplicas"))}/${num(get(o, "spec", "replicas"))}`,
      num(get(o, "status", "updatedReplicas")),
      num(get(o, "status", "availableReplicas")),
      age(o, now),
      ...containerCells(o),
      selectorString(get(o, "spec", "selector")),
    ],
  },
  "apps/replicasets": {
    columns: [
      NAME,
      col("Desired", "integer", 0, "Replicas is the number of desired pods."),
      col(
        "Current",
        "integer",
        0,
        "Replicas is the most recently observed number of non-terminating pods.",
      ),
      col(
        "Ready",
        "integer",
        0,
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
      ),
      AGE,
      ...TEMPLATE_COLUMNS,
      col(
        "Selector",
        "string",
        1,
        "Selector is a label query over pods that should match the replica count.",
      ),
    ],
    cells: (o, now) => [
      meta(o).name ?? "",
      num(get(o, "spec", "replicas")),
      num(get(o, "status", "replicas")),
      num(get(o, "status", "readyReplicas")),
      age(o, now),
      ...containerCells(o),
      selectorString(get(o, "spec", "selector")) || "<none>",
    ],
  },
  "/services": {
    columns: [
      NAME,
      col("Type", "string", 0, "type determines how the Service is exposed."),
      col(
        "Cluster-IP",
        "string",
        0,
        "clusterIP is the IP address of the service and is usually assigned randomly.",
      ),
      col(
        "External-IP",
        "string",
        0,
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
      ),
      col("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
      AGE,
      col(
        "Selector",
        "string",
        1,
        "Route service traffic to pods with label keys and values matching this selector.",
      ),
    ],
    cells: (o, now) => {
      const spec = isObj(o.spec) ? o.spec : {};
      const ips = Array.isArray(spec.clusterIPs) ? spec.clusterIPs.map(str) : [];
      const clusterIP = ips[0] ?? (str(spec.clusterIP) || "<none>");
      const ports = list(spec.ports)
        .map((p) => {
          const proto = str(p.protocol) || "TCP";
          return num(p.nodePort) > 0
            ? `${num(p.port)}:${num(p.nodePort)}/${proto}`
            : `${num(p.port)}/${proto}`;
        })
        .join(",");
      return [
        meta(o).name ?? "",
        str(spec.type) || "ClusterIP",
        clusterIP,
        serviceExternalIP(o),
        ports || "<none>",
        age(o, now),
        formatLabels(strMap(spec.selector)),
      ];
    },
  },
  "/configmaps": {
    columns: [NAME, col("Data", "string", 0, "Data contains the configuration data."), AGE],
    cells: (o, now) => [
      meta(o).name ?? "",
      Object.keys(isObj(o.data) ? o.data : {}).length +
        Object.keys(isObj(o.binaryData) ? o.binaryData : {}).length,
      age(o, now),
    ],
  },
  "/secrets": {
    columns: [
      NAME,
      col("Type", "string", 0, "Used to facilitate programmatic handling of secret data."),
      col("Data", "string", 0, "Data contains the secret data."),
      AGE,
    ],
    cells: (o, now) => [
      meta(o).name ?? "",
      str(o.type) || "Opaque",
      Object.keys(isObj(o.data) ? o.data : {}).length,
      age(o, now),
    ],
  },
  "/namespaces": {
    columns: [NAME, col("Status", "string", 0, "The status of the namespace"), AGE],
    cells: (o, now) => [meta(o).name ?? "", str(get(o, "status", "phase")), age(o, now)],
  },
  "/serviceaccounts": {
    columns: [
      NAME,
      col(
        "Secrets",
        "string",
        0,
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
      ),
      AGE,
    ],
    cells: (o, now) => [meta(o).name ?? "", list(o.secrets).length, age(o, now)],
  },
  "/events": {
    columns: [
      col(
        "Last Seen",
        "string",
        0,
        "The time at which the most recent occurrence of this event was recorded.",
      ),
      col(
        "Type",
        "string",
        0,
        "Type of this event (Normal, Warning), new types could be added in the future",
      ),
      col(
        "Reason",
        "string",
        0,
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
      ),
      col("Object", "string", 0, "The object that this event is about."),
      col("Subobject", "string", 1, "The field of the object this event is about."),
      col(
        "Source",
        "string",
        1,
        "The component reporting this event. Should be a short machine understandable string.",
      ),
      col("Message", "string", 0, "A human-readable description of the status of this operation."),
      col(
        "First Seen",
        "string",
        1,
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
      ),
      col("Count", "string", 1, "The number of times this event has occurred."),
      { ...NAME, priority: 1 },
    ],
    cells: (o, now) => {
      let first = since(o.firstTimestamp, now);
      if (!o.firstTimestamp) first = since(o.eventTime, now);
      let last = o.lastTimestamp ? since(o.lastTimestamp, now) : first;
      let count = num(o.count);
      const series = isObj(o.series) ? o.series : undefined;
      if (series) {
        last = since(series.lastObservedTime, now);
        count = num(series.count);
      } else if (count === 0) count = 1;
      const kind = str(get(o, "involvedObject", "kind")).toLowerCase();
      const name = str(get(o, "involvedObject", "name"));
      const comp = str(get(o, "source", "component")) || str(o.reportingComponent);
      const inst = str(get(o, "source", "host")) || str(o.reportingInstance);
      return [
        last,
        str(o.type),
        str(o.reason),
        name ? `${kind}/${name}` : kind,
        str(get(o, "involvedObject", "fieldPath")),
        inst ? `${comp}, ${inst}` : comp,
        str(o.message).trim(),
        first,
        count,
        meta(o).name ?? "",
      ];
    },
  },
  "networking.k8s.io/ingresses": {
    columns: [
      NAME,
      col(
        "Class",
        "string",
        0,
        "The name of the IngressClass resource that should be used for ingress.",
      ),
      col(
        "Hosts",
        "string",
        0,
        "Hosts that incoming requests are matched against before the ingress rule",
      ),
      col(
        "Address",
        "string",
        0,
        "Address is a list containing ingress points for the load-balancer",
      ),
      col("Ports", "string", 0, "Ports of TLS configurations that open"),
      AGE,
    ],
    cells: (o, now) => {
      // formatHosts: at most three hosts, then "+ N more..."; "*" when no rule names one.
      const rules = list(get(o, "spec", "rules"));
      const hosts: string[] = [];
      let more = false;
      for (const r of rules) {
        if (hosts.length === 3) more = true;
        if (!more && str(r.host)) hosts.push(str(r.host));
      }
      const hostCell = hosts.length
        ? more
          ? `${hosts.join(",")} + ${rules.length - 3} more...`
          : hosts.join(",")
        : "*";
      const address = [
        ...new Set(
          list(get(o, "status", "loadBalancer", "ingress"))
            .map((i) => str(i.ip) || str(i.hostname))
            .filter(Boolean),
        ),
      ].sort();
      return [
        meta(o).name ?? "",
        str(get(o, "spec", "ingressClassName")) || "<none>",
        hostCell,
        address.join(","),
        list(get(o, "spec", "tls")).length ? "80, 443" : "80",
        age(o, now),
      ];
    },
  },
  "/persistentvolumeclaims": {
    columns: [
      NAME,
      col("Status", "string", 0, "The phase of the claim."),
      col(
        "Volume",
        "string",
        0,
        "The binding reference to the PersistentVolume backing this claim.",
      ),
      col("Capacity", "string", 0, "The actual resources of the underlying volume."),
      col("Access Modes", "string", 0, "The actual access modes the volume backing the PVC has."),
      col("StorageClass", "string", 0, "Name of the StorageClass required by the claim."),
      col(
        "VolumeAttributesClass",
        "string",
        0,
        "Name of the VolumeAttributesClass used by the claim.",
      ),
      AGE,
      col("VolumeMode", "string", 1, "Defines what type of volume is required by the claim."),
    ],
    cells: (o, now) => {
      const modes = Array.isArray(get(o, "status", "accessModes"))
        ? (get(o, "status", "accessModes") as unknown[]).map(str)
        : [];
      const short: Record<string, string> = {
        ReadWriteOnce: "RWO",
        ReadOnlyMany: "ROX",
        ReadWriteMany: "RWX",
        ReadWriteOncePod: "RWOP",
      };
      return [
        meta(o).name ?? "",
        meta(o).deletionTimestamp ? "Terminating" : str(get(o, "status", "phase")),
        str(get(o, "spec", "volumeName")),
        str(get(o, "status", "capacity", "storage")),
        modes.map((m) => short[m] ?? m).join(","),
        str(get(o, "spec", "storageClassName")),
        str(get(o, "spec", "volumeAttributesClassName")) || "<unset>",
        age(o, now),
        str(get(o, "spec", "volumeMode")) || "<unset>",
      ];
    },
  },
  ...Object.fromEntries(
    ["rolebindings", "clusterrolebindings"].map((r) => [
      `rbac.authorization.k8s.io/${r}`,
      {
        columns: [
          NAME,
          col("Role", "string", 0, "Role references the Role or ClusterRole."),
          AGE,
          col("Users", "string", 1, "Users in the binding"),
          col("Groups", "string", 1, "Groups in the binding"),
          col("ServiceAccounts", "string", 1, "ServiceAccounts in the binding"),
        ],
        cells: (o: Obj, now: number) => {
          const subjects = list(o.subjects);
          const of = (kind: string) =>
            subjects
              .filter((s) => s.kind === kind)
              .map((s) =>
                kind === "ServiceAccount" ? `${str(s.namespace)}/${str(s.name)}` : str(s.name),
              )
              .join(", ");
          return [
            meta(o).name ?? "",
            `${str(get(o, "roleRef", "kind"))}/${str(get(o, "roleRef", "name"))}`,
            age(o, now),
            of("User"),
            of("Group"),
            of("ServiceAccount"),
          ];
        },
      } satisfies Printer,
    ]),
  ),
};

/** The default convertor: Name and an absolute Created At. */
const DEFAULT_PRINTER: Printer = {
  columns: [
    NAME,
    col(
      "Created At",
      "date",
      0,
      "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    ),
  ],
  cells: (o) => [meta(o).name ?? "", meta(o).creationTimestamp ?? "0001-01-01T00:00:00Z"],
};

// --- custom resources: additionalPrinterColumns over a small JSONPath ------------------------

/** Evaluates the JSONPath subset printer columns use: .a.b, [n], [*], ['k'], [?(@.x=="y")]. */
export function jsonPath(root: unknown, path: string): unknown[] {
  let cur: unknown[] = [root];
  const re =
    /\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\[\*\]|\['([^']*)'\]|\[\?\(@\.([\w.]+)\s*==\s*["']([^"']*)["']\)\]/y;
  let i = 0;
  const p = path.trim().replace(/^\{|\}$/g, "");
  while (i < p.length) {
    re.lastIndex = i;
    const m = re.exec(p);
    if (!m) return [];
    i = re.lastIndex;
    const next: unknown[] = [];
    for (const v of cur) {
      if (m[1] !== undefined || m[3] !== undefined) {
        const k = m[1] ?? m[3] ?? "";
        if (isObj(v) && Object.hasOwn(v, k)) next.push(v[k]);
      } else if (m[2] !== undefined) {
        if (Array.isArray(v) && Number(m[2]) < v.length) next.push(v[Number(m[2])]);
      } else if (m[0] === "[*]") {
        if (Array.isArray(v)) next.push(...(v as unknown[]));
        else if (isObj(v)) next.push(...Object.values(v));
      } else if (m[4] !== undefined && Array.isArray(v)) {
        const field = m[4].split(".");
        next.push(...(v as unknown[]).filter((x) => str(get(x, ...field)) === m[5]));
      }
    }
    cur = next;
  }
  return cur;
}

interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

function customPrinter(cols: PrinterColumn[]): Printer {
  const columns = cols.length
    ? cols
    : [
        {
          name: "Age",
          type: "date",
          jsonPath: ".metadata.creationTimestamp",
          description:
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        },
      ];
  return {
    columns: [
      NAME,
      ...columns.map((c) =>
        col(
          c.name,
          c.type,
          c.priority ?? 0,
          c.description || `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
          c.format ?? "",
        ),
      ),
    ],
    cells: (o, now) => [
      meta(o).name ?? "",
      ...columns.map((c) => {
        const [value] = jsonPath(o, c.jsonPath);
        if (value === undefined || value === null) return null;
        switch (c.type) {
          case "integer":
            return typeof value === "number" ? Math.trunc(value) : null;
          case "number":
            return typeof value === "number" ? value : null;
          case "boolean":
            return typeof value === "boolean" ? value : null;
          case "date":
            if (typeof value !== "string") return null;
            if (value === "" || value === "null") return "<unknown>";
            return Number.isFinite(Date.parse(value)) ? since(value, now) : "<invalid>";
          case "string":
            return typeof value === "string" ? value : JSON.stringify(value);
          default:
            return null;
        }
      }),
    ],
  };
}

function printerFor(t: ResourceType, version: string): Printer {
  if (!t.builtin)
    return customPrinter(
      (t.printerColumns?.[version] ?? []).map((c) => ({
        name: str(c.name),
        type: str(c.type),
        format: str(c.format),
        description: str(c.description),
        priority: num(c.priority),
        jsonPath: str(c.jsonPath),
      })),
    );
  return PRINTERS[`${t.group}/${t.resource}`] ?? DEFAULT_PRINTER;
}

/** What a Table is asked for with. */
export interface TableRequest {
  /** meta.k8s.io version of the Table. */
  tableVersion: "v1" | "v1beta1";
  /** `includeObject`: None, Metadata (default) or Object. */
  includeObject: string | undefined;
  /** Watch events after the first carry no column definitions. */
  noHeaders?: boolean;
}

/** The Table of `objects` of type `t` (served at `version`); `listMeta` for lists. */
export function toTable(
  t: ResourceType,
  version: string,
  objects: Obj[],
  listMeta: Obj,
  req: TableRequest,
  now = Date.now(),
): Obj {
  const include = req.includeObject ?? "Metadata";
  if (include !== "None" && include !== "Metadata" && include !== "Object")
    throw badRequest(`unrecognized includeObject value: ${JSON.stringify(include)}`);
  const printer = printerFor(t, version);
  const tableApiVersion = `meta.k8s.io/${req.tableVersion}`;
  return {
    kind: "Table",
    apiVersion: tableApiVersion,
    metadata: listMeta,
    columnDefinitions: req.noHeaders ? null : printer.columns,
    rows: objects.map((o) => {
      const conditions = printer.conditions?.(o);
      return {
        cells: printer.cells(o, now),
        ...(conditions ? { conditions } : {}),
        object:
          include === "None"
            ? null
            : include === "Object"
              ? { ...o, apiVersion: apiVersionOf(t.group, version), kind: t.kind }
              : {
                  kind: "PartialObjectMetadata",
                  apiVersion: tableApiVersion,
                  metadata: o.metadata,
                },
      };
    }),
  };
}
