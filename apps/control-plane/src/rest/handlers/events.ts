import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { DeploymentChainSchema, EventSchema, EventStatus } from "@pipecd-ts/proto";
import { makeEventKey } from "@pipecd-ts/model";
import { json, type HandlerDeps, type HandlerKit, type Handlers } from "./shared.js";

/**
 * Registering events for the event watchers (PipeCD's RegisterEvent) and listing them; reading
 * the deployment chains the control plane keeps.
 */
export function eventHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<Handlers, "registerEvent" | "listEvents" | "getDeploymentChain"> {
  const { ds, actions, hub, projectId } = deps;
  return {
    async registerEvent(req, ctx) {
      const b = req.body;
      const labels = b.labels ?? {};
      const stamp = kit.now();
      const ev = create(EventSchema, {
        id: randomUUID(),
        name: b.name,
        data: b.data,
        labels,
        contexts: b.contexts ?? {},
        projectId,
        eventKey: makeEventKey(b.name, labels),
        status: EventStatus.EVENT_NOT_HANDLED,
        statusDescription: `It is going to be replaced by ${b.data}`,
        createdAt: stamp,
        updatedAt: stamp,
      });
      await ds.events.create(ev);
      await actions.audit(
        ctx.principal,
        "event.register",
        "event",
        ev.id,
        { name: b.name, data: b.data },
        ctx.ip,
      );
      hub.emit({ type: "event", id: ev.id });
      await hub.eventsRegistered();
      return { event: json(EventSchema, ev) };
    },

    async getDeploymentChain(req) {
      const c = await kit.inProject(
        ds.chains.get(req.params.id),
        "deployment chain",
        req.params.id,
      );
      return { chain: json(DeploymentChainSchema, c) };
    },

    async listEvents(req) {
      const q = req.query ?? {};
      const limit = q.limit ?? 100;
      // A name filter reads the newest 1,000 and keeps that name's (no name column to index).
      const events = await ds.events.list({ projectId, limit: q.name ? 1_000 : limit });
      return {
        events: events
          .filter((e) => !q.name || e.name === q.name)
          .slice(0, limit)
          .map((e) => json(EventSchema, e)),
      };
    },
  };
}
