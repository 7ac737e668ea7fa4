import type { Application, Deployment } from "@pipecd-ts/proto";
import type { Datastore, Notifier } from "../types.js";
import { SqlApplicationRepository } from "./applications.js";
import { SqlAuditLogRepository } from "./audit-log.js";
import { SqlCommandRepository } from "./commands.js";
import { SqlDeploymentChainRepository } from "./chains.js";
import { SqlDeploymentRepository } from "./deployments.js";
import { SqlEventRepository } from "./events.js";
import { SqlLoginFailureRepository } from "./login-failures.js";
import { SqlAPIKeyRepository, SqlPipedRepository } from "./pipeds.js";
import type { DocumentUpdater, SqlContext } from "./program.js";
import { SqlLiveStateRepository, SqlSessionRepository } from "./sessions.js";
import { SqlStageLogRepository } from "./stage-logs.js";
import { SqlStreamEventRepository, type StreamEventAppend } from "./stream-events.js";

/** What a driver brings beyond its {@link SqlContext}. */
export interface DriverParts {
  notifier: Notifier;
  appendStreamEvents: StreamEventAppend;
  deploymentUpdater?: DocumentUpdater<Deployment>;
  applicationUpdater?: DocumentUpdater<Application>;
}

/** The repositories every driver serves, over its {@link SqlContext} and {@link DriverParts}. */
export abstract class SqlDatastore implements Datastore {
  abstract readonly driver: "sqlite" | "postgres";
  readonly pipeds: SqlPipedRepository;
  readonly apiKeys: SqlAPIKeyRepository;
  readonly applications: SqlApplicationRepository;
  readonly deployments: SqlDeploymentRepository;
  readonly commands: SqlCommandRepository;
  readonly stageLogs: SqlStageLogRepository;
  readonly auditLog: SqlAuditLogRepository;
  readonly sessions: SqlSessionRepository;
  readonly loginFailures: SqlLoginFailureRepository;
  readonly liveStates: SqlLiveStateRepository;
  readonly events: SqlEventRepository;
  readonly chains: SqlDeploymentChainRepository;
  readonly streamEvents: SqlStreamEventRepository;
  readonly notifier: Notifier;

  constructor(c: SqlContext, parts: DriverParts) {
    this.pipeds = new SqlPipedRepository(c);
    this.apiKeys = new SqlAPIKeyRepository(c);
    this.applications = new SqlApplicationRepository(c, parts.applicationUpdater);
    this.deployments = new SqlDeploymentRepository(c, parts.deploymentUpdater);
    this.commands = new SqlCommandRepository(c);
    this.stageLogs = new SqlStageLogRepository(c);
    this.auditLog = new SqlAuditLogRepository(c);
    this.sessions = new SqlSessionRepository(c);
    this.loginFailures = new SqlLoginFailureRepository(c);
    this.liveStates = new SqlLiveStateRepository(c);
    this.events = new SqlEventRepository(c);
    this.chains = new SqlDeploymentChainRepository(c);
    this.streamEvents = new SqlStreamEventRepository(c, parts.appendStreamEvents);
    this.notifier = parts.notifier;
  }

  abstract migrationVersions(): Promise<number[]>;
  abstract close(): Promise<void>;
}
