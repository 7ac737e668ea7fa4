export {
  createPiped,
  inspectAppConfig,
  PIPED_VERSION,
  type Piped,
  type PipedOptions,
} from "./piped.js";
export { Trigger, isTouched, type TriggerDeps } from "./trigger/trigger.js";
export { GitRepo } from "./trigger/git.js";
export { globToRegExp } from "./glob.js";
export { skipReason } from "./controller/scheduler.js";
