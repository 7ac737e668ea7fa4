export {
  createPiped,
  inspectAppConfig,
  PIPED_VERSION,
  type Piped,
  type PipedOptions,
} from "./piped.js";
export { isTouched } from "./trigger/trigger.js";
export { globToRegExp } from "./glob.js";
export { skipReason } from "./controller/scheduler.js";
