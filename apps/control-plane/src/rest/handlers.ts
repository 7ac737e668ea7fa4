import { apiKeyHandlers } from "./handlers/api-keys.js";
import { applicationHandlers } from "./handlers/applications.js";
import { auditLogHandlers } from "./handlers/audit-log.js";
import { commandHandlers } from "./handlers/commands.js";
import { deploymentHandlers } from "./handlers/deployments.js";
import { eventHandlers } from "./handlers/events.js";
import { pipedHandlers } from "./handlers/pipeds.js";
import { planPreviewHandlers } from "./handlers/plan-previews.js";
import { sessionHandlers } from "./handlers/session.js";
import { stageHandlers } from "./handlers/stages.js";
import { handlerKit, type HandlerDeps, type Handlers } from "./handlers/shared.js";

export type { Handler, HandlerContext, HandlerDeps, Handlers } from "./handlers/shared.js";

/** Builds every REST handler. Role checks happen before (route access); object rules here. */
export function createHandlers(deps: HandlerDeps): Handlers {
  const kit = handlerKit(deps);
  return {
    ...sessionHandlers(deps),
    ...pipedHandlers(deps, kit),
    ...apiKeyHandlers(deps, kit),
    ...applicationHandlers(deps, kit),
    ...deploymentHandlers(deps, kit),
    ...stageHandlers(deps, kit),
    ...commandHandlers(deps, kit),
    ...planPreviewHandlers(deps, kit),
    ...eventHandlers(deps, kit),
    ...auditLogHandlers(deps),
  };
}
