export * from "./schemas.js";
export {
  Routes,
  type Access,
  type CommandAccepted,
  type OperationId,
  type PlanPreviewCommand,
  type PlanPreviewResult,
  type ResponseOf,
  type RouteDef,
  type StreamEvent,
  type StreamReady,
  type StreamEventType,
  type UserInfo,
} from "./routes.js";
export {
  RestError,
  createRestClient,
  routeUrl,
  type RequestOf,
  type RestClient,
  type RestClientOptions,
} from "./client.js";
export { buildOpenApiDocument } from "./openapi.js";
// The one-line form of a config warning, for the clients (web UI, pipectl). The subpath keeps
// the browser bundle free of what the model's index imports (the gRPC runtime among it).
export { formatConfigWarning, type ConfigWarningLike } from "@pipecd-ts/model/warnings";
export type { PlanPreviewApplication, PlanPreviewOutput } from "@pipecd-ts/model/plan-preview";
export { resourceTree, type TreeResource, type TreeRow } from "./resource-tree.js";
