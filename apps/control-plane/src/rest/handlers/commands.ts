import { CommandSchema } from "@pipecd-ts/proto";
import { json, type HandlerDeps, type HandlerKit, type Handlers } from "./shared.js";

/** Reading one command (what became of a sync, cancel, approve, reject or skip). */
export function commandHandlers(
  deps: Pick<HandlerDeps, "ds">,
  kit: HandlerKit,
): Pick<Handlers, "getCommand"> {
  const { ds } = deps;
  return {
    async getCommand(req) {
      const c = await kit.inProject(ds.commands.get(req.params.id), "command", req.params.id);
      return { command: json(CommandSchema, c) };
    },
  };
}
