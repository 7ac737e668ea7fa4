import { randomUUID } from "node:crypto";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  APIKeySchema,
  AuditLogEntrySchema,
  ApplicationGitPathSchema,
  ApplicationSchema,
  ApplicationKind,
  Command_Type,
  CommandSchema,
  DeploymentSchema,
  DeploymentStatus,
  LogBlockSchema,
  LogSeverity,
  ManualOperation,
  Piped_ConnectionStatus,
  PipedSchema,
  Role,
  StageStatus,
  SyncStrategy,
  type Application,
  type ApplicationGitPath,
  type Deployment,
  type Piped,
  type PipelineStage,
} from "@pipecd-ts/proto";
import type { Datastore } from "@pipecd-ts/datastore";
import {
  METADATA_APPROVERS,
  StageName,
  isDeploymentCompleted,
  parseRole,
  roleName,
  stageStatusName,
} from "@pipecd-ts/model";
import type { OperationId, RequestOf, ResponseOf } from "@pipecd-ts/rest-api";
import {
  AlreadyExistsError,
  AppError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  type Clock,
} from "@pipecd-ts/runtime";
import type { Actions } from "../actions.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { Principal } from "../auth/principal.js";
import { hybridEncrypt, parsePublicKey } from "@pipecd-ts/runtime/hybrid";
import { generateSecret, hashSecret } from "../auth/secrets.js";
import type { Hub } from "../hub.js";
import { toRestJson } from "../wire.js";

/** What a handler gets besides its validated request. */
export interface HandlerContext {
  principal: Principal;
  ip: string;
  /** Sets the session cookie (login) or clears it (logout). */
  setSession(token: string | undefined, expiresAt?: Date): void;
}

/** A handler of one operation. */
export type Handler<K extends OperationId> = (
  req: RequestOf<K>,
  ctx: HandlerContext,
) => Promise<ResponseOf<K>>;

/** Handlers of every operation. */
export type Handlers = { [K in OperationId]: Handler<K> };

/** Dependencies of the REST handlers. */
export interface HandlerDeps {
  ds: Datastore;
  auth: Authenticator;
  actions: Actions;
  hub: Hub;
  clock: Clock;
  projectId: string;
  /** A piped is ONLINE if seen within this window (or connected here). */
  offlineAfterMs: number;
}

const json = <D extends DescMessage>(schema: D, msg: MessageShape<D>) =>
  toRestJson(schema, msg) as never;

/** Blocks per stage-log answer when the caller names no limit. */
const DEFAULT_STAGE_LOG_PAGE = 1000;

/** Builds every REST handler. Role checks happen before (route access); object rules here. */
export function createHandlers(deps: HandlerDeps): Handlers {
  const { ds, actions, hub, clock, projectId } = deps;
  const now = () => timestampFromDate(clock.now());

  const pipedJson = (p: Piped) => {
    const seen = p.lastSeenAt ? Number(p.lastSeenAt.seconds) * 1000 : 0;
    p.status =
      hub.isConnected(p.id) || clock.now().getTime() - seen < deps.offlineAfterMs
        ? Piped_ConnectionStatus.ONLINE
        : Piped_ConnectionStatus.OFFLINE;
    return json(PipedSchema, p);
  };

  async function inProject<T extends { projectId: string }>(
    p: Promise<T>,
    what: string,
    id: string,
  ): Promise<T> {
    const v = await p;
    if (v.projectId !== projectId) throw new NotFoundError(`${what} ${id} not found`);
    return v;
  }
  const getApp = (id: string) => inProject(ds.applications.get(id), "application", id);
  const getDeployment = (id: string) => inProject(ds.deployments.get(id), "deployment", id);
  const getPiped = (id: string) => inProject(ds.pipeds.get(id), "piped", id);

  async function setPipedDisabled(id: string, disabled: boolean, ctx: HandlerContext) {
    await getPiped(id);
    const p = await ds.pipeds.update(id, (p) => {
      p.disabled = disabled;
    });
    deps.auth.invalidatePiped(id);
    await hub.pipedAccessChanged(id);
    await actions.audit(
      ctx.principal,
      disabled ? "piped.disable" : "piped.enable",
      "piped",
      id,
      {},
      ctx.ip,
    );
    hub.emit({ type: "piped", id, pipedId: id });
    return { piped: pipedJson(p) };
  }

  async function updateApp(
    id: string,
    action: string,
    ctx: HandlerContext,
    fn: (a: Application) => void,
  ) {
    const before = await getApp(id);
    if (before.deleted) throw new NotFoundError(`application ${id} not found`);
    const a = await ds.applications.update(id, fn);
    await actions.audit(ctx.principal, action, "application", id, {}, ctx.ip);
    hub.emit({ type: "application", id, applicationId: id, pipedId: a.pipedId });
    await hub.applicationsChanged(a.pipedId, [id]);
    if (before.pipedId !== a.pipedId) await hub.applicationsChanged(before.pipedId, [id]);
    return { application: json(ApplicationSchema, a) };
  }

  /** The piped an application is (to be) deployed by; an unknown id is a bad argument. */
  async function pipedForApp(pipedId: string): Promise<Piped> {
    try {
      return await getPiped(pipedId);
    } catch (err) {
      if (err instanceof AppError && err.code === "NOT_FOUND")
        throw new InvalidArgumentError(`pipedId ${pipedId} is not a registered piped`);
      throw err;
    }
  }

  /**
   * An application's Git path on `piped`: the repository must be one the piped reported (once
   * it has reported any), and its remote and branch are copied from there.
   */
  function resolveGitPath(
    piped: Piped,
    g: { repoId: string; path: string; configFilename?: string | undefined },
  ): ApplicationGitPath {
    const repo = piped.repositories.find((r) => r.id === g.repoId);
    if (piped.repositories.length && !repo)
      throw new InvalidArgumentError(
        `piped ${piped.name} has no repository "${g.repoId}" (it has: ${piped.repositories.map((r) => r.id).join(", ")})`,
      );
    return create(ApplicationGitPathSchema, {
      repo: { id: g.repoId, remote: repo?.remote ?? "", branch: repo?.branch ?? "" },
      path: g.path,
      configFilename: g.configFilename ?? "",
    });
  }

  /** The stage a stage command targets, with the common checks. */
  async function runningStage(
    depId: string,
    stageId: string,
  ): Promise<{ d: Deployment; s: PipelineStage }> {
    const d = await getDeployment(depId);
    const s = d.stages.find((x) => x.id === stageId);
    if (!s) throw new NotFoundError(`deployment ${depId} has no stage ${stageId}`);
    if (isDeploymentCompleted(d.status))
      throw new FailedPreconditionError(
        `deployment ${depId} is already ${DeploymentStatus[d.status]}`,
      );
    if (s.status !== StageStatus.STAGE_RUNNING)
      throw new FailedPreconditionError(
        `stage ${stageId} is ${stageStatusName(s.status)}, not STAGE_RUNNING`,
      );
    return { d, s };
  }

  /** Approve/reject: a running WAIT_APPROVAL stage, caller among its approvers (if listed). */
  async function approvalStage(depId: string, stageId: string, who: Principal) {
    const { d, s } = await runningStage(depId, stageId);
    if (s.name !== StageName.WAIT_APPROVAL)
      throw new FailedPreconditionError(`stage ${stageId} is a ${s.name} stage, not WAIT_APPROVAL`);
    const approvers = s.authorizedOperators.length
      ? s.authorizedOperators
      : (s.metadata[METADATA_APPROVERS] ?? "")
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean);
    if (approvers.length && !approvers.includes(who.username))
      throw new PermissionDeniedError(
        `user ${who.username} is not an approver of stage ${stageId} (approvers: ${approvers.join(", ")})`,
      );
    return { d, s };
  }

  return {
    async login(req, ctx) {
      const { token, principal, expiresAt } = await deps.auth.login(
        req.body.username,
        req.body.password,
        ctx.ip,
      );
      ctx.setSession(token, expiresAt);
      await actions.audit(principal, "user.login", "user", principal.username, {}, ctx.ip);
      return { user: { username: principal.username, role: roleName(principal.role) } };
    },

    async logout(_req, ctx) {
      if (ctx.principal.sessionHash) await deps.auth.logout(ctx.principal.sessionHash);
      ctx.setSession(undefined);
      return {};
    },

    async me(_req, ctx) {
      const p = ctx.principal;
      return {
        user: {
          username: p.username,
          role: roleName(p.role),
          ...(p.apiKeyId ? { apiKeyId: p.apiKeyId } : {}),
        },
      };
    },

    async registerPiped(req, ctx) {
      const key = generateSecret();
      const stamp = now();
      const piped = await ds.pipeds.create(
        create(PipedSchema, {
          id: randomUUID(),
          name: req.body.name,
          desc: req.body.description ?? "",
          projectId,
          createdAt: stamp,
          updatedAt: stamp,
        }),
        {
          id: randomUUID(),
          hash: hashSecret(key),
          creator: ctx.principal.username,
          createdAt: clock.now(),
        },
      );
      await actions.audit(
        ctx.principal,
        "piped.register",
        "piped",
        piped.id,
        { name: piped.name },
        ctx.ip,
      );
      hub.emit({ type: "piped", id: piped.id, pipedId: piped.id });
      return { id: piped.id, key, piped: pipedJson(piped) };
    },

    async listPipeds() {
      return { pipeds: (await ds.pipeds.list(projectId)).map(pipedJson) };
    },

    async getPiped(req) {
      return { piped: pipedJson(await getPiped(req.params.id)) };
    },

    async updatePiped(req, ctx) {
      await getPiped(req.params.id);
      const p = await ds.pipeds.update(req.params.id, (p) => {
        if (req.body.name !== undefined) p.name = req.body.name;
        if (req.body.description !== undefined) p.desc = req.body.description;
      });
      await actions.audit(ctx.principal, "piped.update", "piped", p.id, {}, ctx.ip);
      return { piped: pipedJson(p) };
    },

    async rotatePipedKey(req, ctx) {
      await getPiped(req.params.id);
      const key = generateSecret();
      const p = await ds.pipeds.addKey(req.params.id, {
        id: randomUUID(),
        hash: hashSecret(key),
        creator: ctx.principal.username,
        createdAt: clock.now(),
      });
      deps.auth.invalidatePiped(p.id);
      await hub.pipedAccessChanged(p.id);
      await actions.audit(ctx.principal, "piped.rotate-key", "piped", p.id, {}, ctx.ip);
      return { key, piped: pipedJson(p) };
    },

    async deleteOldPipedKeys(req, ctx) {
      await getPiped(req.params.id);
      const p = await ds.pipeds.deleteOldKeys(req.params.id);
      deps.auth.invalidatePiped(p.id);
      await hub.pipedAccessChanged(p.id);
      await actions.audit(ctx.principal, "piped.delete-old-keys", "piped", p.id, {}, ctx.ip);
      return { piped: pipedJson(p) };
    },

    async encryptSecret(req, ctx) {
      const p = await getPiped(req.params.id);
      const enc = p.secretEncryption;
      if (!enc || enc.type !== "KEY_PAIR" || !enc.publicKey)
        throw new FailedPreconditionError(
          `piped ${p.id} has no secret encryption key: set secretManagement (KEY_PAIR) in its config and restart it`,
        );
      const plaintext = req.body.base64Encoding
        ? Buffer.from(req.body.plaintext).toString("base64")
        : req.body.plaintext;
      const ciphertext = hybridEncrypt(parsePublicKey(enc.publicKey), plaintext);
      // The audit log records that a secret was encrypted, never what it was.
      await actions.audit(
        ctx.principal,
        "piped.encrypt-secret",
        "piped",
        p.id,
        { base64Encoding: String(req.body.base64Encoding ?? false) },
        ctx.ip,
      );
      return { ciphertext };
    },

    enablePiped: (req, ctx) => setPipedDisabled(req.params.id, false, ctx),
    disablePiped: (req, ctx) => setPipedDisabled(req.params.id, true, ctx),

    async createAPIKey(req, ctx) {
      const role = parseRole(req.body.role) ?? Role.VIEWER;
      // Personal keys: what lets a named approver approve from pipectl. A non-admin may create
      // one only while signed in (a leaked key cannot mint more) and never above their role.
      if (ctx.principal.role !== Role.ADMIN) {
        if (!ctx.principal.sessionHash)
          throw new PermissionDeniedError(
            "only admins may create API keys with an API key; sign in to create a personal one",
          );
        if (role > ctx.principal.role)
          throw new PermissionDeniedError(
            `a ${req.body.role} key would exceed your role (${roleName(ctx.principal.role)})`,
          );
      }
      const id = randomUUID();
      const key = `${id}.${generateSecret()}`;
      const stamp = now();
      const apiKey = await ds.apiKeys.create(
        create(APIKeySchema, {
          id,
          name: req.body.name,
          projectId,
          role,
          creator: ctx.principal.username,
          createdAt: stamp,
          updatedAt: stamp,
        }),
        hashSecret(key),
      );
      await actions.audit(
        ctx.principal,
        "apikey.create",
        "apikey",
        id,
        { name: apiKey.name, role: req.body.role },
        ctx.ip,
      );
      return { id, key, apiKey: json(APIKeySchema, apiKey) };
    },

    async listAPIKeys() {
      return { apiKeys: (await ds.apiKeys.list(projectId)).map((k) => json(APIKeySchema, k)) };
    },

    async disableAPIKey(req, ctx) {
      await inProject(ds.apiKeys.get(req.params.id), "API key", req.params.id);
      const k = await ds.apiKeys.update(req.params.id, (k) => {
        k.disabled = true;
      });
      await actions.audit(ctx.principal, "apikey.disable", "apikey", k.id, {}, ctx.ip);
      return { apiKey: json(APIKeySchema, k) };
    },

    async addApplication(req, ctx) {
      const b = req.body;
      const gitPath = resolveGitPath(await pipedForApp(b.pipedId), b.gitPath);
      const stamp = now();
      const app = await ds.applications.create(
        create(ApplicationSchema, {
          id: randomUUID(),
          name: b.name,
          pipedId: b.pipedId,
          projectId,
          kind: ApplicationKind.KUBERNETES,
          gitPath,
          platformProvider: b.platformProvider ?? "",
          labels: b.labels ?? {},
          description: b.description ?? "",
          createdAt: stamp,
          updatedAt: stamp,
        }),
      );
      await actions.audit(
        ctx.principal,
        "application.add",
        "application",
        app.id,
        { name: app.name },
        ctx.ip,
      );
      hub.emit({ type: "application", id: app.id, applicationId: app.id, pipedId: app.pipedId });
      await hub.applicationsChanged(app.pipedId, [app.id]);
      return { id: app.id, application: json(ApplicationSchema, app) };
    },

    async listApplications(req) {
      const q = req.query ?? {};
      const labels: Record<string, string> = {};
      for (const l of q.label ?? []) {
        const i = l.indexOf(":");
        labels[l.slice(0, i)] = l.slice(i + 1);
      }
      const page = await ds.applications.list({
        projectId,
        pipedId: q.pipedId,
        name: q.name,
        disabled: q.disabled,
        labels,
        limit: q.limit,
        cursor: q.cursor,
      });
      return {
        applications: page.items.map((a) => json(ApplicationSchema, a)),
        cursor: page.cursor,
      };
    },

    async getApplication(req) {
      const a = await getApp(req.params.id);
      if (a.deleted) throw new NotFoundError(`application ${req.params.id} not found`);
      return { application: json(ApplicationSchema, a) };
    },

    async updateApplication(req, ctx) {
      const b = req.body;
      let gitPath: ApplicationGitPath | undefined;
      if (b.pipedId !== undefined || b.gitPath !== undefined) {
        // The Git path is checked against the repositories of the piped that will own the app.
        const current = await getApp(req.params.id);
        const piped = await pipedForApp(b.pipedId ?? current.pipedId);
        gitPath = resolveGitPath(
          piped,
          b.gitPath ?? {
            repoId: current.gitPath?.repo?.id ?? "",
            path: current.gitPath?.path ?? "",
            configFilename: current.gitPath?.configFilename,
          },
        );
      }
      return updateApp(req.params.id, "application.update", ctx, (a) => {
        if (b.name !== undefined) a.name = b.name;
        if (b.pipedId !== undefined) a.pipedId = b.pipedId;
        if (gitPath) a.gitPath = gitPath;
        if (b.platformProvider !== undefined) a.platformProvider = b.platformProvider;
        if (b.labels !== undefined) a.labels = b.labels;
        if (b.description !== undefined) a.description = b.description;
      });
    },

    enableApplication: (req, ctx) =>
      updateApp(req.params.id, "application.enable", ctx, (a) => {
        a.disabled = false;
      }),
    disableApplication: (req, ctx) =>
      updateApp(req.params.id, "application.disable", ctx, (a) => {
        a.disabled = true;
      }),
    deleteApplication: (req, ctx) =>
      updateApp(req.params.id, "application.delete", ctx, (a) => {
        a.deleted = true;
        a.disabled = true;
        a.deletedAt = now();
      }),

    async syncApplication(req, ctx) {
      const a = await getApp(req.params.id);
      if (a.deleted) throw new NotFoundError(`application ${a.id} not found`);
      if (a.disabled) throw new FailedPreconditionError(`application ${a.id} is disabled`);
      const strategy = SyncStrategy[req.body.strategy ?? "AUTO"];
      const cmd = await actions.createCommand(
        {
          type: Command_Type.SYNC_APPLICATION,
          pipedId: a.pipedId,
          applicationId: a.id,
          payload: {
            case: "syncApplication",
            value: { applicationId: a.id, syncStrategy: strategy },
          },
        },
        ctx.principal,
      );
      await actions.audit(
        ctx.principal,
        "application.sync",
        "application",
        a.id,
        { commandId: cmd.id, strategy: SyncStrategy[strategy] },
        ctx.ip,
      );
      return { commandId: cmd.id };
    },

    async listDeployments(req) {
      const q = req.query ?? {};
      const page = await ds.deployments.list({
        projectId,
        applicationId: q.applicationId,
        pipedId: q.pipedId,
        statuses: q.status?.map((s) => DeploymentStatus[s]),
        limit: q.limit,
        cursor: q.cursor,
      });
      return { deployments: page.items.map((d) => json(DeploymentSchema, d)), cursor: page.cursor };
    },

    async getDeployment(req) {
      return { deployment: json(DeploymentSchema, await getDeployment(req.params.id)) };
    },

    async getStageLogs(req) {
      const d = await getDeployment(req.params.id);
      const stage = d.stages.find((s) => s.id === req.params.stageId);
      if (!stage) throw new NotFoundError(`deployment ${d.id} has no stage ${req.params.stageId}`);
      const q = req.query ?? {};
      const afterIndex = q.afterIndex !== undefined ? BigInt(q.afterIndex) : undefined;
      const res = await ds.stageLogs.get(
        {
          deploymentId: d.id,
          stageId: stage.id,
          retriedCount: q.retriedCount ?? stage.retriedCount,
        },
        { afterIndex, limit: q.limit ?? DEFAULT_STAGE_LOG_PAGE },
      );
      const blocks = res.blocks;
      // In place of what the size limit dropped, one block saying so, just before the first
      // block kept (so a reader moving afterIndex forward sees it once).
      if (res.dropped && (afterIndex === undefined || afterIndex < res.dropped.firstKeptIndex - 1n))
        blocks.unshift(
          create(LogBlockSchema, {
            index: res.dropped.firstKeptIndex - 1n,
            severity: LogSeverity.ERROR,
            log: `[${res.dropped.blocks} earlier log blocks (${res.dropped.bytes} bytes) were dropped: this stage's log passed the control plane's limit (limits.stageLogBytes)]`,
            createdAt: blocks[0]?.createdAt,
          }),
        );
      return {
        blocks: blocks.map((b) => json(LogBlockSchema, b)),
        completed: res.completed,
        more: res.more,
      };
    },

    async cancelDeployment(req, ctx) {
      const d = await getDeployment(req.params.id);
      if (isDeploymentCompleted(d.status))
        throw new FailedPreconditionError(
          `deployment ${d.id} is already ${DeploymentStatus[d.status]}`,
        );
      const rollback = req.body.rollback ?? true;
      const cmd = await actions.createCommand(
        {
          type: Command_Type.CANCEL_DEPLOYMENT,
          pipedId: d.pipedId,
          applicationId: d.applicationId,
          deploymentId: d.id,
          payload: {
            case: "cancelDeployment",
            value: { deploymentId: d.id, forceRollback: rollback, forceNoRollback: !rollback },
          },
        },
        ctx.principal,
      );
      await actions.audit(
        ctx.principal,
        "deployment.cancel",
        "deployment",
        d.id,
        { commandId: cmd.id, rollback: String(rollback) },
        ctx.ip,
      );
      return { commandId: cmd.id };
    },

    async approveStage(req, ctx) {
      const { id, stageId } = req.params;
      const { d } = await approvalStage(id, stageId, ctx.principal);
      let cmd;
      try {
        cmd = await actions.createCommand(
          {
            type: Command_Type.APPROVE_STAGE,
            pipedId: d.pipedId,
            applicationId: d.applicationId,
            deploymentId: d.id,
            stageId,
            payload: { case: "approveStage", value: { deploymentId: d.id, stageId } },
          },
          ctx.principal,
          // One vote per user and stage, enforced by the datastore (also across replicas).
          `approve:${d.id}:${stageId}:${ctx.principal.username}`,
        );
      } catch (err) {
        if (err instanceof AppError && err.code === "ALREADY_EXISTS")
          throw new AlreadyExistsError(
            `user ${ctx.principal.username} has already approved stage ${stageId}; a second approval by the same user is not counted`,
          );
        throw err;
      }
      await actions.audit(
        ctx.principal,
        "stage.approve",
        "deployment",
        d.id,
        { stageId, commandId: cmd.id },
        ctx.ip,
      );
      return { commandId: cmd.id };
    },

    async rejectStage(req, ctx) {
      const { id, stageId } = req.params;
      const { d } = await approvalStage(id, stageId, ctx.principal);
      const reason = req.body.reason ?? "";
      const cmd = await actions.createCommand(
        {
          type: Command_Type.REJECT_STAGE,
          pipedId: d.pipedId,
          applicationId: d.applicationId,
          deploymentId: d.id,
          stageId,
          payload: { case: "rejectStage", value: { deploymentId: d.id, stageId, reason } },
        },
        ctx.principal,
      );
      await actions.audit(
        ctx.principal,
        "stage.reject",
        "deployment",
        d.id,
        { stageId, commandId: cmd.id, reason },
        ctx.ip,
      );
      return { commandId: cmd.id };
    },

    async skipStage(req, ctx) {
      const { id, stageId } = req.params;
      const { d, s } = await runningStage(id, stageId);
      if (s.rollback || s.availableOperation === ManualOperation.NONE)
        throw new FailedPreconditionError(`stage ${stageId} (${s.name}) cannot be skipped`);
      const cmd = await actions.createCommand(
        {
          type: Command_Type.SKIP_STAGE,
          pipedId: d.pipedId,
          applicationId: d.applicationId,
          deploymentId: d.id,
          stageId,
          payload: { case: "skipStage", value: { deploymentId: d.id, stageId } },
        },
        ctx.principal,
      );
      await actions.audit(
        ctx.principal,
        "stage.skip",
        "deployment",
        d.id,
        { stageId, commandId: cmd.id },
        ctx.ip,
      );
      return { commandId: cmd.id };
    },

    async getCommand(req) {
      const c = await inProject(ds.commands.get(req.params.id), "command", req.params.id);
      return { command: json(CommandSchema, c) };
    },

    async listAuditLog(req) {
      const q = req.query ?? {};
      const page = await ds.auditLog.list({ projectId, ...q });
      return { entries: page.items.map((e) => json(AuditLogEntrySchema, e)), cursor: page.cursor };
    },
  };
}
