import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LogBlockSchema, LogSeverity, type LogBlock } from "@pipecd-ts/proto";
import type { StageLogger } from "@pipecd-ts/plugin-sdk";
import type { Clock, Logger, Service } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import type { Reporter } from "../apiclient/reporter.js";

/** Log blocks per ReportStageLogs call. */
const MAX_BLOCKS_PER_CALL = 1_000;

/** A stage's user-facing log; `complete()` flushes and marks it complete. */
export interface StageLog extends StageLogger {
  /** Sends buffered blocks and marks the log complete (later blocks are refused). */
  complete(): Promise<void>;
  /** Sends buffered blocks now. */
  flush(): Promise<void>;
}

interface Buffer {
  deploymentId: string;
  stageId: string;
  retriedCount: number;
  blocks: LogBlock[];
}

/**
 * Stage logs (PipeCD `logpersister`): executors write blocks, which are flushed every second,
 * at stage end, and last on shutdown. Block indexes are time-based (ms × 1000 + counter) so that
 * blocks written after a piped restart never collide with earlier ones (the control plane
 * de-duplicates by index). Delivery goes through the per-deployment report queue, so logs and
 * status reports stay in order and survive control-plane outages.
 */
export class StageLogPersister implements Service {
  readonly name = "stage-logs";
  private readonly buffers = new Set<Buffer>();
  private counter = 0;

  constructor(
    private readonly deps: {
      api: Pick<ApiClient, "call">;
      reporter: Pick<Reporter, "report">;
      clock: Clock;
      logger: Logger;
      flushIntervalMs?: number;
      /** Applied to every line: removes secrets the piped decrypted. */
      redact?: (text: string) => string;
    },
  ) {}

  /** The log of one stage attempt. */
  forStage(deploymentId: string, stageId: string, retriedCount = 0): StageLog {
    const buf: Buffer = { deploymentId, stageId, retriedCount, blocks: [] };
    this.buffers.add(buf);
    const add = (severity: LogSeverity, text: string): void => {
      const now = this.deps.clock.now();
      this.counter = (this.counter + 1) % 1000;
      buf.blocks.push(
        create(LogBlockSchema, {
          index: BigInt(now.getTime()) * 1000n + BigInt(this.counter),
          log: this.deps.redact ? this.deps.redact(text) : text,
          severity,
          createdAt: timestampFromDate(now),
        }),
      );
    };
    return {
      info: (t) => add(LogSeverity.INFO, t),
      success: (t) => add(LogSeverity.SUCCESS, t),
      error: (t) => add(LogSeverity.ERROR, t),
      flush: () => this.send(buf, false),
      complete: async () => {
        await this.send(buf, true);
        this.buffers.delete(buf);
      },
    };
  }

  private async send(buf: Buffer, completed: boolean): Promise<void> {
    const blocks = buf.blocks.splice(0);
    if (blocks.length === 0 && !completed) return;
    // Batches well under the control plane's blocks-per-call limit (limits.stageLogBlocksPerCall,
    // 2,000 by default), in order; only the last one completes the log.
    for (let i = 0; i < Math.max(1, blocks.length); i += MAX_BLOCKS_PER_CALL) {
      const batch = blocks.slice(i, i + MAX_BLOCKS_PER_CALL);
      const last = i + MAX_BLOCKS_PER_CALL >= blocks.length;
      await this.deps.reporter.report(buf.deploymentId, `stage logs ${buf.stageId}`, (signal) =>
        this.deps.api.call(
          "reportStageLogs",
          {
            deploymentId: buf.deploymentId,
            stageId: buf.stageId,
            retriedCount: buf.retriedCount,
            blocks: batch,
            completed: completed && last,
          },
          { signal },
        ),
      );
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const every = this.deps.flushIntervalMs ?? 1_000;
    let wake: (() => void) | undefined;
    signal.addEventListener("abort", () => wake?.(), { once: true });
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, every);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      await Promise.all([...this.buffers].map((b) => this.send(b, false)));
    }
    // Last flush on shutdown (not marked complete: a terminated stage re-runs after restart).
    await Promise.all([...this.buffers].map((b) => this.send(b, false)));
  }
}
