import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  WatchResponseSchema,
  WatchResponse_ApplicationsChangedSchema,
  WatchResponse_EventsRegisteredSchema,
  WatchResponse_RepositoryPushedSchema,
  WatchResponse_HeartbeatSchema,
  type Command,
  type GrpcServiceImpl,
  type PipedService,
  type WatchResponse,
} from "@pipecd-ts/proto";
import type { ControlPlaneLimits } from "@pipecd-ts/config";
import type { Datastore } from "@pipecd-ts/datastore";
import { AppError, grpcStatusOf, toAppError, type Clock, type Logger } from "@pipecd-ts/runtime";
import type { Authenticator } from "../auth/authenticator.js";
import type { Hub } from "../hub.js";
import type { Metrics } from "../metrics.js";
import { checkRequest, inputOf } from "./request-checks.js";

/** Options of {@link createWatchHandler}. */
export interface WatchOptions {
  ds: Pick<Datastore, "commands">;
  auth: Pick<Authenticator, "piped">;
  hub: Pick<Hub, "attach" | "emit">;
  metrics: Pick<Metrics, "rpcRequests">;
  clock: Clock;
  logger: Logger;
  /** Interval of Watch heartbeats (also refreshes the piped's last-seen time). */
  heartbeatIntervalMs: number;
  /**
   * Aborted when the server starts to stop: every Watch stream then ends with UNAVAILABLE, so
   * the stop does not wait out its grace period for streams that never end on their own, and
   * the pipeds reconnect (to another replica, or to this one once it is back) at once.
   */
  stopping: AbortSignal;
  /** How many Watch streams one piped may hold open (the oldest gives way). */
  limits: Pick<ControlPlaneLimits, "watchStreamsPerPiped">;
  /** Records now as the piped's last-seen time (when its stream opens and on each heartbeat). */
  touch: (pipedId: string) => void;
}

/** The PipedService Watch handler. */
export type WatchHandler = GrpcServiceImpl<typeof PipedService.method>["watch"];

/**
 * Builds the Watch handler: authenticates the stream, then sends the piped its unhandled commands
 * after the sequence it names (again whenever more are stored, and on every heartbeat), tells it
 * which applications changed, and ends the stream when its access changes, when the server
 * stops, or when the piped opens more streams than its limit.
 */
export function createWatchHandler(o: WatchOptions): WatchHandler {
  const { ds, hub, clock } = o;
  const now = () => timestampFromDate(clock.now());
  const watchInput = inputOf("Watch");
  /** The open Watch streams of each piped, oldest first (each entry ends its stream). */
  const watchStreams = new Map<string, Set<() => void>>();
  return (call) => {
    const header = call.metadata.get("authorization")[0];
    o.metrics.rpcRequests.inc({ method: "Watch", code: "STARTED" });
    let detach = (): void => {};
    let heartbeat: NodeJS.Timeout | undefined;
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      detach();
      clearInterval(heartbeat);
    };
    call.on("cancelled", close);
    call.on("close", close);
    call.on("error", close);

    const fail = (err: unknown): void => {
      const e = toAppError(err);
      if (e.code === "INTERNAL") o.logger.error({ err }, "Watch failed");
      close();
      call.emit("error", { code: grpcStatusOf(e.code), details: e.message });
    };
    const onStopping = (): void => {
      if (!closed) fail(new AppError("UNAVAILABLE", "the control plane is stopping; reconnect"));
    };
    if (o.stopping.aborted) {
      onStopping();
      return;
    }
    o.stopping.addEventListener("abort", onStopping, { once: true });
    const detachStopping = (): void => o.stopping.removeEventListener("abort", onStopping);
    call.on("close", detachStopping);
    call.on("cancelled", detachStopping);

    o.auth.piped(typeof header === "string" ? header : undefined).then((piped) => {
      if (closed) return;
      try {
        checkRequest(watchInput, call.request);
      } catch (err) {
        fail(err);
        return;
      }
      // At most watchStreamsPerPiped streams per piped: the oldest gives way, so a piped
      // that restarted (its old stream not yet noticed as dead) is never locked out.
      const mine = watchStreams.get(piped.pipedId) ?? new Set<() => void>();
      watchStreams.set(piped.pipedId, mine);
      const evict = (): void => {
        if (closed) return;
        fail(
          new AppError(
            "UNAVAILABLE",
            `too many Watch streams for piped ${piped.pipedId} (limits.watchStreamsPerPiped: ${o.limits.watchStreamsPerPiped}); this oldest one is closed`,
          ),
        );
      };
      while (mine.size >= o.limits.watchStreamsPerPiped) {
        const oldest = mine.values().next().value;
        if (!oldest) break;
        mine.delete(oldest);
        oldest();
      }
      mine.add(evict);
      const forget = (): void => {
        mine.delete(evict);
        if (mine.size === 0 && watchStreams.get(piped.pipedId) === mine)
          watchStreams.delete(piped.pipedId);
      };
      call.on("close", forget);
      call.on("cancelled", forget);
      const log = o.logger.child({ pipedId: piped.pipedId });
      let lastSeq = call.request.afterSequence;
      let pumping = false;
      let again = false;

      /** Writes a message, waiting for 'drain' when the socket buffer is full. */
      const write = async (msg: WatchResponse): Promise<void> => {
        if (closed) return;
        if (!call.write(msg)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              call.off("drain", done);
              call.off("close", done);
              resolve();
            };
            call.on("drain", done);
            call.on("close", done);
          });
        }
      };

      /** Sends every unhandled command after lastSeq; re-runs if notified meanwhile. */
      const pump = async (): Promise<void> => {
        if (pumping) {
          again = true;
          return;
        }
        pumping = true;
        try {
          do {
            again = false;
            for (;;) {
              const cmds: Command[] = await ds.commands.listUnhandledAfter(
                piped.pipedId,
                lastSeq,
                200,
              );
              for (const c of cmds) {
                if (closed) return;
                await write(create(WatchResponseSchema, { event: { case: "command", value: c } }));
                lastSeq = c.sequence;
              }
              if (cmds.length < 200) break;
            }
          } while (again && !closed);
        } finally {
          pumping = false;
        }
      };
      const kick = (): void => {
        pump().catch((err: unknown) => {
          log.warn({ err }, "could not send commands on Watch stream; closing it");
          fail(new AppError("UNAVAILABLE", "could not read commands; reconnect"));
        });
      };

      detach = hub.attach(piped.pipedId, {
        commandsAvailable: kick,
        // Disabled, or its key deleted (on any replica): the stream goes unless the piped's
        // credentials still pass.
        accessChanged: () => {
          o.auth.piped(typeof header === "string" ? header : undefined).catch((err: unknown) => {
            log.info({ err: (err as Error).message }, "ending the Watch stream: access changed");
            fail(err);
          });
        },
        eventsRegistered: () => {
          write(
            create(WatchResponseSchema, {
              event: {
                case: "eventsRegistered",
                value: create(WatchResponse_EventsRegisteredSchema, {}),
              },
            }),
          ).catch(() => undefined);
        },
        repositoryPushed: (push) => {
          write(
            create(WatchResponseSchema, {
              event: {
                case: "repositoryPushed",
                value: create(WatchResponse_RepositoryPushedSchema, push),
              },
            }),
          ).catch(() => undefined);
        },
        applicationsChanged: (ids) => {
          write(
            create(WatchResponseSchema, {
              event: {
                case: "applicationsChanged",
                value: create(WatchResponse_ApplicationsChangedSchema, { applicationIds: ids }),
              },
            }),
          ).catch(() => undefined);
        },
      });
      o.touch(piped.pipedId);
      hub.emit({ type: "piped", id: piped.pipedId, pipedId: piped.pipedId, status: "ONLINE" });
      log.info({ afterSequence: String(lastSeq) }, "piped connected (Watch)");
      heartbeat = setInterval(() => {
        o.touch(piped.pipedId);
        // Safety net: a notification can be lost (e.g. PostgreSQL LISTEN reconnecting), so
        // every heartbeat also re-reads pending commands; a miss costs at most one interval.
        kick();
        write(
          create(WatchResponseSchema, {
            event: {
              case: "heartbeat",
              value: create(WatchResponse_HeartbeatSchema, { time: now() }),
            },
          }),
        ).catch(() => undefined);
      }, o.heartbeatIntervalMs);
      call.on("close", () => log.info("piped disconnected (Watch)"));
      kick();
    }, fail);
  };
}
