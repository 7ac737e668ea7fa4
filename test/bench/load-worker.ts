// Load-generator process of control-plane.bench.ts: drives stage-status reports for the pipeds
// it is given (argv[2] is a JSON WorkerInput) and prints one JSON WorkerResult line on stdout.
// Several of these run at once so the load generator is not the bottleneck on 2 cores.
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { DeploymentSchema, PipedService, StageStatus, createGrpcClient } from "@pipecd-ts/proto";

/** What the parent hands a worker. */
export interface WorkerInput {
  grpc: string;
  pipeds: { id: string; key: string; appId: string }[];
  inflight: number;
  seconds: number;
  stages: number;
  /** Epoch ms at which all workers start (so none is still loading while others measure). */
  startAt: number;
  /** Load is applied but not counted for this long after startAt (JIT warm-up). */
  warmupMs: number;
}

/** What a worker reports back. */
export interface WorkerResult {
  reports: number;
  otherRpcs: number;
  elapsedS: number;
}

const input = JSON.parse(process.argv[2] ?? "{}") as WorkerInput;
const clients = input.pipeds.map((p) => {
  const md = new grpc.Metadata();
  md.set("authorization", `PIPED-TOKEN default,${p.id},${p.key}`);
  const client = createGrpcClient(PipedService, input.grpc, grpc.credentials.createInsecure());
  return { ...p, md, client };
});

let reports = 0;
let otherRpcs = 0;
await new Promise((r) => setTimeout(r, Math.max(0, input.startAt - Date.now())));
const measureFrom = input.startAt + input.warmupMs;
const deadline = measureFrom + input.seconds * 1000;
const counting = (): boolean => Date.now() >= measureFrom;
// Each loop walks fresh deployments, reporting RUNNING then SUCCESS for every stage, so every
// report is a real state change (no idempotent no-ops).
const loop = async (p: (typeof clients)[number]): Promise<void> => {
  const opts = { metadata: p.md, timeoutMs: 10_000 };
  while (Date.now() < deadline) {
    const id = randomUUID();
    await p.client.createDeployment(
      { deployment: create(DeploymentSchema, { id, applicationId: p.appId }) },
      opts,
    );
    const stages = Array.from({ length: input.stages }, (_, i) => ({
      id: `s${i}`,
      name: "WAIT",
      index: i,
    }));
    await p.client.reportDeploymentPlanned({ deploymentId: id, stages }, opts);
    await p.client.reportDeploymentStatusChanged({ deploymentId: id, status: 2 }, opts);
    if (counting()) otherRpcs += 3;
    for (const s of stages) {
      if (Date.now() >= deadline) return;
      for (const status of [StageStatus.STAGE_RUNNING, StageStatus.STAGE_SUCCESS]) {
        await p.client.reportStageStatusChanged({ deploymentId: id, stageId: s.id, status }, opts);
        if (counting()) reports++;
      }
    }
  }
};
await Promise.all(clients.flatMap((p) => Array.from({ length: input.inflight }, () => loop(p))));
const result: WorkerResult = { reports, otherRpcs, elapsedS: (Date.now() - measureFrom) / 1000 };
for (const c of clients) c.client.close();
process.stdout.write(JSON.stringify(result) + "\n");
