// Generated protobuf-es code (committed; `pnpm gen` regenerates it, CI fails on drift) and the
// grpc-js adapter. No hand-written domain logic lives here.
export * from "./gen/pipecd/model/v1/common_pb.js";
export * from "./gen/pipecd/model/v1/deployment_pb.js";
export * from "./gen/pipecd/model/v1/application_pb.js";
export * from "./gen/pipecd/model/v1/command_pb.js";
export * from "./gen/pipecd/model/v1/piped_pb.js";
export * from "./gen/pipecd/model/v1/apikey_pb.js";
export * from "./gen/pipecd/model/v1/logblock_pb.js";
export * from "./gen/pipecd/model/v1/audit_pb.js";
export * from "./gen/pipecd/model/v1/livestate_pb.js";
export * from "./gen/pipecd/model/v1/event_pb.js";
export * from "./gen/pipecd/model/v1/deployment_chain_pb.js";
export * from "./gen/pipecd/piped/v1/service_pb.js";
export {
  createGrpcClient,
  grpcServiceDefinition,
  undecodableRequest,
  type CallOptions,
  type RequestPrecheck,
  type GrpcClient,
  type GrpcServiceImpl,
} from "./grpc.js";
