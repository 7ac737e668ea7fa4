import type { ServerResponse } from "node:http";
import { sleep } from "@pipecd-ts/runtime";
import { StatusError, badRequest, pathNotFound } from "./status.js";

/** One injected fault: which requests it hits and what they get. */
export interface FaultSpec {
  /** get, list, watch, create, update, patch, delete, deletecollection; undefined = any. */
  verb?: string;
  /** Plural resource, e.g. deployments; undefined = any. */
  resource?: string;
  name?: string;
  namespace?: string;
  /** HTTP status to answer (409, 429, 500, 503, 504...); undefined = only delay. */
  status?: number;
  message?: string;
  /** Added latency before answering (long values make clients time out). */
  delayMs?: number;
  /** Hit at most this many requests, then the fault is gone. */
  count?: number;
  /** Hit a request with this probability (0..1); default 1. */
  probability?: number;
}

interface Fault extends FaultSpec {
  id: string;
  hits: number;
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/**
 * Fault injection for failure tests: chosen status codes or latency for chosen verb + resource +
 * name, for N requests or with a probability. Managed in-process or over `/kube-sim/faults`.
 */
export class Faults {
  private readonly faults: Fault[] = [];
  private readonly stopped = new AbortController();
  private seq = 0;

  /** Adds a fault; returns its id. */
  add(spec: FaultSpec): string {
    if (spec.status !== undefined && (spec.status < 400 || spec.status > 599))
      throw badRequest("fault status must be 400-599");
    if (spec.status === undefined && spec.delayMs === undefined)
      throw badRequest("a fault needs a status or a delayMs");
    const f: Fault = { ...spec, id: `fault-${++this.seq}`, hits: 0 };
    this.faults.push(f);
    return f.id;
  }

  /** Ends pending fault delays (server shutdown). */
  dispose(): void {
    this.stopped.abort();
  }

  /** Removes every fault (normal behaviour returns at once). */
  clear(): void {
    this.faults.length = 0;
  }

  /** The active faults with their hit counts. */
  list(): (FaultSpec & { id: string; hits: number })[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** Applies the first matching fault to a request: waits, then throws its Status if any. */
  async apply(
    verb: string,
    resource: string,
    name: string | undefined,
    namespace: string | undefined,
  ): Promise<void> {
    // The first matching fault whose probability roll succeeds applies (several faults with
    // probabilities compose, e.g. 2.5% each of 409, 500, 503 and latency ≈ 10% of requests).
    const i = this.faults.findIndex(
      (f) =>
        (f.verb === undefined || f.verb === verb) &&
        (f.resource === undefined || f.resource === resource) &&
        (f.name === undefined || f.name === name) &&
        (f.namespace === undefined || f.namespace === namespace) &&
        (f.probability === undefined || Math.random() < f.probability),
    );
    const f = this.faults[i];
    if (!f) return;
    f.hits++;
    if (f.count !== undefined && f.hits >= f.count) this.faults.splice(i, 1);
    // Cancellable, so a pending delay never keeps a closed server's process alive.
    if (f.delayMs) await sleep(f.delayMs, this.stopped.signal).catch(() => undefined);
    if (f.status !== undefined) {
      const reason = REASONS[f.status] ?? "InternalError";
      const msg = f.message ?? `kube-sim injected fault ${f.id}: ${reason}`;
      const details = f.status === 429 ? { retryAfterSeconds: 1 } : undefined;
      throw new StatusError(
        f.status,
        reason,
        msg,
        details,
        f.status === 429 ? { "retry-after": "1" } : {},
      );
    }
  }

  /** `/kube-sim/faults`: GET lists, POST adds (JSON FaultSpec), DELETE clears. */
  async handleAdmin(
    method: string,
    path: string,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    if (path !== "/kube-sim/faults") throw pathNotFound();
    const reply = (code: number, v: unknown): void => {
      res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(v));
    };
    if (method === "GET") return reply(200, { faults: this.list() });
    if (method === "DELETE") {
      this.clear();
      return reply(200, { faults: [] });
    }
    if (method === "POST") {
      let spec: FaultSpec;
      try {
        spec = JSON.parse(body.toString("utf8")) as FaultSpec;
      } catch {
        throw badRequest("fault spec must be JSON");
      }
      return reply(201, { id: this.add(spec) });
    }
    await Promise.resolve();
    throw new StatusError(
      405,
      "MethodNotAllowed",
      `method ${method} not allowed on /kube-sim/faults`,
    );
  }
}
