import type { Logger } from "pino";

/** A long-running component. `run` returns (or rejects) when `signal` aborts or it fails. */
export interface Service {
  readonly name: string;
  run(signal: AbortSignal): Promise<void>;
  /** Called if the service did not return within the grace period (e.g. destroy sockets). */
  forceStop?(): void;
}

/** Why the supervisor stopped its services. */
export class ShutdownReason extends Error {
  constructor(
    readonly kind: "terminate" | "failure",
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link supervise}. */
export interface SuperviseOptions {
  /** Root signal (wired to SIGTERM/SIGINT by main). */
  signal: AbortSignal;
  /** Phase one: how long services may drain after the stop signal before being forced. */
  gracePeriodMs: number;
  logger: Logger;
}

/**
 * Runs every service until the root signal aborts or one service fails, then stops them all in
 * two phases: abort their shared signal and wait up to `gracePeriodMs` for each `run` to return
 * (drain), then call `forceStop` on the ones still running. Resolves when all have stopped;
 * rejects with the first service failure, if any.
 */
export async function supervise(services: Service[], opts: SuperviseOptions): Promise<void> {
  const stop = new AbortController();
  let firstFailure: unknown;
  const onRootAbort = (): void => stop.abort(new ShutdownReason("terminate", "shutdown requested"));
  if (opts.signal.aborted) onRootAbort();
  else opts.signal.addEventListener("abort", onRootAbort, { once: true });

  const running = new Set<Service>(services);
  const done = services.map(async (svc) => {
    try {
      await svc.run(stop.signal);
      if (!stop.signal.aborted) {
        throw new Error(`service ${svc.name} returned before shutdown`);
      }
    } catch (err) {
      if (!stop.signal.aborted) {
        firstFailure ??= err;
        opts.logger.error({ err, service: svc.name }, "service failed; stopping all services");
        stop.abort(new ShutdownReason("failure", `service ${svc.name} failed`));
      } else if (!(err instanceof ShutdownReason) && !isAbortLike(err)) {
        opts.logger.warn({ err, service: svc.name }, "service errored while stopping");
      }
    } finally {
      running.delete(svc);
    }
  });

  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    else stop.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  opts.logger.info({ gracePeriodMs: opts.gracePeriodMs }, "stopping services");
  let graceTimer: NodeJS.Timeout | undefined;
  const grace = new Promise<"timeout">((resolve) => {
    graceTimer = setTimeout(() => resolve("timeout"), opts.gracePeriodMs);
  });
  const all = Promise.all(done).then(() => "done" as const);
  if ((await Promise.race([all, grace])) === "timeout") {
    for (const svc of running) {
      opts.logger.warn({ service: svc.name }, "grace period over; forcing stop");
      svc.forceStop?.();
    }
    await all;
  }
  clearTimeout(graceTimer);
  opts.signal.removeEventListener("abort", onRootAbort);
  if (firstFailure !== undefined) throw firstFailure as Error;
}

function isAbortLike(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "ShutdownReason");
}

/**
 * Returns a signal that aborts on the first SIGINT or SIGTERM. A second signal exits the process
 * at once (the operator insisted).
 */
export function signalOnTermination(logger: Logger): AbortSignal {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      logger.warn({ signal: sig }, "second signal; exiting now");
      process.exit(130);
    }
    logger.info({ signal: sig }, "received signal; shutting down");
    ac.abort(new ShutdownReason("terminate", `received ${sig}`));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return ac.signal;
}
