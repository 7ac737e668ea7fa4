import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { DeploymentSchema, DeploymentStatus } from "@pipecd-ts/proto";
import { silentLogger } from "@pipecd-ts/runtime";
import { createTestRepo, type TestRepo } from "@pipecd-ts/testkit";
import { GitRepo } from "../src/index.js";
import { prepareWorkspace } from "../src/controller/workspace.js";
import { Redactor } from "../src/source/redactor.js";

// Deployment workspaces over a real git repository (real git CLI): one checkout per commit is
// shared by the apps that only read it; an app that writes into its checkout gets its own.

const plain = (name: string) => ({
  [`apps/${name}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: ${name}\n`,
  [`apps/${name}/cm.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\n`,
});

/** A GitRepo that counts the worktrees it checks out. */
class CountingRepo extends GitRepo {
  checkouts = 0;
  override async checkout(commit: string, workDir: string) {
    this.checkouts++;
    return super.checkout(commit, workDir);
  }
}

describe("deployment workspaces", () => {
  let dir: string;
  let origin: TestRepo;
  let repo: CountingRepo;
  let first = "";
  let second = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "piped-workspace-"));
    origin = await createTestRepo(join(dir, "origin"));
    first = await origin.commit(
      {
        ...plain("a"),
        ...plain("b"),
        "apps/s/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: s
  pipeline:
    stages:
      - name: SCRIPT_RUN
        with: { run: "echo hi > out.txt" }
      - name: K8S_PRIMARY_ROLLOUT
`,
        "apps/s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: s }\n",
      },
      "three apps",
    );
    second = await origin.commit({ "apps/a/cm.yaml": "# changed\n" }, "change a");
    repo = new CountingRepo("repo", origin.bare, "main", join(dir, "cache"), silentLogger());
    await repo.sync();
  });
  after(async () => {
    await repo.dropIdleShared();
    await rm(dir, { recursive: true, force: true });
  });

  const deployment = (app: string, commit: string, running = "") =>
    create(DeploymentSchema, {
      id: `d-${app}-${commit.slice(0, 7)}`,
      applicationId: app,
      status: DeploymentStatus.DEPLOYMENT_PLANNED,
      runningCommitHash: running,
      gitPath: { repo: { id: "repo" }, path: `apps/${app}` },
      trigger: { commit: { hash: commit } },
    });
  const prepare = (app: string, commit: string, running = "") =>
    prepareWorkspace(
      deployment(app, commit, running),
      {
        api: { call: () => Promise.reject(new Error("not called")) as never },
        repos: new Map([["repo", repo]]),
        workDir: join(dir, "work"),
        redactor: new Redactor(),
      },
      AbortSignal.timeout(30_000),
    );

  it("apps that only read share one checkout per commit; one with a SCRIPT_RUN gets its own", async () => {
    repo.checkouts = 0;
    const [a, b, s] = await Promise.all([
      prepare("a", first),
      prepare("b", first),
      prepare("s", first),
    ]);
    assert.equal(repo.checkouts, 2, "one shared checkout of the commit, one private for s");
    const root = (w: { targetDir: string }, app: string) =>
      w.targetDir.slice(0, -`/apps/${app}`.length);
    assert.equal(root(a, "a"), root(b, "b"));
    assert.notEqual(root(s, "s"), root(a, "a"));
    assert.ok(existsSync(join(a.targetDir, "cm.yaml")));
    await s.cleanup();
    assert.ok(!existsSync(s.targetDir), "the private checkout is removed");
    await a.cleanup();
    assert.ok(existsSync(b.targetDir), "still used by b");
    await b.cleanup();
    // The next deployment of the same commit reuses it.
    const again = await prepare("b", first);
    assert.equal(repo.checkouts, 2);
    assert.equal(root(again, "b"), root(a, "a"));
    assert.equal(again.appConfig, b.appConfig, "a commit's app config is parsed once");
    await again.cleanup();
  });

  it("a deployment with a running commit shares that commit's checkout too, and the files differ", async () => {
    repo.checkouts = 0;
    const w = await prepare("a", second, first);
    assert.equal(repo.checkouts, 1, "the first commit's checkout is still kept; the second is new");
    assert.deepEqual(w.changedFiles, ["apps/a/cm.yaml"]);
    assert.ok(w.runningDir && existsSync(join(w.runningDir, "cm.yaml")));
    assert.notEqual(w.runningDir, w.targetDir);
    await w.cleanup();
    const kept = w.targetDir;
    await repo.dropIdleShared();
    assert.ok(!existsSync(kept), "idle shared checkouts are removed when the piped stops");
  });
});
