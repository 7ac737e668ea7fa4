import { labels, list, required } from "../args.js";
import type { GroupSpec } from "../command.js";
import { fields } from "../output.js";

/** PipeCD's `--labels k=v,k2=v2` and the repeated form alike. */
function pairs(v: Parameters<typeof labels>[0], name: string, hint: string) {
  return labels({ [name]: list(v, name).flatMap((x) => x.split(",")) }, name, hint);
}

/** `pipectl event register` (PipeCD's), for the event watchers of applications. */
export const eventGroup: GroupSpec = {
  name: "event",
  summary: "events for the event watchers (an image pushed → a commit that deploys it)",
  commands: [
    {
      group: "event",
      verb: "register",
      summary: "register an event: applications watching its name and labels commit its data",
      flags: {
        name: { type: "string", arg: "NAME", help: "the event's name (required)" },
        data: { type: "string", arg: "DATA", help: "the new value, e.g. an image tag (required)" },
        labels: {
          type: "string",
          multiple: true,
          arg: "K=V[,K=V]",
          help: "labels; an event matches a watcher with exactly these",
        },
        contexts: {
          type: "string",
          multiple: true,
          arg: "K=V[,K=V]",
          help: "trailers of the commit the event makes (keys like Source-Url)",
        },
      },
      details:
        'JSON: {"event": Event} with its id, eventKey and status EVENT_NOT_HANDLED. Follow it with the event list (GET /api/v1/events): the watcher sets SUCCESS, FAILURE or OUTDATED.',
      async run(ctx, v) {
        const name = required(v, "name", ctx.helpHint);
        const data = required(v, "data", ctx.helpHint);
        const { event } = await (
          await ctx.client()
        ).call("registerEvent", {
          body: {
            name,
            data,
            labels: pairs(v, "labels", ctx.helpHint),
            contexts: pairs(v, "contexts", ctx.helpHint),
          },
        });
        ctx.print({ event }, () =>
          fields([
            ["Event", event.id ?? ""],
            ["Name", event.name ?? ""],
            ["Data", event.data ?? ""],
            ["Status", event.status ?? ""],
          ]),
        );
      },
    },
  ],
};
