import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  ApplicationSchema,
  CommandSchema,
  CommandStatus,
  Command_Type,
  type Application,
} from "@pipecd-ts/proto";
import {
  NotFoundError,
  UnavailableError,
  createLogger,
  silentLogger,
  systemClock,
} from "@pipecd-ts/runtime";
import { createTestRepo, eventually, type TestRepo } from "@pipecd-ts/testkit";
import { GitRepo, Trigger, inspectAppConfig, type TriggerDeps } from "../src/index.js";
import { CommandStore } from "../src/apiclient/commands.js";
import { Reporter } from "../src/apiclient/reporter.js";

// The trigger over a real git repository (real git CLI), with the control plane replaced by a
// small recording fake: the trigger itself is under test.

const appConfig = (name: string) => `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: ${name}
`;

/** A GitRepo that counts the git processes the trigger makes it run, per operation. */
class CountingRepo extends GitRepo {
  readonly calls = new Map<string, number>();
  private count(what: string): void {
    this.calls.set(what, (this.calls.get(what) ?? 0) + 1);
  }
  override async tree(commit: string) {
    this.count("tree");
    return super.tree(commit);
  }
  override async readBlobs(ids: readonly string[]) {
    this.count("readBlobs");
    return super.readBlobs(ids);
  }
  override async changedFiles(from: string, to: string) {
    this.count("changedFiles");
    return super.changedFiles(from, to);
  }
  reset(): void {
    this.calls.clear();
  }
}

describe("Trigger over a real git repository", () => {
  let dir: string;
  let origin: TestRepo;
  let repo: CountingRepo;
  const apps: Application[] = [];
  const created: { appId: string; commit: string; kind: number }[] = [];
  const handled: { commandId: string; status: CommandStatus }[] = [];
  let failLists = 0;

  const api: TriggerDeps["api"] = {
    pipedId: "piped-1",
    projectId: "project",
    call: (async (method: string, req: Record<string, unknown>) => {
      switch (method) {
        case "listApplications":
          if (failLists > 0) {
            failLists--;
            throw new UnavailableError("the control plane is restarting");
          }
          return { applications: apps, cursor: "" };
        case "getApplicationMostRecentDeployment":
          throw new NotFoundError("no deployment");
        case "createDeployment": {
          const d = req.deployment as {
            applicationId: string;
            trigger: { commit: { hash: string }; kind: number };
          };
          created.push({
            appId: d.applicationId,
            commit: d.trigger.commit.hash,
            kind: d.trigger.kind,
          });
          return {};
        }
        case "reportCommandHandled":
          handled.push({
            commandId: req.commandId as string,
            status: req.status as CommandStatus,
          });
          return {};
        default:
          return {};
      }
    }) as unknown as TriggerDeps["api"]["call"],
  };

  const newTrigger = (syncIntervalMs = 60_000) =>
    new Trigger({
      api,
      repos: new Map([["main", repo]]),
      inspectConfig: inspectAppConfig,
      syncIntervalMs,
      clock: systemClock,
      logger: createLogger({ name: "test", level: "silent" }),
      commands: new CommandStore({
        api,
        reporter: new Reporter(silentLogger()),
        clock: systemClock,
        route: () => undefined,
      }),
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "trigger-"));
    origin = await createTestRepo(join(dir, "origin"));
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) {
      files[`apps/a${i}/app.pipecd.yaml`] = appConfig(`a${i}`);
      files[`apps/a${i}/deploy.yaml`] = "kind: ConfigMap\n";
      apps.push(
        create(ApplicationSchema, {
          id: `app-${i}`,
          name: `a${i}`,
          gitPath: { repo: { id: "main" }, path: `apps/a${i}` },
        }),
      );
    }
    await origin.commit(files, "twenty apps");
    repo = new CountingRepo(
      "main",
      origin.bare,
      "main",
      join(dir, "cache"),
      createLogger({ name: "test", level: "silent" }),
    );
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("an idle pass runs no per-app git process; a commit touching one app costs one tree, one diff and one config read", async () => {
    const ac = new AbortController();
    const t = newTrigger();
    const running = t.run(ac.signal);
    try {
      await eventually(async () => created.length === 20, 20_000, "every app's first deployment");
      await eventually(async () => t.passes >= 1, 10_000, "the first pass");
      // An idle pass: nothing changed.
      repo.reset();
      const passes = t.passes;
      t.kick();
      await eventually(async () => t.passes > passes, 10_000, "an idle pass");
      assert.deepEqual(
        Object.fromEntries(repo.calls),
        {},
        "no git work beyond fetch and rev-parse",
      );
      const before = created.length;
      repo.reset();
      const commit = await origin.commit({ "apps/a7/deploy.yaml": "kind: Secret\n" }, "change a7");
      t.kick();
      await eventually(async () => created.length === before + 1, 10_000, "a7's deployment");
      assert.deepEqual(created.at(-1), { appId: "app-7", commit, kind: created.at(-1)?.kind });
      assert.deepEqual(Object.fromEntries(repo.calls), { tree: 1, readBlobs: 1, changedFiles: 1 });
    } finally {
      ac.abort();
      await running;
    }
  });

  it("a SYNC command that arrives while listing applications fails is handled on a later pass, not dropped", async () => {
    const ac = new AbortController();
    const t = newTrigger(600_000);
    failLists = 1;
    const cmd = create(CommandSchema, {
      id: "cmd-1",
      applicationId: "app-3",
      type: Command_Type.SYNC_APPLICATION,
      commander: "alice",
    });
    t.syncNow(cmd);
    const running = t.run(ac.signal);
    try {
      await eventually(
        async () => handled.find((h) => h.commandId === "cmd-1"),
        15_000,
        "the command to be handled after the failed pass",
      );
      assert.equal(
        handled.find((h) => h.commandId === "cmd-1")?.status,
        CommandStatus.COMMAND_SUCCEEDED,
      );
      assert.equal(failLists, 0, "the first listing failed");
    } finally {
      ac.abort();
      await running;
    }
  });
});
