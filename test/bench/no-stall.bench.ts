// Benchmark (not a test): can one piped and a crowd of stuck browsers stall the control plane?
// While one piped sends 100,000 stage log blocks (first as one call, then in calls of
// stageLogBlocksPerCall), 15 MB of metadata and a flood of deployments (each an event), and 100
// event-stream clients (each its own API key) stop reading, another caller's REST reads are timed
// from a separate process, and the control plane's memory is sampled from /proc.
// Goals (issue 13): others' REST p99 < 100 ms, control-plane RSS < 400 MB.
// Usage: node --import tsx test/bench/no-stall.bench.ts [--deployments 20000] [--sse 100]
//        (runs on SQLite, and on PostgreSQL when PG_URL is set, as `make bench` does)
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { request, type ClientRequest, type IncomingMessage } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { DeploymentSchema, PipedService, StageStatus, createGrpcClient } from "@pipecd-ts/proto";
import { createRestClient } from "@pipecd-ts/rest-api";
import { freshPgDatabase, memoryMiB, pct, startServer, stop } from "./server.js";

const { values } = parseArgs({
  options: {
    deployments: { type: "string", default: "20000" },
    sse: { type: "string", default: "100" },
    blocks: { type: "string", default: "100000" },
    "metadata-mb": { type: "string", default: "15" },
    // Internal: this file re-run as the probe process.
    probe: { type: "string" },
  },
});

/** The probe: GETs another caller makes, one after another, until stdin closes. */
async function probe(baseUrl: string, key: string, deploymentId: string): Promise<void> {
  const paths = [
    "/api/v1/applications",
    "/api/v1/deployments?limit=50",
    "/api/v1/me",
    `/api/v1/deployments/${deploymentId}`,
    "/api/v1/pipeds",
  ];
  let running = true;
  process.stdin.on("close", () => (running = false)).resume();
  const ms: number[] = [];
  let failed = 0;
  for (let i = 0; running; i++) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${baseUrl}${paths[i % paths.length]}`, {
        headers: { authorization: `Bearer ${key}` },
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      if (res.status !== 200) failed++;
    } catch {
      failed++;
    }
    ms.push(performance.now() - t0);
    if (i === paths.length - 1) process.stdout.write("ready\n"); // every path answered once
    await new Promise((r) => setTimeout(r, 5)); // pacing between reads
  }
  process.stdout.write(JSON.stringify({ ms, failed }) + "\n");
}

if (values.probe) {
  const [url, key, dep] = values.probe.split(" ");
  await probe(url!, key!, dep!);
  process.exit(0);
}

const DEPLOYMENTS = Number(values.deployments);
const SSE_CLIENTS = Number(values.sse);
const BLOCKS = Number(values.blocks);
const METADATA_MB = Number(values["metadata-mb"]);
/** Log blocks per call: the default limits.stageLogBlocksPerCall. */
const PER_CALL = 2_000;
const self = new URL(import.meta.url).pathname;

/** An event-stream client that reads the headers and then nothing. */
function stuckStream(
  baseUrl: string,
  key: string,
): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseUrl}/api/v1/stream`,
      { headers: { authorization: `Bearer ${key}` }, agent: false },
      (res) => {
        res.pause();
        if (res.statusCode !== 200) reject(new Error(`stream answered ${res.statusCode}`));
        else resolve({ req, res });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Runs `n` calls of `fn`, `inflight` at a time. */
async function pool(n: number, inflight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function bench(label: string, datastore: string | undefined) {
  const dataDir = await mkdtemp(join(tmpdir(), "pipecd-bench-"));
  const adminKey = `${randomUUID()}.${randomBytes(32).toString("base64url")}`;
  const srv = await startServer(datastore, dataDir, adminKey);
  const pid = srv.child.pid!;
  const rest = createRestClient({ baseUrl: srv.http, apiKey: adminKey });
  const streams: { req: ClientRequest; res: IncomingMessage; closed: boolean }[] = [];
  try {
    const piped = await rest.call("registerPiped", { body: { name: "loud" } });
    const app = await rest.call("addApplication", {
      body: { name: "app", pipedId: piped.id, gitPath: { repoId: "r", path: "app" } },
    });
    const md = new grpc.Metadata();
    md.set("authorization", `PIPED-TOKEN default,${piped.id},${piped.key}`);
    const client = createGrpcClient(PipedService, srv.grpc, grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": 64 << 20,
    });
    const opts = { metadata: md };
    const dep = "dep-loud";
    await client.createDeployment(
      { deployment: create(DeploymentSchema, { id: dep, applicationId: app.id }) },
      opts,
    );
    await client.reportDeploymentPlanned(
      { deploymentId: dep, stages: [{ id: "s1", name: "K8S_CANARY_ROLLOUT", index: 0 }] },
      opts,
    );
    await client.reportDeploymentStatusChanged({ deploymentId: dep, status: 2 }, opts);
    await client.reportStageStatusChanged(
      { deploymentId: dep, stageId: "s1", status: StageStatus.STAGE_RUNNING },
      opts,
    );
    const viewerKeys = await Promise.all(
      Array.from({ length: SSE_CLIENTS + 1 }, async (_, i) => {
        const k = await rest.call("createAPIKey", { body: { name: `v${i}`, role: "viewer" } });
        return k.key;
      }),
    );
    const probeKey = viewerKeys.pop()!;
    for (const key of viewerKeys) {
      const s = { ...(await stuckStream(srv.http, key)), closed: false };
      s.res.socket.on("close", () => (s.closed = true));
      streams.push(s);
    }
    const before = memoryMiB(pid);

    // Memory, every 100 ms.
    let rssMax = before.rss;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, memoryMiB(pid).rss)), 100);
    const probeProc = spawn(
      process.execPath,
      ["--import", "tsx", self, "--probe", `${srv.http} ${probeKey} ${dep}`],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    type ProbeResult = { ms: number[]; failed: number };
    const lines = createInterface({ input: probeProc.stdout })[Symbol.asyncIterator]();
    const nextLine = async () => {
      const l = await lines.next();
      if (l.done) throw new Error("the probe exited without a result");
      return l.value;
    };
    if ((await nextLine()) !== "ready") throw new Error("the probe did not start");

    const t0 = performance.now();
    const block = (i: number) => ({
      index: BigInt(i),
      log: `line ${i} of the canary rollout`,
      severity: 0,
    });
    // 1. The 100,000 blocks as one call, as the original probe sent them.
    const oneCall = performance.now();
    const oneCallCode = await client
      .reportStageLogs(
        {
          deploymentId: dep,
          stageId: "s1",
          blocks: Array.from({ length: BLOCKS }, (_, i) => block(i)),
        },
        opts,
      )
      .then(
        () => "OK",
        (e: grpc.ServiceError) => grpc.status[e.code],
      );
    const oneCallMs = performance.now() - oneCall;
    const logs = async () => {
      // 2. The same blocks in calls the limit allows (stageLogBlocksPerCall, 2,000 by default),
      //    sent back to back.
      const per = PER_CALL;
      for (let from = 0; from < BLOCKS; from += per)
        await client.reportStageLogs(
          {
            deploymentId: dep,
            stageId: "s1",
            blocks: Array.from({ length: Math.min(per, BLOCKS - from) }, (_, i) => block(from + i)),
          },
          opts,
        );
    };
    let metadataStored = 0;
    let metadataRefused = 0;
    const metadata = async () => {
      // 3. 15 MB of metadata, 1 MB a call, on the deployment and on its stage.
      for (let i = 0; i < METADATA_MB; i++) {
        const value = "m".repeat(1_000_000);
        const call =
          i % 2
            ? client.saveStageMetadata(
                { deploymentId: dep, stageId: "s1", metadata: { [`k${i}`]: value } },
                opts,
              )
            : client.saveDeploymentMetadata(
                { deploymentId: dep, metadata: { [`k${i}`]: value } },
                opts,
              );
        await call.then(
          () => metadataStored++,
          () => metadataRefused++,
        );
      }
    };
    // 4. A flood of deployments: each one is a deployment and an application event for every
    //    stream, none of which is read.
    const flood = () =>
      pool(DEPLOYMENTS, 16, (i) =>
        client.createDeployment(
          { deployment: create(DeploymentSchema, { id: `flood-${i}`, applicationId: app.id }) },
          opts,
        ),
      );
    await Promise.all([logs(), metadata(), flood()]);
    const loadS = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1_000)); // a last second of probing after the load
    probeProc.stdin.end();
    const { ms, failed } = JSON.parse(await nextLine()) as ProbeResult;
    clearInterval(sampler);
    const after = memoryMiB(pid);
    const dropped = streams.filter((s) => s.closed).length;
    const stored = await rest.call("getStageLogs", {
      params: { id: dep, stageId: "s1" },
      query: { limit: 1 },
    });
    console.log(
      `${label}: load ${loadS.toFixed(1)} s — ${BLOCKS} log blocks as one call: ${oneCallCode} in ${oneCallMs.toFixed(0)} ms, then in ${Math.ceil(BLOCKS / PER_CALL)} calls of ${PER_CALL} (stored: ${stored.blocks.length ? "yes" : "no"}); ` +
        `${METADATA_MB} MB metadata in 1 MB calls: ${metadataStored} stored, ${metadataRefused} refused; ` +
        `${DEPLOYMENTS} deployments created (${DEPLOYMENTS * 2} events); ${SSE_CLIENTS} event streams not reading, ${dropped} dropped by the server`,
    );
    console.log(
      `${label}: others' REST reads during the load: ${ms.length} calls, p50 ${pct(ms, 0.5).toFixed(1)} ms, p99 ${pct(ms, 0.99).toFixed(1)} ms, max ${pct(ms, 1).toFixed(1)} ms, ${failed} failed (goal: p99 < 100 ms)`,
    );
    console.log(
      `${label}: control-plane RSS ${before.rss.toFixed(0)} MiB before, ${rssMax.toFixed(0)} MiB max sampled, ${after.rss.toFixed(0)} MiB after, peak (VmHWM) ${after.peak.toFixed(0)} MiB (goal: < 400 MB)`,
    );
    client.close();
  } finally {
    for (const s of streams) s.req.destroy();
    await stop(srv.child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await bench("sqlite", undefined);
if (process.env.PG_URL) await bench("postgres", await freshPgDatabase());
else console.log("postgres: skipped (PG_URL not set; run via `make bench`)");
