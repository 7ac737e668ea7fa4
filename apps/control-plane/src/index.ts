export {
  startControlPlane,
  CONTROL_PLANE_VERSION,
  type ControlPlane,
  type ControlPlaneOptions,
} from "./server.js";
export { formatPipedToken, parsePipedToken, parseApiKey } from "./auth/principal.js";
export { hashPassword, verifyPassword } from "./auth/secrets.js";
