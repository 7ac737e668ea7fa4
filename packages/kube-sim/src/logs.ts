import type { IncomingMessage, ServerResponse } from "node:http";
import { getPath, meta, text, type Obj } from "./object.js";
import type { QueryParams } from "./params.js";
import { StatusError, badRequest } from "./status.js";
import type { Store } from "./store.js";

/** One synthetic log line of a container, with its time. */
interface LogLine {
  at: Date;
  text: string;
}

interface ContainerStatus {
  name?: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: {
    running?: { startedAt?: string };
    waiting?: { reason?: string };
    terminated?: { startedAt?: string; finishedAt?: string; exitCode?: number };
  };
}

/** A text field of a JSON object, or `fallback`. */
const str = (o: unknown, key: string, fallback = ""): string => text(getPath(o, [key])) || fallback;

/** Go's RFC3339Nano of a millisecond time (nanoseconds are zero). */
function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

const invalid = (field: string, value: unknown, why: string): StatusError =>
  new StatusError(
    422,
    "Invalid",
    `PodLogOptions "" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${why}`,
  );

/**
 * The lines a container has written: kube-sim runs no processes, so a few synthetic lines that
 * say what the container is and whether it is ready, stamped from its start time.
 */
function linesOf(pod: Obj, c: Obj, status: ContainerStatus | undefined): LogLine[] {
  const started = Date.parse(
    status?.state?.running?.startedAt ??
      (str(pod.status, "startTime") || meta(pod).creationTimestamp) ??
      "",
  );
  const t0 = Number.isFinite(started) ? started : Date.now();
  const ports = (Array.isArray(c.ports) ? (c.ports as Obj[]) : [])
    .map((p) => `${str(p, "containerPort")}/${str(p, "protocol", "TCP")}`)
    .join(", ");
  const texts = [
    `kube-sim: container ${String(c.name)} started from image ${String(c.image)}`,
    `kube-sim: pod ${meta(pod).namespace ?? ""}/${meta(pod).name ?? ""} on node ${str(pod.spec, "nodeName", "<none>")}`,
    ports ? `kube-sim: listening on ${ports}` : "kube-sim: no ports declared",
  ];
  if (status?.ready) texts.push(`kube-sim: container ${String(c.name)} is ready`);
  return texts.map((text, i) => ({ at: new Date(t0 + i), text }));
}

/** The container a log request names, refused as the API server refuses it. */
function pickContainer(pod: Obj, q: QueryParams): Obj {
  const spec = (pod.spec ?? {}) as Obj;
  const containers = (Array.isArray(spec.containers) ? spec.containers : []) as Obj[];
  const inits = (Array.isArray(spec.initContainers) ? spec.initContainers : []) as Obj[];
  const name = q.str("container");
  const podName = meta(pod).name ?? "";
  if (!name) {
    if (containers.length === 1 && containers[0]) return containers[0];
    const names = containers.map((c) => String(c.name)).join(" ");
    let msg = `a container name must be specified for pod ${podName}, choose one of: [${names}]`;
    if (inits.length)
      msg += ` or one of the init containers: [${inits.map((c) => String(c.name)).join(" ")}]`;
    throw badRequest(msg);
  }
  const c = [...containers, ...inits].find((x) => x.name === name);
  if (!c) throw badRequest(`container ${name} is not valid for pod ${podName}`);
  return c;
}

/**
 * `GET pods/{name}/log`: text/plain lines of one container, with `container`, `tailLines`,
 * `timestamps`, `sinceSeconds`, `limitBytes`, `previous` and `follow` (the stream stays open
 * until the pod goes away or the server closes).
 */
export function servePodLog(
  store: Store,
  watches: Set<() => void>,
  pod: Obj,
  q: QueryParams,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const tail = q.int("tailLines");
  const limitBytes = q.int("limitBytes");
  const since = q.int("sinceSeconds");
  if (tail !== undefined && tail < 0)
    throw invalid("tailLines", tail, "must be greater than or equal to 0");
  if (limitBytes !== undefined && limitBytes < 1)
    throw invalid("limitBytes", limitBytes, "must be greater than 0");
  if (since !== undefined && since < 1)
    throw invalid("sinceSeconds", since, "must be greater than 0");
  const c = pickContainer(pod, q);
  const podName = meta(pod).name ?? "";
  const statuses = [
    ...((((pod.status ?? {}) as Obj).containerStatuses ?? []) as ContainerStatus[]),
    ...((((pod.status ?? {}) as Obj).initContainerStatuses ?? []) as ContainerStatus[]),
  ];
  const status = statuses.find((s) => s.name === c.name);
  if (q.bool("previous")) {
    if (!status?.restartCount)
      throw badRequest(
        `previous terminated container "${String(c.name)}" in pod "${podName}" not found`,
      );
  } else if (!status?.state?.running && !status?.state?.terminated) {
    const reason = status?.state?.waiting?.reason ?? "ContainerCreating";
    throw badRequest(
      `container "${String(c.name)}" in pod "${podName}" is waiting to start: ${reason}`,
    );
  }
  let lines = linesOf(pod, c, status);
  if (since !== undefined) lines = lines.filter((l) => l.at.getTime() >= Date.now() - since * 1000);
  if (tail !== undefined) lines = tail === 0 ? [] : lines.slice(-tail);
  const timestamps = q.bool("timestamps") === true;
  const render = (l: LogLine): string => `${timestamps ? `${rfc3339Nano(l.at)} ` : ""}${l.text}\n`;
  let budget = limitBytes ?? Number.POSITIVE_INFINITY;
  const write = (text: string): boolean => {
    if (budget <= 0) return false;
    const buf = Buffer.from(text);
    res.write(buf.length > budget ? buf.subarray(0, budget) : buf);
    budget -= buf.length;
    return budget > 0;
  };
  res.writeHead(200, {
    "content-type": "text/plain",
    "cache-control": "no-cache, private",
    ...(q.bool("follow") ? { "transfer-encoding": "chunked" } : {}),
  });
  let open = true;
  for (const l of lines) if (!(open = write(render(l)))) break;
  if (!q.bool("follow") || !open) {
    res.end();
    return;
  }
  // Following: the stream ends when the pod is deleted (or replaced) or the server closes.
  const ns = meta(pod).namespace ?? "";
  const uid = meta(pod).uid;
  const finish = (): void => {
    unsubscribe();
    watches.delete(finish);
    if (!res.writableEnded) res.end();
  };
  const unsubscribe = store.subscribe((e) => {
    if (e.group !== "" || e.resource !== "pods" || e.namespace !== ns || e.name !== podName) return;
    const gone =
      e.type === "DELETED" || meta(e.object).uid !== uid || !!meta(e.object).deletionTimestamp;
    if (!gone) return;
    write(render({ at: new Date(), text: `kube-sim: container ${String(c.name)} stopped` }));
    finish();
  });
  watches.add(finish);
  res.on("close", finish);
  void req;
}
