/**
 * Health of live Kubernetes objects and of an application, for the live state tree. Mirrors
 * PipeCD v0 `determineResourceHealth` (pkg/app/piped/platformprovider/kubernetes/state.go) except
 * where a comment says we differ. PipeCD v0 has only HEALTHY/OTHER/UNKNOWN; we split its OTHER into
 * UNHEALTHY (broken, needs a human) and OTHER (on its way). Descriptions hold no ages, so an
 * unchanged object keeps its description (PipeCD reports a change whenever one changes).
 */
import { deploymentRolloutStatus, type KubeObject } from "@pipecd-ts/kube";
import { asArr, asObj, isObj, type Json } from "../json.js";

/** A node's or an application's health: UNKNOWN means "not evaluated", not "bad". */
export type HealthStatus = "HEALTHY" | "UNHEALTHY" | "OTHER" | "UNKNOWN";

/** A health status with the human-readable reason the UI shows next to it. */
export interface Health {
  status: HealthStatus;
  description: string;
}

/** How long a pod stays OTHER while not ready or unschedulable (an HPA while unable to scale) before it is UNHEALTHY. */
export const NOT_READY_GRACE_MS = 5 * 60_000;

const healthy = (description = ""): Health => ({ status: "HEALTHY", description });
const unhealthy = (description: string): Health => ({ status: "UNHEALTHY", description });
const other = (description: string): Health => ({ status: "OTHER", description });

const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const quote = (s: string): string => JSON.stringify(s); // Go's %q for a DNS name
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
const applied = (obj: KubeObject): Health =>
  healthy(`${quote(obj.metadata.name)} was applied successfully`);

const conditions = (status: Json): Json[] => asArr(status.conditions).filter(isObj);
const condition = (status: Json, type: string): Json | undefined =>
  conditions(status).find((c) => c.type === type);
const why = (c: Json): string => [str(c.reason), str(c.message)].filter(Boolean).join(": ");
/** Whether a bad condition has lasted past the grace period; without a timestamp it has. */
function stale(c: Json | undefined, now: number): boolean {
  const since = Date.parse(str(c?.lastTransitionTime));
  return Number.isNaN(since) || now - since >= NOT_READY_GRACE_MS;
}

// API groups served by Kubernetes itself (any version). PipeCD keeps a fixed list of
// group/versions instead; a group list also covers versions added since (e.g. autoscaling/v2).
const K8S_IO =
  "admissionregistration apiextensions apiregistration authentication authorization certificates coordination discovery events flowcontrol.apiserver networking node rbac.authorization resource scheduling storage storagemigration";
const BUILT_IN_GROUPS = new Set(
  ["", "apps", "batch", "autoscaling", "policy", "extensions"].concat(
    K8S_IO.split(" ").map((g) => `${g}.k8s.io`),
  ),
);
const apiGroup = (apiVersion: string): string =>
  apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";

/**
 * Health of one live object, following PipeCD v0: workloads by rollout progress, Pods by phase,
 * containers and readiness, Jobs/Services/Ingresses/PVs/PVCs/HPAs/Namespaces by status, other
 * built-in kinds (ConfigMap, Secret, RBAC, ...) HEALTHY once they exist, and kinds outside the
 * Kubernetes API groups (Istio, any CRD) UNKNOWN with PipeCD's "couldn't be determined" text.
 * `now` (default: the current time) only decides whether a pod has been not ready for too long.
 */
export function resourceHealth(obj: KubeObject, now: Date = new Date()): Health {
  const spec = asObj(obj.spec) ?? {};
  const st = asObj(obj.status) ?? {};
  // Not in PipeCD: an object with a deletionTimestamp is going away, whatever its status says.
  if (obj.metadata.deletionTimestamp || (obj.kind === "Namespace" && st.phase === "Terminating")) {
    // PipeCD's Namespace check: a deletion failure condition says why it is stuck.
    const stuck = conditions(st).find((c) => c.status === "True" && /Failure$/.test(str(c.type)));
    return other(stuck ? `Terminating: ${str(stuck.message)}` : "Terminating");
  }
  if (!BUILT_IN_GROUPS.has(apiGroup(obj.apiVersion)))
    return {
      status: "UNKNOWN",
      description: `"${obj.apiVersion}/${obj.kind}" was applied successfully but its health status couldn't be determined exactly. (Because tracking status for this kind of resource is not supported yet.)`,
    };
  switch (obj.kind) {
    case "Pod":
      return podHealth(st, now.getTime());
    case "Deployment":
      return deploymentHealth(obj, spec, st);
    case "StatefulSet":
      return statefulSetHealth(obj, spec, st);
    case "DaemonSet":
      return daemonSetHealth(obj, st);
    case "ReplicaSet":
      return replicaSetHealth(obj, spec, st);
    case "Job":
      return jobHealth(st);
    case "CronJob":
      return spec.suspend === true ? healthy("CronJob is suspended") : applied(obj);
    case "Service":
      return str(spec.type) === "LoadBalancer" ? loadBalancerHealth(st) : applied(obj);
    case "Ingress":
      return loadBalancerHealth(st);
    case "PersistentVolume":
      return persistentVolumeHealth(st);
    case "PersistentVolumeClaim":
      return pvcHealth(spec, st);
    case "HorizontalPodAutoscaler":
      return hpaHealth(spec, st, now.getTime());
    case "Namespace":
      return st.phase === undefined || st.phase === "Active"
        ? applied(obj)
        : other(`The NameSpace is at an unexpected phase: ${str(st.phase)}`);
    default:
      return genericHealth(obj, st);
  }
}

// PipeCD's rule for a waiting reason that means "broken" (ErrImagePull, ImagePullBackOff,
// CrashLoopBackOff, CreateContainerConfigError, ...) plus InvalidImageName, which it misses.
const BROKEN_WAITING = /^Err|Error$|BackOff$|^InvalidImageName$/;

function podHealth(st: Json, now: number): Health {
  const phase = str(st.phase);
  const init = asArr(st.initContainerStatuses).filter(isObj);
  const main = asArr(st.containerStatuses).filter(isObj);
  const restarts = [...init, ...main]
    .filter((c) => num(c.restartCount) > 0)
    .map((c) => `container ${str(c.name)} restarted ${plural(num(c.restartCount), "time")}`);
  const withRestarts = (h: Health): Health => ({
    status: h.status,
    description: [h.description, ...restarts].filter(Boolean).join("; "),
  });
  const waiting = (c: Json): Json => asObj(asObj(c.state)?.waiting) ?? {};

  if (phase === "Succeeded") return healthy("Completed"); // a Job's pod that finished its work
  if (phase === "Failed") {
    const text = ["Failed", why(st)].filter(Boolean).join(": ");
    // An evicted pod lingers after its controller replaced it: not a fault of the application.
    return st.reason === "Evicted" ? other(text) : withRestarts(unhealthy(text));
  }
  // PipeCD checks waiting reasons only when restartPolicy is Always; an image that cannot be
  // pulled is just as broken in a Job's pod, so we check every pod.
  const broken = [...init, ...main].flatMap((c) => {
    const w = waiting(c);
    if (!BROKEN_WAITING.test(str(w.reason))) return [];
    const last = asObj(asObj(c.lastState)?.terminated);
    const exit = last
      ? ` (last exit: ${str(last.reason) || "terminated"}, code ${num(last.exitCode)})`
      : "";
    return [`container ${str(c.name)}: ${why(w)}${exit}`];
  });
  if (broken.length > 0) return withRestarts(unhealthy(broken.join("; ")));

  if (phase === "Pending") {
    const scheduled = condition(st, "PodScheduled");
    if (scheduled?.status === "False") {
      const text = `Pending: ${why(scheduled)}`;
      return stale(scheduled, now) ? unhealthy(text) : other(text);
    }
    const starting = [...init, ...main]
      .filter((c) => str(waiting(c).reason))
      .map((c) => `container ${str(c.name)}: ${str(waiting(c).reason)}`);
    return other(starting.length > 0 ? `Pending: ${starting.join(", ")}` : "Pending");
  }
  if (phase === "Running") {
    const ready = condition(st, "Ready");
    const notReady = main.filter((c) => c.ready !== true).map((c) => str(c.name));
    if (ready?.status === "False" || notReady.length > 0) {
      const detail =
        (ready?.status === "False" && why(ready)) || `containers not ready: ${notReady.join(", ")}`;
      const text = `Not ready: ${detail}`;
      // Every pod is briefly not ready while it starts; only a lasting state is a fault.
      return withRestarts(stale(ready, now) ? unhealthy(text) : other(text));
    }
    return withRestarts(healthy("Running"));
  }
  return other(
    [`Pod is in phase ${phase || "Unknown"}`, str(st.message)].filter(Boolean).join(": "),
  );
}

/** `spec.replicas`, which the API server always sets; PipeCD reports an object without it. */
const desiredReplicas = (spec: Json): number | undefined =>
  typeof spec.replicas === "number" ? spec.replicas : undefined;
const UNSPECIFIED = "The number of desired replicas is unspecified";
/** Whether the controller has not yet seen the latest spec (kubectl's first rollout check). */
const unobserved = (obj: KubeObject, st: Json): boolean =>
  num(st.observedGeneration) === 0 || num(obj.metadata.generation) > num(st.observedGeneration);
const allAvailable = (n: number): string =>
  n === 0 ? "Scaled to 0 replicas" : `All ${plural(n, "replica")} are updated and available`;

function deploymentHealth(obj: KubeObject, spec: Json, st: Json): Health {
  if (spec.paused === true) return other("Deployment is paused");
  // Not in PipeCD: pods that cannot even be created (quota, admission) need a human.
  const failure = condition(st, "ReplicaFailure");
  if (failure?.status === "True") return unhealthy(`ReplicaFailure: ${why(failure)}`);
  const progressing = condition(st, "Progressing");
  // kubectl's rollout status, shared with the rollout wait; PipeCD's own wording printed the
  // updated count as "remaining", so we use kubectl's text for an in-progress rollout.
  const rollout = deploymentRolloutStatus(obj);
  if (rollout.state === "failed")
    return unhealthy(
      `Deployment ${quote(obj.metadata.name)} exceeded its progress deadline${progressing?.message ? `: ${str(progressing.message)}` : ""}`,
    );
  if (progressing?.status === "False") return unhealthy(`Progressing=False: ${why(progressing)}`);
  const desired = desiredReplicas(spec);
  if (desired === undefined) return other(UNSPECIFIED);
  if (rollout.state === "progressing") return other(rollout.message);
  return healthy(allAvailable(desired));
}

function statefulSetHealth(obj: KubeObject, spec: Json, st: Json): Health {
  if (unobserved(obj, st)) return other("Waiting for statefulset spec update to be observed");
  const desired = desiredReplicas(spec);
  if (desired === undefined) return other(UNSPECIFIED);
  const ready = num(st.readyReplicas);
  if (ready !== desired)
    return other(
      `The number of ready replicas (${ready}) is different from the desired number (${desired})`,
    );
  const strategy = asObj(spec.updateStrategy) ?? {};
  const rolling = asObj(strategy.rollingUpdate);
  const updated = num(st.updatedReplicas);
  if (str(strategy.type) === "RollingUpdate" && rolling) {
    const partition = rolling.partition;
    if (typeof partition === "number" && updated < desired - partition)
      return other(
        `Waiting for partitioned roll out to finish because ${updated} out of ${desired - partition} new pods have been updated`,
      );
    return healthy(allAvailable(desired));
  }
  if (st.updateRevision !== st.currentRevision)
    return other(
      `Waiting for statefulset rolling update to complete ${updated} pods at revision ${str(st.updateRevision)}`,
    );
  return healthy(allAvailable(desired));
}

function daemonSetHealth(obj: KubeObject, st: Json): Health {
  const name = quote(obj.metadata.name);
  if (unobserved(obj, st))
    return other(
      "Waiting for rollout to finish because observed daemon set generation less than desired generation",
    );
  const desired = num(st.desiredNumberScheduled);
  const [updated, available] = [num(st.updatedNumberScheduled), num(st.numberAvailable)];
  if (updated < desired)
    return other(
      `Waiting for daemon set ${name} rollout to finish because ${updated} out of ${desired} new pods have been updated`,
    );
  if (available < desired)
    return other(
      `Waiting for daemon set ${name} rollout to finish because ${available} of ${desired} updated pods are available`,
    );
  if (num(st.numberMisscheduled) > 0)
    return other(
      `${num(st.numberMisscheduled)} nodes that are running the daemon pod, but are not supposed to run the daemon pod`,
    );
  if (num(st.numberUnavailable) > 0)
    return other(
      `${num(st.numberUnavailable)} nodes that should be running the daemon pod and have none of the daemon pod running and available`,
    );
  return healthy(`${plural(desired, "node")} running the daemon pod`);
}

function replicaSetHealth(obj: KubeObject, spec: Json, st: Json): Health {
  if (unobserved(obj, st))
    return other(
      "Waiting for rollout to finish because observed replica set generation less than desired generation",
    );
  // PipeCD reports ReplicaFailure as OTHER; pods that cannot be created are a fault (UNHEALTHY).
  const failure = condition(st, "ReplicaFailure");
  if (failure?.status === "True") return unhealthy(`ReplicaFailure: ${why(failure)}`);
  const desired = desiredReplicas(spec);
  if (desired === undefined) return other(UNSPECIFIED);
  const [available, ready] = [num(st.availableReplicas), num(st.readyReplicas)];
  if (available < desired)
    return other(
      `Waiting for rollout to finish because only ${available}/${desired} replicas are available`,
    );
  if (ready !== desired)
    return other(
      `The number of ready replicas (${ready}) is different from the desired number (${desired})`,
    );
  return healthy(allAvailable(desired));
}

function jobHealth(st: Json): Health {
  const isTrue = (type: string) =>
    conditions(st).find((c) => c.type === type && c.status === "True");
  // PipeCD reports a failed Job as OTHER and ignores condition status; a failed Job is a fault.
  // FailureTarget (Kubernetes 1.31+) precedes Failed while the pods are being terminated.
  const failed = isTrue("Failed") ?? isTrue("FailureTarget");
  if (failed) return unhealthy(`Job failed: ${why(failed) || "Failed"}`);
  const done = isTrue("Complete");
  if (done) return healthy(str(done.message) || `Completed: ${plural(num(st.succeeded), "pod")}`);
  if (isTrue("Suspended")) return healthy("Job is suspended");
  return healthy("Job is in progress"); // PipeCD: a running Job is not a problem
}

function loadBalancerHealth(st: Json): Health {
  const points = asArr(asObj(st.loadBalancer)?.ingress)
    .filter(isObj)
    .map((p) => str(p.ip) || str(p.hostname))
    .filter(Boolean);
  if (points.length === 0) return other("Ingress points for the load-balancer are in progress");
  return healthy(`Load balancer ready: ${points.join(", ")}`);
}

function persistentVolumeHealth(st: Json): Health {
  const [phase, message] = [str(st.phase), str(st.message)];
  const text = message || `PersistentVolume is ${phase || "in an unknown phase"}`;
  if (phase === "Bound" || phase === "Available") return healthy(message);
  return phase === "Failed" ? unhealthy(text) : other(text); // PipeCD: Failed is OTHER
}

function pvcHealth(spec: Json, st: Json): Health {
  switch (st.phase) {
    case "Bound":
      return healthy(spec.volumeName ? `Bound to ${str(spec.volumeName)}` : "Bound");
    case "Pending":
      return other("Being not yet bound");
    case "Lost":
      return unhealthy("Lost its underlying PersistentVolume"); // PipeCD: OTHER; data is gone
    default:
      return other("The current phase of PersistentVolumeClaim is unexpected");
  }
}

// Not in PipeCD (it reports HPAs as unknown): an HPA that cannot scale or read its metrics
// leaves the workload at a fixed size.
function hpaHealth(spec: Json, st: Json, now: number): Health {
  for (const type of ["AbleToScale", "ScalingActive"]) {
    const c = condition(st, type);
    if (c?.status !== "False") continue;
    const text = `${type}=False: ${why(c)}`;
    // ScalingDisabled: the target was scaled to zero on purpose.
    return c.reason === "ScalingDisabled" || !stale(c, now) ? other(text) : unhealthy(text);
  }
  const size = `${plural(num(st.currentReplicas), "replica")} (min ${num(spec.minReplicas) || 1}, max ${num(spec.maxReplicas)})`;
  const limited = condition(st, "ScalingLimited");
  return healthy(limited?.status === "True" ? `${size}; ${why(limited)}` : size);
}

// PipeCD lists ConfigMap, Secret, RBAC, ServiceAccount and PDB as HEALTHY once applied and
// every other built-in kind as UNKNOWN "Unimplemented or unknown resource". Built-in kinds
// without a status (NetworkPolicy, LimitRange, ...) are as healthy as a ConfigMap, so we call
// them HEALTHY too, unless they report a standard Ready/Available/Established condition False
// (CustomResourceDefinition, APIService).
function genericHealth(obj: KubeObject, st: Json): Health {
  const down = conditions(st).find(
    (c) => ["Ready", "Available", "Established"].includes(str(c.type)) && c.status === "False",
  );
  return down ? other(`${str(down.type)}=False: ${why(down)}`) : applied(obj);
}

/**
 * An application's health from its nodes' health: any UNHEALTHY → UNHEALTHY, else any OTHER →
 * OTHER (both naming the first such node, in the given order, as "Kind name: reason" and how many
 * more there are), else any HEALTHY → HEALTHY, else UNKNOWN (no nodes, or none evaluated).
 * UNKNOWN nodes (kinds we cannot evaluate) do not make a healthy application UNKNOWN, as in
 * PipeCD v0, where only OTHER resources change a Kubernetes application's health.
 */
export function aggregateHealth(
  nodes: readonly { kind: string; name: string; health: Health }[],
): Health {
  for (const status of ["UNHEALTHY", "OTHER"] as const) {
    const hits = nodes.filter((n) => n.health.status === status);
    const [first] = hits;
    if (!first) continue;
    const reason = first.health.description ? `: ${first.health.description}` : "";
    const more = hits.length > 1 ? ` (and ${hits.length - 1} more)` : "";
    return { status, description: `${first.kind} ${first.name}${reason}${more}` };
  }
  const good = nodes.filter((n) => n.health.status === "HEALTHY").length;
  const unknown = nodes.length - good;
  const none = unknown === 0 ? "No resources" : `${plural(unknown, "resource")} not evaluated`;
  if (good === 0) return { status: "UNKNOWN", description: none };
  if (unknown === 0) return healthy(`All ${plural(good, "resource")} are healthy`);
  return healthy(`${plural(good, "resource")} healthy; ${unknown} not evaluated`);
}
