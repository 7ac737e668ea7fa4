export type {
  APIKeyRepository,
  ApplicationFilter,
  ApplicationRepository,
  AuditLogFilter,
  AuditLogRepository,
  CommandFilter,
  CommandRepository,
  Datastore,
  DeploymentFilter,
  DeploymentRepository,
  LiveStateRepository,
  LoginFailureRepository,
  LoginFailures,
  Notifier,
  Page,
  PageRequest,
  PipedRepository,
  Session,
  SessionRepository,
  StageLogAppendOptions,
  StageLogGetOptions,
  StageLogKey,
  StageLogPage,
  StageLogRepository,
  StoredKeyHash,
  StoredStreamEvent,
  StreamEventRepository,
} from "./types.js";
export { openDatastore, type OpenDatastoreOptions } from "./open.js";
export { DEFAULT_LIMIT, MAX_LIMIT } from "./internal/paging.js";
export { MAX_NOTIFY_PAYLOAD } from "./internal/entities.js";
export { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, type Migration } from "./migrations.js";
