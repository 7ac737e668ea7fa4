import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Application, Deployment, Piped } from "@pipecd-ts/proto";
import type { Datastore } from "@pipecd-ts/datastore";
import type { OperationId, RequestOf, ResponseOf } from "@pipecd-ts/rest-api";
import { NotFoundError, type Clock } from "@pipecd-ts/runtime";
import type { Actions } from "../../actions.js";
import type { Authenticator } from "../../auth/authenticator.js";
import type { Principal } from "../../auth/principal.js";
import type { Hub } from "../../hub.js";
import { toRestJson } from "../../wire.js";

/** What a handler gets besides its validated request. */
export interface HandlerContext {
  principal: Principal;
  ip: string;
  /** Sets the session cookie (login) or clears it (logout). */
  setSession(token: string | undefined, expiresAt?: Date): void;
}

/** A handler of one operation. */
export type Handler<K extends OperationId> = (
  req: RequestOf<K>,
  ctx: HandlerContext,
) => Promise<ResponseOf<K>>;

/** Handlers of every operation. */
export type Handlers = { [K in OperationId]: Handler<K> };

/** Dependencies of the REST handlers. */
export interface HandlerDeps {
  ds: Datastore;
  auth: Authenticator;
  actions: Actions;
  hub: Hub;
  clock: Clock;
  projectId: string;
  /** A piped is ONLINE if seen within this window (or connected here). */
  offlineAfterMs: number;
}

/** A stored message as its REST JSON, typed as whatever the response declares. */
export const json = <D extends DescMessage>(schema: D, msg: MessageShape<D>) =>
  toRestJson(schema, msg) as never;

/** What the handlers of every resource share, bound to the project of one {@link HandlerDeps}. */
export interface HandlerKit {
  /** The clock's time as a protobuf timestamp. */
  now: () => Timestamp;
  /** What `p` resolves to if it belongs to this project; else `${what} ${id} not found`. */
  inProject: <T extends { projectId: string }>(
    p: Promise<T>,
    what: string,
    id: string,
  ) => Promise<T>;
  /** An application of this project (deleted ones included). */
  getApp: (id: string) => Promise<Application>;
  /** A deployment of this project. */
  getDeployment: (id: string) => Promise<Deployment>;
  /** A piped of this project. */
  getPiped: (id: string) => Promise<Piped>;
}

/** Builds the {@link HandlerKit} that `createHandlers` hands to every resource's part. */
export function handlerKit(deps: Pick<HandlerDeps, "ds" | "clock" | "projectId">): HandlerKit {
  const { ds, clock, projectId } = deps;
  async function inProject<T extends { projectId: string }>(
    p: Promise<T>,
    what: string,
    id: string,
  ): Promise<T> {
    const v = await p;
    if (v.projectId !== projectId) throw new NotFoundError(`${what} ${id} not found`);
    return v;
  }
  return {
    now: () => timestampFromDate(clock.now()),
    inProject,
    getApp: (id) => inProject(ds.applications.get(id), "application", id),
    getDeployment: (id) => inProject(ds.deployments.get(id), "deployment", id),
    getPiped: (id) => inProject(ds.pipeds.get(id), "piped", id),
  };
}
