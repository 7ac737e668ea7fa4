import * as grpc from "@grpc/grpc-js";
import {
  PipedService,
  createGrpcClient,
  type CallOptions,
  type GrpcClient,
} from "@pipecd-ts/proto";
import { AppError, errorCodeOfGrpcStatus } from "@pipecd-ts/runtime";
import { PIPED_SERVICE_CONFIG, grpcTarget } from "./address.js";

/** Options of {@link createApiClient}. */
export interface ApiClientOptions {
  /**
   * The control plane's PipedService: `host:port`, `dns:///host:port`, or a comma-separated list
   * of `host:port` (replicas; the channel moves to another when its connection drops).
   */
  address: string;
  projectId: string;
  pipedId: string;
  pipedKey: string;
  /** Plain-text gRPC (tests, local demo); TLS otherwise. */
  insecure: boolean;
  /** PEM CA to trust for TLS (default: system roots). */
  caCert?: Buffer;
  /** Deadline of each unary call. */
  callTimeoutMs?: number;
}

type Svc = typeof PipedService.method;
type UnaryNames = { [K in keyof Svc]: Svc[K]["methodKind"] extends "unary" ? K : never }[keyof Svc];

/** The PipedService client used by every piped component. */
export interface ApiClient {
  /** Calls a unary RPC with the piped token and a deadline; errors are AppErrors. */
  call<K extends UnaryNames>(
    method: K,
    req: Parameters<GrpcClient<Svc>[K]>[0],
    opts?: { signal?: AbortSignal; timeoutMs?: number },
  ): ReturnType<GrpcClient<Svc>[K]>;
  /** Opens the Watch stream (no deadline: it lives until cancelled). */
  watch(afterSequence: bigint, signal: AbortSignal): ReturnType<GrpcClient<Svc>["watch"]>;
  readonly pipedId: string;
  readonly projectId: string;
  close(): void;
}

/** A gRPC error as an AppError (code mapped once, message kept). */
export function fromGrpcError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: number; details?: string; message?: string };
  if (typeof e.code === "number")
    return new AppError(errorCodeOfGrpcStatus(e.code), e.details || e.message || "gRPC error", {
      cause: err,
    });
  return new AppError("UNAVAILABLE", (err as Error).message ?? String(err), { cause: err });
}

/**
 * Creates the client: one HTTP/2 channel (to one replica at a time) with keepalive (30 s pings, within what servers
 * tolerate), PIPED-TOKEN metadata on every call, a deadline on every unary call.
 */
export function createApiClient(o: ApiClientOptions): ApiClient {
  const creds = o.insecure
    ? grpc.credentials.createInsecure()
    : grpc.credentials.createSsl(o.caCert ?? null);
  const raw = createGrpcClient(PipedService, grpcTarget(o.address), creds, {
    "grpc.service_config": PIPED_SERVICE_CONFIG,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 500,
    "grpc.max_reconnect_backoff_ms": 5_000,
  });
  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set("authorization", `PIPED-TOKEN ${o.projectId},${o.pipedId},${o.pipedKey}`);
    return md;
  };
  const callTimeoutMs = o.callTimeoutMs ?? 10_000;
  return {
    pipedId: o.pipedId,
    projectId: o.projectId,
    call(method, req, opts) {
      const fn = raw[method] as unknown as (r: unknown, co: CallOptions) => Promise<unknown>;
      return fn(req, {
        metadata: metadata(),
        timeoutMs: opts?.timeoutMs ?? callTimeoutMs,
        signal: opts?.signal,
      }).catch((err: unknown) => {
        throw fromGrpcError(err);
      }) as ReturnType<GrpcClient<Svc>[typeof method]>;
    },
    watch(afterSequence, signal) {
      return raw.watch({ afterSequence }, { metadata: metadata(), signal });
    },
    close: () => raw.close(),
  };
}
