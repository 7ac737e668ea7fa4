import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DeploymentStatus } from "@pipecd-ts/proto";
import type { Datastore } from "@pipecd-ts/datastore";
import type { Hub } from "./hub.js";

/** Prometheus metrics of one control-plane instance (own registry, no globals). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
  readonly rpcRequests: Counter<"method" | "code">;
  readonly rpcDuration: Histogram<"method">;
  readonly commandsCreated: Counter<"type">;

  constructor(deps: {
    ds: Pick<Datastore, "deployments">;
    hub: Pick<Hub, "connectedPipeds">;
    projectId: string;
  }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: "pipecd_http_requests_total",
      help: "REST requests by method, route and status.",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "pipecd_http_request_duration_seconds",
      help: "REST request latency.",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.rpcRequests = new Counter({
      name: "pipecd_grpc_requests_total",
      help: "PipedService RPCs by method and status code.",
      labelNames: ["method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "pipecd_grpc_request_duration_seconds",
      help: "PipedService unary RPC latency.",
      labelNames: ["method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.commandsCreated = new Counter({
      name: "pipecd_commands_created_total",
      help: "Commands created by type.",
      labelNames: ["type"],
      registers,
    });
    new Gauge({
      name: "pipecd_connected_pipeds",
      help: "Pipeds with a Watch stream open on this replica.",
      registers,
      collect() {
        this.set(deps.hub.connectedPipeds());
      },
    });
    new Gauge({
      name: "pipecd_deployments",
      help: "Deployments by status.",
      labelNames: ["status"],
      registers,
      async collect() {
        const counts = await deps.ds.deployments.countByStatus(deps.projectId);
        this.reset();
        for (const [status, n] of counts)
          this.set({ status: DeploymentStatus[status] ?? String(status) }, n);
      },
    });
  }
}
