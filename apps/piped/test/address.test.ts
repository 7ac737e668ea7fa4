import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { PIPED_SERVICE_CONFIG, grpcTarget } from "../src/apiclient/address.js";

// The piped's list of control-plane addresses over real gRPC on loopback: two servers that
// answer with their own name stand in for two replicas.

const def = {
  ping: {
    path: "/test.Replica/Ping",
    requestStream: false,
    responseStream: false,
    requestSerialize: (x: Buffer) => x,
    requestDeserialize: (x: Buffer) => x,
    responseSerialize: (x: Buffer) => x,
    responseDeserialize: (x: Buffer) => x,
  },
} satisfies grpc.ServiceDefinition;
const Client = grpc.makeGenericClientConstructor(def, "Replica");
type PingClient = grpc.Client & {
  ping(
    req: Buffer,
    o: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: Buffer) => void,
  ): void;
};

describe("control-plane address list", () => {
  const servers: grpc.Server[] = [];
  let target = "";
  before(async () => {
    const ports: number[] = [];
    for (const name of ["A", "B"]) {
      const s = new grpc.Server();
      s.addService(def, {
        ping: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)),
      });
      ports.push(
        await new Promise<number>((resolve, reject) =>
          s.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
            err ? reject(err) : resolve(port),
          ),
        ),
      );
      servers.push(s);
    }
    target = grpcTarget(ports.map((p) => `127.0.0.1:${p}`).join(", "));
  });
  after(() => {
    for (const s of servers) s.forceShutdown();
  });

  const channel = () =>
    new Client(target, grpc.credentials.createInsecure(), {
      "grpc.service_config": PIPED_SERVICE_CONFIG,
      "grpc.initial_reconnect_backoff_ms": 100,
    }) as unknown as PingClient;
  const ping = (c: PingClient) =>
    new Promise<string>((resolve, reject) =>
      c.ping(Buffer.alloc(0), { deadline: Date.now() + 5_000 }, (err, res) =>
        err ? reject(err) : resolve(res?.toString() ?? ""),
      ),
    );

  it("pipeds spread over the replicas, and one whose replica goes away moves to the other", async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      const c = channel();
      const who = await ping(c);
      seen[who] = (seen[who] ?? 0) + 1;
      c.close();
    }
    assert.ok(
      (seen.A ?? 0) > 0 && (seen.B ?? 0) > 0,
      `both replicas chosen: ${JSON.stringify(seen)}`,
    );

    const c = channel();
    try {
      const first = await ping(c);
      const other = first === "A" ? "B" : "A";
      servers[first === "A" ? 0 : 1]!.forceShutdown();
      // The first call after the drop may fail with UNAVAILABLE; the next ones reach the other.
      const deadline = Date.now() + 5_000;
      let now = "";
      while (now !== other && Date.now() < deadline) now = await ping(c).catch(() => "");
      assert.equal(now, other);
    } finally {
      c.close();
    }
  });
});
