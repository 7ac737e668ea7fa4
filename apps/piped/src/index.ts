export {
  createPiped,
  inspectAppConfig,
  PIPED_VERSION,
  type Piped,
  type PipedOptions,
} from "./piped.js";
export { globToRegExp, isTouched } from "./trigger/trigger.js";
