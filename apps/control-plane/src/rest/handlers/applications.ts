import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  ApplicationGitPathSchema,
  ApplicationLiveStateSnapshotSchema,
  ApplicationSchema,
  ApplicationKind,
  Command_Type,
  SyncStrategy,
  type Application,
  type ApplicationGitPath,
  type Piped,
} from "@pipecd-ts/proto";
import {
  AppError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "@pipecd-ts/runtime";
import {
  json,
  type HandlerContext,
  type HandlerDeps,
  type HandlerKit,
  type Handlers,
} from "./shared.js";

/** Adding, listing, changing, deleting and syncing applications. */
export function applicationHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<
  Handlers,
  | "addApplication"
  | "listApplications"
  | "getApplication"
  | "getApplicationLiveState"
  | "updateApplication"
  | "enableApplication"
  | "disableApplication"
  | "deleteApplication"
  | "syncApplication"
> {
  const { ds, actions, hub, projectId } = deps;
  const { now, getApp, getPiped } = kit;

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

  return {
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

    async getApplicationLiveState(req) {
      const a = await getApp(req.params.id);
      if (a.deleted) throw new NotFoundError(`application ${req.params.id} not found`);
      const live = await ds.liveStates.get(a.id).catch((err: unknown) => {
        if (err instanceof AppError && err.code === "NOT_FOUND")
          throw new NotFoundError(
            `application ${a.id} has no live state yet: its piped reports it once it has deployed the application`,
          );
        throw err;
      });
      return { liveState: json(ApplicationLiveStateSnapshotSchema, live) };
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
        {
          action: "application.sync",
          resourceType: "application",
          resourceId: a.id,
          details: (cmd) => ({ commandId: cmd.id, strategy: SyncStrategy[strategy] }),
          sourceIp: ctx.ip,
        },
      );
      return { commandId: cmd.id };
    },
  };
}
