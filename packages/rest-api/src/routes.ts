import type { TSchema } from "typebox";
import type {
  APIKeyJson,
  ApplicationJson,
  ApplicationLiveStateSnapshotJson,
  AuditLogEntryJson,
  DeploymentChainJson,
  EventJson,
  CommandJson,
  DeploymentJson,
  LogBlockJson,
  PipedJson,
} from "@pipecd-ts/proto";
import type { PlanPreviewApplication } from "@pipecd-ts/model/plan-preview";
import * as S from "./schemas.js";

/** Who may call a route: anyone (no auth) or at least this role. */
export type Access = "public" | "viewer" | "editor" | "admin";

/** One REST route: the single source for the server, the typed client and the OpenAPI doc. */
export interface RouteDef<Res = unknown> {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** fastify-style path, e.g. /api/v1/pipeds/:id */
  path: string;
  summary: string;
  access: Access;
  status: number;
  params?: TSchema;
  query?: TSchema;
  body?: TSchema;
  /** Phantom: the response body type. */
  readonly _res?: Res;
}

/** `route<Res>()({...})`: fixes the response type, infers the schemas' exact types. */
function route<Res>() {
  return <const D extends Omit<RouteDef, "_res">>(def: D): D & { readonly _res?: Res } => def;
}

/** The signed-in principal, as returned by /me and /login. */
export interface UserInfo {
  username: string;
  role: "viewer" | "editor" | "admin";
  apiKeyId?: string;
}

/** Response of commands-creating routes. */
export interface CommandAccepted {
  commandId: string;
}

/** One piped's plan-preview command. */
export interface PlanPreviewCommand {
  commandId: string;
  pipedId: string;
  pipedName: string;
}

/** One piped's answer to a plan preview. */
export interface PlanPreviewResult extends PlanPreviewCommand {
  /** WAITING until the piped answers; TIMED_OUT when it did not within the command's timeout. */
  status: "WAITING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT";
  /** Why the whole preview failed on this piped (a merge conflict, an unknown head). */
  error: string;
  headCommit: string;
  applications: PlanPreviewApplication[];
}

/** Every REST route of the control plane, keyed by operation id. */
export const Routes = {
  login: route<{ user: UserInfo }>()({
    method: "POST",
    path: "/api/v1/login",
    summary:
      "Sign in with a username and password from the control-plane config; sets a session cookie.",
    access: "public",
    status: 200,
    body: S.LoginBody,
  }),
  logout: route<Record<string, never>>()({
    method: "POST",
    path: "/api/v1/logout",
    summary: "End the current web session.",
    access: "viewer",
    status: 200,
  }),
  me: route<{ user: UserInfo }>()({
    method: "GET",
    path: "/api/v1/me",
    summary: "The caller: user, role and API key id.",
    access: "viewer",
    status: 200,
  }),
  registerPiped: route<{ id: string; key: string; piped: PipedJson }>()({
    method: "POST",
    path: "/api/v1/pipeds",
    summary: "Register a piped. The key is shown once.",
    access: "admin",
    status: 201,
    body: S.RegisterPipedBody,
  }),
  listPipeds: route<{ pipeds: PipedJson[] }>()({
    method: "GET",
    path: "/api/v1/pipeds",
    summary: "List pipeds with their connection status and version.",
    access: "viewer",
    status: 200,
  }),
  getPiped: route<{ piped: PipedJson }>()({
    method: "GET",
    path: "/api/v1/pipeds/:id",
    summary: "Get one piped.",
    access: "viewer",
    status: 200,
    params: S.IdParams,
  }),
  updatePiped: route<{ piped: PipedJson }>()({
    method: "PATCH",
    path: "/api/v1/pipeds/:id",
    summary: "Rename or describe a piped.",
    access: "admin",
    status: 200,
    params: S.IdParams,
    body: S.UpdatePipedBody,
  }),
  rotatePipedKey: route<{ key: string; piped: PipedJson }>()({
    method: "POST",
    path: "/api/v1/pipeds/:id/rotate-key",
    summary:
      "Add a new key (shown once); the previous key keeps working until old keys are deleted.",
    access: "admin",
    status: 200,
    params: S.IdParams,
  }),
  deleteOldPipedKeys: route<{ piped: PipedJson }>()({
    method: "POST",
    path: "/api/v1/pipeds/:id/delete-old-keys",
    summary: "Delete all but the newest key of a piped.",
    access: "admin",
    status: 200,
    params: S.IdParams,
  }),
  encryptSecret: route<{ ciphertext: string }>()({
    method: "POST",
    path: "/api/v1/pipeds/:id/encrypt",
    summary:
      "Encrypt a secret for spec.encryption with the piped's public key (PipeCD's format); only that piped can decrypt it. base64Encoding encodes the plaintext first, for a Secret's data.",
    access: "editor",
    status: 200,
    params: S.IdParams,
    body: S.EncryptSecretBody,
  }),
  enablePiped: route<{ piped: PipedJson }>()({
    method: "POST",
    path: "/api/v1/pipeds/:id/enable",
    summary: "Enable a piped.",
    access: "admin",
    status: 200,
    params: S.IdParams,
  }),
  disablePiped: route<{ piped: PipedJson }>()({
    method: "POST",
    path: "/api/v1/pipeds/:id/disable",
    summary: "Disable a piped: its key stops working at once.",
    access: "admin",
    status: 200,
    params: S.IdParams,
  }),
  createAPIKey: route<{ id: string; key: string; apiKey: APIKeyJson }>()({
    method: "POST",
    path: "/api/v1/api-keys",
    summary:
      "Create an API key owned by the caller; shown once. Admins: any role. Other signed-in " +
      "users (web session, not an API key): a personal key with at most their own role.",
    access: "viewer",
    status: 201,
    body: S.CreateAPIKeyBody,
  }),
  listAPIKeys: route<{ apiKeys: APIKeyJson[] }>()({
    method: "GET",
    path: "/api/v1/api-keys",
    summary: "List API keys (never their secrets).",
    access: "admin",
    status: 200,
  }),
  disableAPIKey: route<{ apiKey: APIKeyJson }>()({
    method: "POST",
    path: "/api/v1/api-keys/:id/disable",
    summary: "Disable an API key.",
    access: "admin",
    status: 200,
    params: S.IdParams,
  }),
  addApplication: route<{ id: string; application: ApplicationJson }>()({
    method: "POST",
    path: "/api/v1/applications",
    summary: "Add an application deployed by a piped from a Git directory.",
    access: "editor",
    status: 201,
    body: S.AddApplicationBody,
  }),
  listApplications: route<{ applications: ApplicationJson[]; cursor: string }>()({
    method: "GET",
    path: "/api/v1/applications",
    summary: "List applications (filters: pipedId, name, disabled, label=k:v).",
    access: "viewer",
    status: 200,
    query: S.ListApplicationsQuery,
  }),
  getApplication: route<{ application: ApplicationJson }>()({
    method: "GET",
    path: "/api/v1/applications/:id",
    summary: "Get one application.",
    access: "viewer",
    status: 200,
    params: S.IdParams,
  }),
  getApplicationLiveState: route<{ liveState: ApplicationLiveStateSnapshotJson }>()({
    method: "GET",
    path: "/api/v1/applications/:id/live-state",
    summary:
      "What runs in the cluster for one application, as its piped last reported it: the resource tree with each resource's health (Secrets by metadata only). 404 until the piped has reported.",
    access: "viewer",
    status: 200,
    params: S.IdParams,
  }),
  updateApplication: route<{ application: ApplicationJson }>()({
    method: "PATCH",
    path: "/api/v1/applications/:id",
    summary: "Update an application's name, piped, Git path, labels or description.",
    access: "editor",
    status: 200,
    params: S.IdParams,
    body: S.UpdateApplicationBody,
  }),
  enableApplication: route<{ application: ApplicationJson }>()({
    method: "POST",
    path: "/api/v1/applications/:id/enable",
    summary: "Enable an application.",
    access: "editor",
    status: 200,
    params: S.IdParams,
  }),
  disableApplication: route<{ application: ApplicationJson }>()({
    method: "POST",
    path: "/api/v1/applications/:id/disable",
    summary: "Disable an application: its piped stops deploying it.",
    access: "editor",
    status: 200,
    params: S.IdParams,
  }),
  deleteApplication: route<{ application: ApplicationJson }>()({
    method: "DELETE",
    path: "/api/v1/applications/:id",
    summary: "Delete (soft) an application.",
    access: "editor",
    status: 200,
    params: S.IdParams,
  }),
  syncApplication: route<CommandAccepted>()({
    method: "POST",
    path: "/api/v1/applications/:id/sync",
    summary: "Ask the piped to deploy the application's current Git head now.",
    access: "editor",
    status: 202,
    params: S.IdParams,
    body: S.SyncApplicationBody,
  }),
  listDeployments: route<{ deployments: DeploymentJson[]; cursor: string }>()({
    method: "GET",
    path: "/api/v1/deployments",
    summary: "List deployments, newest first (filters: applicationId, pipedId, status).",
    access: "viewer",
    status: 200,
    query: S.ListDeploymentsQuery,
  }),
  getDeployment: route<{ deployment: DeploymentJson }>()({
    method: "GET",
    path: "/api/v1/deployments/:id",
    summary: "Get one deployment with its stages.",
    access: "viewer",
    status: 200,
    params: S.IdParams,
  }),
  getStageLogs: route<{ blocks: LogBlockJson[]; completed: boolean; more: boolean }>()({
    method: "GET",
    path: "/api/v1/deployments/:id/stages/:stageId/logs",
    summary:
      "Log blocks of a stage attempt, a page at a time (more: ask again after the last index). Blocks dropped by the control plane's size limit are replaced by one block saying so.",
    access: "viewer",
    status: 200,
    params: S.StageParams,
    query: S.StageLogsQuery,
  }),
  cancelDeployment: route<CommandAccepted>()({
    method: "POST",
    path: "/api/v1/deployments/:id/cancel",
    summary: "Cancel a deployment, with rollback (default) or without.",
    access: "editor",
    status: 202,
    params: S.IdParams,
    body: S.CancelDeploymentBody,
  }),
  approveStage: route<CommandAccepted>()({
    method: "POST",
    path: "/api/v1/deployments/:id/stages/:stageId/approve",
    summary: "Approve a running WAIT_APPROVAL stage (one vote per user; approvers list enforced).",
    access: "editor",
    status: 202,
    params: S.StageParams,
  }),
  rejectStage: route<CommandAccepted>()({
    method: "POST",
    path: "/api/v1/deployments/:id/stages/:stageId/reject",
    summary: "Reject a running WAIT_APPROVAL stage: the stage fails and the deployment rolls back.",
    access: "editor",
    status: 202,
    params: S.StageParams,
    body: S.RejectStageBody,
  }),
  skipStage: route<CommandAccepted>()({
    method: "POST",
    path: "/api/v1/deployments/:id/stages/:stageId/skip",
    summary: "Skip a running stage.",
    access: "editor",
    status: 202,
    params: S.StageParams,
  }),
  getCommand: route<{ command: CommandJson }>()({
    method: "GET",
    path: "/api/v1/commands/:id",
    summary: "Get a command and whether its piped handled it.",
    access: "viewer",
    status: 200,
    params: S.IdParams,
  }),
  requestPlanPreview: route<{ commands: PlanPreviewCommand[] }>()({
    method: "POST",
    path: "/api/v1/plan-previews",
    summary:
      "Ask every piped that deploys from the repository what merging `head` into its branch would deploy (PipeCD's plan preview). Nothing is deployed. Empty when no piped has the repository.",
    access: "editor",
    status: 201,
    body: S.RequestPlanPreviewBody,
  }),
  getPlanPreviewResults: route<{ results: PlanPreviewResult[] }>()({
    method: "GET",
    path: "/api/v1/plan-previews",
    summary:
      "The answers to plan-preview commands so far (WAITING until each piped answered; a `command` event on the stream tells when).",
    access: "viewer",
    status: 200,
    query: S.PlanPreviewResultsQuery,
  }),
  getDeploymentChain: route<{ chain: DeploymentChainJson }>()({
    method: "GET",
    path: "/api/v1/deployment-chains/:id",
    summary:
      "A deployment chain (postSync.chain): its blocks in order, each application's deployment and status, and why it ended.",
    access: "viewer",
    status: 200,
    params: S.IdParams,
  }),
  registerEvent: route<{ event: EventJson }>()({
    method: "POST",
    path: "/api/v1/events",
    summary:
      "Register an event (PipeCD's `pipectl event register`): the event watchers of applications matching its name and labels commit `data` into Git.",
    access: "editor",
    status: 201,
    body: S.RegisterEventBody,
  }),
  listEvents: route<{ events: EventJson[] }>()({
    method: "GET",
    path: "/api/v1/events",
    summary: "Events, newest first, with what became of each.",
    access: "viewer",
    status: 200,
    query: S.ListEventsQuery,
  }),
  listAuditLog: route<{ entries: AuditLogEntryJson[]; cursor: string }>()({
    method: "GET",
    path: "/api/v1/audit-log",
    summary: "Audit log of human actions, newest first.",
    access: "admin",
    status: 200,
    query: S.ListAuditLogQuery,
  }),
} as const satisfies Record<string, RouteDef>;

/** Operation ids. */
export type OperationId = keyof typeof Routes;

/** Response body type of an operation. */
export type ResponseOf<K extends OperationId> = NonNullable<(typeof Routes)[K]["_res"]>;

/** Server-sent event names of GET /api/v1/stream. */
export type StreamEventType =
  "deployment" | "stage" | "application" | "command" | "piped" | "live-state" | "event" | "chain";

/**
 * Data of the `ready` event that starts every stream of GET /api/v1/stream, after the stored
 * events a resuming client missed (`Last-Event-ID`). Its `id` is where the stream stands.
 * `resumed` is false when no resume was asked or the missed events are no longer kept (10 min):
 * a client that had shown state must then re-read it.
 */
export interface StreamReady {
  resumed: boolean;
}

/** One server-sent event of GET /api/v1/stream (data is JSON). */
export interface StreamEvent {
  type: StreamEventType;
  id: string;
  applicationId?: string;
  deploymentId?: string;
  stageId?: string;
  pipedId?: string;
  status?: string;
}
