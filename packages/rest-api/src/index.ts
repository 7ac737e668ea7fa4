export * from "./schemas.js";
export {
  Routes,
  type Access,
  type CommandAccepted,
  type OperationId,
  type ResponseOf,
  type RouteDef,
  type StreamEvent,
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
