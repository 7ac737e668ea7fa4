import type {
  APIKey,
  Application,
  DeploymentChain,
  EventStatus,
  Event,
  ApplicationLiveStateSnapshot,
  AuditLogEntry,
  Command,
  CommandStatus,
  Command_Type,
  Deployment,
  DeploymentStatus,
  LogBlock,
  Piped,
  Role,
} from "@pipecd-ts/proto";

/**
 * Repository interfaces of the control plane's storage. One implementation (sql/) serves both
 * drivers: its repositories are programs over plain SQL that each driver runs (sqlite/ inside
 * its group commit, postgres/ on a pool), with the few differences in a small dialect. One
 * conformance suite (test/conformance.ts) runs against both.
 *
 * Conventions shared by every repository:
 * - Entities are protobuf-es messages; drivers store them as documents plus indexed columns.
 * - `get` of a missing id throws NotFoundError; `create` of an existing id throws
 *   AlreadyExistsError (unless documented as idempotent).
 * - `update(id, fn)` is an atomic read-modify-write: `fn` gets a mutable copy and may throw an
 *   AppError to abort without writing. `updatedAt` is set by the driver.
 * - Lists are ordered newest first (createdAt desc, id desc) and paged with an opaque cursor.
 * - Every write is durable (committed) before the promise resolves.
 */
export interface Datastore {
  readonly driver: "sqlite" | "postgres";
  readonly pipeds: PipedRepository;
  readonly apiKeys: APIKeyRepository;
  readonly applications: ApplicationRepository;
  readonly deployments: DeploymentRepository;
  readonly commands: CommandRepository;
  readonly stageLogs: StageLogRepository;
  readonly auditLog: AuditLogRepository;
  readonly sessions: SessionRepository;
  readonly loginFailures: LoginFailureRepository;
  readonly liveStates: LiveStateRepository;
  readonly events: EventRepository;
  readonly chains: DeploymentChainRepository;
  readonly streamEvents: StreamEventRepository;
  /** Cross-replica notifications (in-process for SQLite, LISTEN/NOTIFY for PostgreSQL). */
  readonly notifier: Notifier;
  /** Applied migration versions, ascending. */
  migrationVersions(): Promise<number[]>;
  close(): Promise<void>;
}

/** One page of a list. `cursor` is empty when there is nothing more. */
export interface Page<T> {
  items: T[];
  cursor: string;
}

/** Paging input shared by list calls. `limit` is clamped to [1, 500], default 50. */
export interface PageRequest {
  limit?: number;
  cursor?: string;
}

/** A stored piped key hash. Never leaves the control plane. */
export interface StoredKeyHash {
  id: string;
  hash: string;
  creator: string;
  createdAt: Date;
}

/** Pipeds and their key hashes (at most two, newest last). */
export interface PipedRepository {
  /** Stores a new piped with its first key. `piped.keys` is derived from stored hashes. */
  create(piped: Piped, key: StoredKeyHash): Promise<Piped>;
  get(id: string): Promise<Piped>;
  /** The piped and its key hashes, for authentication. */
  getAuth(id: string): Promise<{ piped: Piped; keyHashes: StoredKeyHash[] }>;
  list(projectId: string): Promise<Piped[]>;
  /** Adds a key; if two exist already, the oldest is dropped so at most two remain. */
  addKey(id: string, key: StoredKeyHash): Promise<Piped>;
  /** Keeps only the newest key. */
  deleteOldKeys(id: string): Promise<Piped>;
  /** Atomic update of descriptive/runtime fields (name, desc, disabled, version, lastSeenAt...). */
  update(id: string, fn: (p: Piped) => void): Promise<Piped>;
}

/** API keys for the REST API. */
export interface APIKeyRepository {
  create(key: APIKey, hash: string): Promise<APIKey>;
  get(id: string): Promise<APIKey>;
  /** The key and its hash, for authentication. */
  getAuth(id: string): Promise<{ apiKey: APIKey; hash: string }>;
  list(projectId: string): Promise<APIKey[]>;
  update(id: string, fn: (k: APIKey) => void): Promise<APIKey>;
  /** Best-effort last-used bookkeeping (no updatedAt bump). */
  touchLastUsed(id: string, at: Date): Promise<void>;
}

/** Filter of {@link ApplicationRepository.list}. */
export interface ApplicationFilter extends PageRequest {
  projectId: string;
  pipedId?: string;
  name?: string;
  /** undefined = both enabled and disabled. */
  disabled?: boolean;
  /** Deleted applications are excluded unless this is true. */
  includeDeleted?: boolean;
  /** All given labels must match. */
  labels?: Record<string, string>;
}

/** Applications. */
export interface ApplicationRepository {
  create(app: Application): Promise<Application>;
  get(id: string): Promise<Application>;
  list(filter: ApplicationFilter): Promise<Page<Application>>;
  update(id: string, fn: (a: Application) => void): Promise<Application>;
}

/** Filter of {@link DeploymentRepository.list}. */
export interface DeploymentFilter extends PageRequest {
  projectId: string;
  applicationId?: string;
  pipedId?: string;
  /** Any of these statuses; empty/undefined = all. */
  statuses?: DeploymentStatus[];
}

/** Deployments with their stages and metadata. */
export interface DeploymentRepository {
  /**
   * Stores a new deployment. Idempotent on id: if a deployment with the same id exists and
   * belongs to the same piped, returns it with `created: false`; if it belongs to another piped,
   * throws AlreadyExistsError.
   */
  create(d: Deployment): Promise<{ deployment: Deployment; created: boolean }>;
  get(id: string): Promise<Deployment>;
  list(filter: DeploymentFilter): Promise<Page<Deployment>>;
  /** Deployments of a piped in PENDING/PLANNED/RUNNING/ROLLING_BACK, oldest first. */
  listNotCompleted(pipedId: string, page: PageRequest): Promise<Page<Deployment>>;
  /**
   * Atomic read-modify-write. After `fn`, the driver validates the deployment status transition
   * and every stage status transition (packages/model rules) and throws FailedPreconditionError
   * for an illegal one without writing.
   */
  update(id: string, fn: (d: Deployment) => void): Promise<Deployment>;
  /** Number of deployments per status in a project. */
  countByStatus(projectId: string): Promise<Map<DeploymentStatus, number>>;
}

/** Filter of {@link CommandRepository.list}. */
export interface CommandFilter {
  pipedId?: string;
  deploymentId?: string;
  stageId?: string;
  type?: Command_Type;
  status?: CommandStatus;
  limit?: number;
}

/** Commands addressed to pipeds, sequenced per piped. */
export interface CommandRepository {
  /**
   * Stores a command and assigns `sequence` = previous sequence of that piped + 1 (strictly
   * increasing per piped, also under concurrent writers). If `dedupKey` is given and a command
   * with the same key exists, throws AlreadyExistsError (used for one-vote-per-user approvals).
   */
  create(cmd: Command, opts?: { dedupKey?: string }): Promise<Command>;
  get(id: string): Promise<Command>;
  /** Commands of a piped with sequence > `afterSequence`, ascending, not handled yet only. */
  listUnhandledAfter(pipedId: string, afterSequence: bigint, limit?: number): Promise<Command[]>;
  /** Commands matching the filter, newest first. */
  list(filter: CommandFilter): Promise<Command[]>;
  /**
   * Records a command's result. Idempotent: reporting the same status again is a no-op; changing
   * an already handled command to a different status throws FailedPreconditionError. `output`
   * (a plan preview's results) is stored with the result.
   */
  markHandled(
    id: string,
    status: CommandStatus,
    metadata: Record<string, string>,
    handledAt: Date,
    output?: Uint8Array,
  ): Promise<Command>;
}

/** Key of one stage log: a stage's attempt. */
export interface StageLogKey {
  deploymentId: string;
  stageId: string;
  retriedCount: number;
}

/** Options of {@link StageLogRepository.append}. */
export interface StageLogAppendOptions {
  /**
   * The most bytes the stage log may hold: past it the oldest blocks are dropped (down to 90% of
   * it, so a busy log is not trimmed on every append) and counted in `dropped`.
   */
  maxBytes?: number;
}

/** Options of {@link StageLogRepository.get}. */
export interface StageLogGetOptions {
  /** Only blocks with a greater index. */
  afterIndex?: bigint;
  /** At most this many blocks (default: all). */
  limit?: number;
}

/** One read of a stage log. */
export interface StageLogPage {
  /** Blocks ordered by index. */
  blocks: LogBlock[];
  completed: boolean;
  /** More blocks follow the last one returned (read again after its index). */
  more: boolean;
  /** The oldest blocks dropped by `maxBytes`, if any were. */
  dropped?: { blocks: number; bytes: number; firstKeptIndex: bigint };
}

/** Stage logs, deduplicated by block index, bounded in size. */
export interface StageLogRepository {
  /**
   * Appends blocks; a block whose index is already stored for that key is ignored. Throws
   * FailedPreconditionError if the log was completed. Returns how many blocks were new. Large
   * appends are written in chunks, so they never hold the store for long.
   */
  append(key: StageLogKey, blocks: LogBlock[], opts?: StageLogAppendOptions): Promise<number>;
  /** Marks the log complete; later appends are refused. Idempotent. */
  complete(key: StageLogKey): Promise<void>;
  /** A page of blocks ordered by index, whether the log is complete, and what was dropped. */
  get(key: StageLogKey, opts?: StageLogGetOptions): Promise<StageLogPage>;
}

/** Filter of {@link AuditLogRepository.list}. */
export interface AuditLogFilter extends PageRequest {
  projectId: string;
  actor?: string;
  action?: string;
  resourceId?: string;
}

/** Append-only audit log of human actions. */
export interface AuditLogRepository {
  /** Appends an entry; the driver assigns `id` (increasing) and returns the stored entry. */
  append(entry: AuditLogEntry): Promise<AuditLogEntry>;
  /** Newest first. */
  list(filter: AuditLogFilter): Promise<Page<AuditLogEntry>>;
}

/** A web login session; only the hash of its token is stored. */
export interface Session {
  tokenHash: string;
  username: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date;
}

/** Web sessions. */
export interface SessionRepository {
  create(s: Session): Promise<void>;
  /** The session if it exists and has not expired, else undefined. */
  get(tokenHash: string, now: Date): Promise<Session | undefined>;
  delete(tokenHash: string): Promise<void>;
  /** Removes expired sessions; returns how many. */
  deleteExpired(now: Date): Promise<number>;
}

/** Failed sign-ins of one username from one address. */
export interface LoginFailures {
  failures: number;
  /** Sign-ins of that username from that address wait until then (unset: not blocked). */
  blockedUntil?: Date;
}

/**
 * Failed sign-ins, per (username, address), shared by every control-plane replica so that
 * throttling holds whichever replica a guess reaches.
 */
export interface LoginFailureRepository {
  /** The failures of `username` from `address` since `since`. */
  get(username: string, address: string, since: Date): Promise<LoginFailures>;
  /**
   * Counts one more failure at `now` (earlier ones before `since` are forgotten) and stores
   * the block `blockFor(failures)` returns (ms; 0 for none). Returns the new state.
   */
  recordFailure(
    username: string,
    address: string,
    now: Date,
    since: Date,
    blockFor: (failures: number) => number,
  ): Promise<LoginFailures>;
  /** Forgets the failures of `username` from `address` (a successful sign-in). */
  clear(username: string, address: string): Promise<void>;
  /** Failures since `since` of `username` from any address, or from `address` for any username. */
  count(by: { username: string } | { address: string }, since: Date): Promise<number>;
  /** Removes records last touched before `before`; returns how many. */
  deleteOlder(before: Date): Promise<number>;
}

/** Filter of {@link EventRepository.list}. */
export interface EventFilter {
  projectId: string;
  status?: EventStatus;
  /** Created at or after. */
  since?: Date;
  eventKey?: string;
  /** At most (default and maximum 1,000). */
  limit?: number;
}

/** Events registered with `pipectl event register` (PipeCD's event watcher). */
export interface EventRepository {
  /** AlreadyExists when the id is taken. */
  create(e: Event): Promise<void>;
  get(id: string): Promise<Event>;
  /** Newest first. */
  list(filter: EventFilter): Promise<Event[]>;
  /** Atomic read-modify-write; updatedAt is set. */
  update(id: string, fn: (e: Event) => void): Promise<Event>;
}

/** Deployment chains (postSync.chain), kept by the control plane. */
export interface DeploymentChainRepository {
  create(c: DeploymentChain): Promise<void>;
  get(id: string): Promise<DeploymentChain>;
  /** Newest first. */
  list(projectId: string, limit?: number): Promise<DeploymentChain[]>;
  /** Atomic read-modify-write; updatedAt is set. */
  update(id: string, fn: (c: DeploymentChain) => void): Promise<DeploymentChain>;
}

/** Latest live state snapshot per application. */
export interface LiveStateRepository {
  put(snapshot: ApplicationLiveStateSnapshot): Promise<void>;
  get(applicationId: string): Promise<ApplicationLiveStateSnapshot>;
  /**
   * Reads the stored snapshot (undefined when none), lets `fn` return the next one and stores it
   * with `version` one higher, in one transaction; `fn` may throw to store nothing.
   */
  update(
    applicationId: string,
    fn: (cur: ApplicationLiveStateSnapshot | undefined) => ApplicationLiveStateSnapshot,
  ): Promise<ApplicationLiveStateSnapshot>;
}

/**
 * Publish/subscribe of small notifications between control-plane replicas sharing a datastore.
 * Payloads are at most 7,000 bytes. A subscriber also receives what its own process published.
 */
/** A stored server-sent event: its id (ascending in commit order) and its JSON text. */
export interface StoredStreamEvent {
  id: number;
  data: string;
}

/**
 * Server-sent events with ids that every replica shares, so that a client whose replica went
 * away resumes on another (`Last-Event-ID`) without losing events. Kept for a retention period.
 */
export interface StreamEventRepository {
  /**
   * Stores `events` (JSON texts) and announces them on the notifier's `channel` as payloads of
   * `[[id, event], ...]` (each within the notification size limit). Ids ascend in commit order
   * across replicas and the announcements arrive in that order, so a listener that resumes after
   * the last id it saw misses nothing.
   */
  append(channel: string, events: readonly string[]): Promise<StoredStreamEvent[]>;
  /** Events after `afterId`, ascending, at most `limit` (clamped to [1, 10000]). */
  listAfter(afterId: number, limit: number): Promise<StoredStreamEvent[]>;
  /** The oldest and newest stored ids (0 when there are none). */
  bounds(): Promise<{ oldest: number; newest: number }>;
  /** Deletes events stored before `before`, always keeping the newest; returns how many went. */
  prune(before: Date): Promise<number>;
}

export interface Notifier {
  publish(channel: string, payload: string): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(channel: string, listener: (payload: string) => void): () => void;
}
