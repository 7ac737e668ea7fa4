import { longTimeoutSignal, sleep } from "@pipecd-ts/runtime";
import type { Context } from "./command.js";
import { CliError, ExitCode, isTransient, type ExitCodeValue } from "./errors.js";
import { describeProgress, isFinal, type DeploymentJson } from "./deployments.js";
import { elapsed, fields } from "./output.js";
import { openEventStream, type EventStream } from "./sse.js";

/** Options of {@link waitForDeployment}. */
export interface WaitOptions {
  deploymentId: string;
  /** A final status, e.g. DEPLOYMENT_SUCCESS. */
  target: string;
  timeoutMs: number;
  /** Re-read the deployment at least this often, events or not (default 5 s). */
  pollMs?: number;
}

/**
 * Live progress on stderr: on a terminal one line redrawn every second (status, current stage,
 * elapsed); otherwise one line per change, so logs of CI jobs stay readable.
 */
class Progress {
  private last = "";
  private line = "";
  private readonly ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly id: string,
    private readonly start: number,
  ) {
    if (ctx.io.stderrIsTTY) this.ticker = setInterval(() => this.draw(), 1000);
  }

  private text(): string {
    return `[${elapsed(Date.now() - this.start)}] deployment ${this.id}: ${this.line}`;
  }

  private draw(): void {
    if (this.line) this.ctx.io.stderr(`\r\x1b[K${this.text()}`);
  }

  /** Shows a new state (printed at once when it differs from the last one). */
  show(line: string): void {
    if (line === this.last) return;
    this.last = this.line = line;
    if (this.ctx.io.stderrIsTTY) this.draw();
    else this.ctx.io.stderr(`${this.text()}\n`);
  }

  /** Ends the redrawn line. */
  done(): void {
    clearInterval(this.ticker);
    if (this.ctx.io.stderrIsTTY && this.line) this.ctx.io.stderr("\n");
  }
}

/**
 * `deployment wait`: follows a deployment until it is final, from the SSE stream
 * (`GET /api/v1/stream`) with a slow poll as a safety net, and tells whether it ended with
 * `target`. The stream is opened (and so subscribed) before the first GET: a status reached in
 * between is either in that GET or announced on the stream, never missed. After the first
 * answer, a control plane that goes away (restart) is waited for until the deadline.
 */
export async function waitForDeployment(ctx: Context, o: WaitOptions): Promise<ExitCodeValue> {
  const client = await ctx.client();
  const apiKey = await ctx.apiKey();
  const start = Date.now();
  const deadline = longTimeoutSignal(o.timeoutMs);
  const finished = new AbortController();
  const signal = AbortSignal.any([deadline, finished.signal]);
  const pollMs = o.pollMs ?? 5000;
  const progress = new Progress(ctx, o.deploymentId, start);

  // A change announced while the main loop is busy reading must not be lost: `dirty` keeps it
  // until the next nap, which then returns at once.
  let wake: (() => void) | undefined;
  let dirty = false;
  let fatal: Error | undefined;
  const poke = (): void => {
    dirty = true;
    wake?.();
  };
  const napUntilPoked = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      if (dirty || signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      }
      wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  const open = (): Promise<EventStream> =>
    openEventStream({
      address: ctx.address,
      apiKey,
      connectTimeoutMs: ctx.requestTimeoutMs,
      idleTimeoutMs: 45_000,
      signal,
    });
  const get = async (): Promise<DeploymentJson> =>
    (await client.call("getDeployment", { params: { id: o.deploymentId } }, signal)).deployment;

  let d: DeploymentJson | undefined;
  let first: EventStream | undefined;
  let streamLoop: Promise<void> = Promise.resolve();
  try {
    // The first stream and GET: any failure here is final (wrong key, unknown id, server down).
    first = await open();
    d = await get();
    streamLoop = (async () => {
      let s: EventStream | undefined = first;
      while (!signal.aborted) {
        if (!s) {
          try {
            s = await open();
            poke(); // changes made while it was away: re-read
          } catch (err) {
            if (signal.aborted) return;
            if (!isTransient(err)) {
              // e.g. the key was disabled meanwhile: waiting on is pointless
              fatal = err instanceof Error ? err : new Error(String(err));
              poke();
              return;
            }
            progress.show("control plane unreachable; reconnecting to the event stream");
          }
        }
        if (s) {
          try {
            for await (const ev of s.events)
              if (ev.deploymentId === o.deploymentId || ev.id === o.deploymentId) poke();
          } catch {
            // The stream broke (control plane stopped, connection lost, idle): reopen it.
          }
        }
        s?.close();
        s = undefined;
        await sleep(1000, signal).catch(() => undefined);
      }
    })();
    for (;;) {
      progress.show(describeProgress(d));
      if (isFinal(d.status)) break;
      await napUntilPoked(pollMs);
      if (fatal) throw fatal;
      if (signal.aborted) break;
      dirty = false;
      try {
        d = await get();
      } catch (err) {
        if (signal.aborted) break;
        if (!isTransient(err)) throw err;
        progress.show("control plane unreachable; retrying");
      }
    }
  } catch (err) {
    if (!deadline.aborted) throw err;
  } finally {
    finished.abort();
    first?.close();
    progress.done();
    await streamLoop;
  }
  const waited = elapsed(Date.now() - start);
  const status = d?.status ?? "unknown";
  if (d && isFinal(d.status)) {
    ctx.print({ deployment: d }, () =>
      fields([
        ["Deployment", o.deploymentId],
        ["Status", `${status}${d?.statusReason ? ` (${d.statusReason})` : ""}`],
        ["Waited", waited],
      ]),
    );
    if (status === o.target) return ExitCode.OK;
    throw new CliError(
      `deployment ${o.deploymentId} ended ${status}, not ${o.target}${d.statusReason ? `: ${d.statusReason}` : ""}`,
      ExitCode.WRONG_STATUS,
    );
  }
  if (d) ctx.print({ deployment: d }, () => "");
  throw new CliError(
    `timed out after ${elapsed(o.timeoutMs)} waiting for deployment ${o.deploymentId} to reach ${o.target} (now: ${d ? describeProgress(d) : "unknown"})`,
    ExitCode.WAIT_TIMEOUT,
  );
}
