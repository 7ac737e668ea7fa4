export { startKubeSim, type KubeSim, type KubeSimOptions } from "./server.js";
export { NEVER_READY_ANNOTATION, podTemplateHash } from "./controllers/workloads.js";
export { Faults, type FaultSpec } from "./faults.js";
export type { Obj } from "./object.js";
export { Auth, type AuthorizationMode, type Identity, type ResourceAttributes } from "./rbac.js";
