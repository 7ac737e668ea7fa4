import { isObj, type Obj } from "./object.js";

// Server-side defaulting of the built-in kinds kube-sim serves, as a real apiserver applies it
// (reference §3.1): tools that compare desired and live objects see the same extra fields.

function podSpecDefaults(spec: Obj): void {
  spec.restartPolicy ??= "Always";
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= 30;
  for (const list of ["containers", "initContainers"]) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    for (const c of cs) {
      if (!isObj(c)) continue;
      c.terminationMessagePath ??= "/dev/termination-log";
      c.terminationMessagePolicy ??= "File";
      if (c.imagePullPolicy === undefined) {
        const image = typeof c.image === "string" ? c.image : "";
        const tag = image.includes("@") ? "digest" : (/:([^/:]+)$/.exec(image)?.[1] ?? "");
        c.imagePullPolicy = tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
      }
      if (Array.isArray(c.ports)) for (const p of c.ports) if (isObj(p)) p.protocol ??= "TCP";
      c.resources ??= {};
    }
  }
}

/** Applies apiserver defaults for built-in kinds (mutates `o`). */
export function applyDefaults(kind: string, o: Obj, allocateClusterIp: () => string): void {
  const spec = isObj(o.spec) ? o.spec : undefined;
  switch (kind) {
    case "Deployment": {
      if (!spec) return;
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      if (!isObj(spec.strategy)) spec.strategy = { type: "RollingUpdate" };
      const strategy = spec.strategy as Obj;
      strategy.type ??= "RollingUpdate";
      if (strategy.type === "RollingUpdate") {
        if (!isObj(strategy.rollingUpdate)) strategy.rollingUpdate = {};
        const ru = strategy.rollingUpdate as Obj;
        ru.maxSurge ??= "25%";
        ru.maxUnavailable ??= "25%";
      }
      if (isObj(spec.template) && isObj(spec.template.spec)) podSpecDefaults(spec.template.spec);
      if (isObj(spec.template)) {
        const tm = isObj(spec.template.metadata)
          ? spec.template.metadata
          : (spec.template.metadata = {});
        tm.creationTimestamp ??= null;
      }
      return;
    }
    case "ReplicaSet":
      if (spec && isObj(spec.template) && isObj(spec.template.spec))
        podSpecDefaults(spec.template.spec);
      if (spec) spec.replicas ??= 1;
      return;
    case "Pod":
      if (spec) podSpecDefaults(spec);
      return;
    case "Service": {
      if (!spec) return;
      spec.type ??= "ClusterIP";
      spec.sessionAffinity ??= "None";
      if (spec.type !== "ExternalName") {
        if (spec.clusterIP === undefined || spec.clusterIP === "") {
          const ip = allocateClusterIp();
          spec.clusterIP = ip;
          spec.clusterIPs = [ip];
        } else spec.clusterIPs ??= [spec.clusterIP];
        spec.ipFamilies ??= ["IPv4"];
        spec.ipFamilyPolicy ??= "SingleStack";
        spec.internalTrafficPolicy ??= "Cluster";
      }
      if (Array.isArray(spec.ports))
        for (const p of spec.ports)
          if (isObj(p)) {
            p.protocol ??= "TCP";
            p.targetPort ??= p.port;
          }
      return;
    }
    case "Secret": {
      // stringData is write-only: the apiserver merges it into data (base64) and drops it.
      o.type ??= "Opaque";
      if (isObj(o.stringData)) {
        const data = isObj(o.data) ? o.data : {};
        for (const [k, v] of Object.entries(o.stringData))
          if (typeof v === "string") data[k] = Buffer.from(v).toString("base64");
        o.data = data;
        delete o.stringData;
      }
      return;
    }
    case "Namespace": {
      if (!isObj(o.spec)) o.spec = {};
      (o.spec as Obj).finalizers ??= ["kubernetes"];
      o.status = { phase: "Active" };
      return;
    }
    default:
      return;
  }
}
