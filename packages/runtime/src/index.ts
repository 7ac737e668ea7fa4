export {
  AppError,
  AlreadyExistsError,
  DeadlineExceededError,
  ErrorCodes,
  FailedPreconditionError,
  GrpcStatus,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  errorCodeOfGrpcStatus,
  errorCodeOfHttpStatus,
  grpcStatusOf,
  httpStatusOf,
  isRetryableCode,
  toAppError,
  type ErrorCode,
} from "./errors.js";
export {
  MAX_TIMER_MS,
  aborted,
  longTimeoutSignal,
  setLongTimeout,
  sleep,
  withDeadline,
} from "./deadline.js";
export { backoffDelay, isRetryableError, retry, type RetryOptions } from "./retry.js";
export { createLogger, silentLogger, type Logger, type LoggerOptions } from "./logger.js";
export { systemClock, type Clock } from "./clock.js";
export {
  ShutdownReason,
  signalOnTermination,
  supervise,
  type Service,
  type SuperviseOptions,
} from "./supervisor.js";
export { formatDuration, formatSeconds } from "./format.js";
export { LruMap } from "./lru.js";
