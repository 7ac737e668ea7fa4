import type { Command, WatchResponse } from "@pipecd-ts/proto";
import { backoffDelay, sleep, type Logger, type Service } from "@pipecd-ts/runtime";
import { fromGrpcError, type ApiClient } from "./client.js";

/** What the command stream tells the rest of the piped. */
export interface WatchHandlers {
  /** A command for this piped, in sequence order (at least once: handlers must be idempotent). */
  onCommand(cmd: Command): void;
  /** Applications of this piped changed (added, updated, disabled). */
  onApplicationsChanged(ids: string[]): void;
  /** One of this piped's repositories was pushed to (a Git webhook): fetch it now. */
  onRepositoryPushed?(repositoryId: string, branch: string, commit: string): void;
  /** Events were registered: the event watcher looks now. */
  onEventsRegistered?(): void;
  /** The stream (re)connected: caches must re-list everything. */
  onConnected(): void;
}

/**
 * Keeps the Watch stream open: reconnects with jittered backoff (capped at 10 s) after any end
 * or error, resuming after the last command sequence seen, so no command is lost across
 * reconnects; every (re)connection triggers a full re-list.
 */
export class CommandStream implements Service {
  readonly name = "command-stream";
  private lastSeq = 0n;
  private connected = false;

  constructor(
    private readonly api: Pick<ApiClient, "watch">,
    private readonly handlers: WatchHandlers,
    private readonly logger: Logger,
  ) {}

  /** Whether a stream is currently open. */
  isConnected(): boolean {
    return this.connected;
  }

  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const ended = await this.once(signal);
      this.connected = false;
      if (signal.aborted) return;
      attempt = ended === "had-data" ? 1 : attempt + 1;
      const delay = backoffDelay(attempt, { initialDelayMs: 200, maxDelayMs: 10_000 });
      this.logger.warn(
        { delayMs: delay, afterSequence: String(this.lastSeq) },
        "Watch stream ended; reconnecting",
      );
      await sleep(delay, signal).catch(() => undefined);
    }
  }

  private once(signal: AbortSignal): Promise<"had-data" | "no-data"> {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const call = this.api.watch(this.lastSeq, ac.signal);
    let hadData = false;
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener("abort", onAbort);
        call.removeAllListeners();
        call.on("error", () => undefined);
        ac.abort();
        resolve(hadData ? "had-data" : "no-data");
      };
      call.on("metadata", () => {
        if (!this.connected) {
          this.connected = true;
          this.handlers.onConnected();
        }
      });
      call.on("data", (msg: WatchResponse) => {
        if (!hadData && !this.connected) {
          this.connected = true;
          this.handlers.onConnected();
        }
        hadData = true;
        switch (msg.event.case) {
          case "command":
            if (msg.event.value.sequence > this.lastSeq) this.lastSeq = msg.event.value.sequence;
            this.handlers.onCommand(msg.event.value);
            break;
          case "applicationsChanged":
            this.handlers.onApplicationsChanged(msg.event.value.applicationIds);
            break;
          case "eventsRegistered":
            this.handlers.onEventsRegistered?.();
            break;
          case "repositoryPushed": {
            const p = msg.event.value;
            this.handlers.onRepositoryPushed?.(p.repositoryId, p.branch, p.commit);
            break;
          }
          case "heartbeat":
          case undefined:
            break;
        }
      });
      call.on("error", (err: unknown) => {
        if (!signal.aborted)
          this.logger.warn({ err: fromGrpcError(err).message }, "Watch stream error");
        done();
      });
      call.on("end", done);
    });
  }
}
