import type { OperationId, RequestOf, ResponseOf } from "@pipecd-ts/rest-api";
import type { ArgSpec, CommandSpec } from "../command.js";

/** Operations that take just an `{id}` path parameter and no body. */
type IdOperation =
  | "getPiped"
  | "deleteOldPipedKeys"
  | "disablePiped"
  | "enablePiped"
  | "disableAPIKey"
  | "disableApplication"
  | "enableApplication";

/**
 * A command `pipectl <group> <verb> ID` that calls one `{id}` operation and prints its response
 * (as is with -o json, through `render` otherwise).
 */
export function idCommand<K extends IdOperation & OperationId>(c: {
  group: string;
  verb: string;
  summary: string;
  arg: ArgSpec;
  /** The JSON shape, for --help. */
  json: string;
  op: K;
  render(res: ResponseOf<K>): string;
}): CommandSpec {
  return {
    group: c.group,
    verb: c.verb,
    summary: c.summary,
    args: [c.arg],
    details: `JSON: ${c.json}`,
    async run(ctx, _v, [id = ""]) {
      const res = await (await ctx.client()).call(c.op, { params: { id } } as RequestOf<K>);
      ctx.print(res, () => c.render(res));
    },
  };
}
