import * as grpc from "@grpc/grpc-js";
import {
  PipedService,
  createGrpcClient,
  type CallOptions,
  type GrpcClient,
} from "@pipecd-ts/proto";
import type { Stack } from "./stack.js";

/** A piped registered for a test, calling the control plane's PipedService as a piped does. */
export interface TestPiped {
  id: string;
  client: GrpcClient<typeof PipedService.method>;
  /** Per-call options carrying the piped's token. */
  opts: CallOptions;
  close(): void;
}

/**
 * Registers a piped over REST and connects a PipedService client with its token, so a test can
 * report what a piped reports (sync state, config stages, live state) without running one.
 */
export async function registerTestPiped(s: Stack, name: string): Promise<TestPiped> {
  const { id, key } = await s.admin.call("registerPiped", { body: { name } });
  const client = createGrpcClient(PipedService, s.grpcAddress, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  // The control plane's piped token: "PIPED-TOKEN <projectId>,<pipedId>,<key>".
  metadata.set("authorization", `PIPED-TOKEN default,${id},${key}`);
  return { id, client, opts: { metadata, timeoutMs: 10_000 }, close: () => client.close() };
}
