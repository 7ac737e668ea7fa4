import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  create,
  equals,
  toBinary,
  toJsonString,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  APIKeySchema,
  ApplicationLiveStateSnapshotSchema,
  ApplicationSchema,
  AuditLogEntrySchema,
  CommandSchema,
  CommandStatus,
  Command_Type,
  DeploymentSchema,
  DeploymentStatus,
  KubernetesResourceStateSchema,
  KubernetesResourceState_HealthStatus,
  LogBlockSchema,
  PipedSchema,
  PipelineStageSchema,
  Role,
  StageStatus,
  type Application,
  type Command,
  type Deployment,
  type LogBlock,
  type Piped,
  type PipelineStage,
  EventSchema,
  EventStatus,
  ChainStatus,
  DeploymentChainSchema,
} from "@pipecd-ts/proto";
import { AppError, FailedPreconditionError, type ErrorCode } from "@pipecd-ts/runtime";
import type {
  ApplicationFilter,
  AuditLogFilter,
  CommandFilter,
  Datastore,
  DeploymentFilter,
  StageLogKey,
  StoredKeyHash,
} from "../src/index.js";

/** What a driver's entry file hands the suite: an open datastore and a way to open it again. */
export interface ConformanceTarget {
  ds: Datastore;
  /** Opens another Datastore on the same storage (used for restarts and for a second replica). */
  reopen(): Promise<Datastore>;
}

// ---------------------------------------------------------------------------------------------
// helpers

let seq = 0;
/** A fresh id, unique within the run (tests share one database). */
function uid(prefix: string): string {
  seq += 1;
  return `${prefix}-${seq}-${Math.random().toString(36).slice(2, 8)}`;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, what?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError(${code}), got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (what) assert.match(err.message, what);
    return true;
  });
}

function assertMsgEqual<D extends DescMessage>(
  schema: D,
  actual: MessageShape<D>,
  expected: MessageShape<D>,
): void {
  assert.ok(
    equals(schema, actual, expected),
    `messages differ:\n actual:   ${toJsonString(schema, actual)}\n expected: ${toJsonString(schema, expected)}`,
  );
}

/** Polls `cond` until it holds or the deadline passes. */
async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const BASE = Date.parse("2024-05-01T00:00:00Z");

function keyHash(id: string, atMs: number): StoredKeyHash {
  return { id, hash: `secret-hash-of-${id}`, creator: "alice", createdAt: new Date(atMs) };
}

function newPiped(projectId: string, init: MessageInitShape<typeof PipedSchema> = {}): Piped {
  return create(PipedSchema, { id: uid("piped"), name: "dev", projectId, version: "v1", ...init });
}

function newApp(
  projectId: string,
  init: MessageInitShape<typeof ApplicationSchema> = {},
): Application {
  return create(ApplicationSchema, {
    id: uid("app"),
    name: uid("name"),
    pipedId: "piped-x",
    projectId,
    labels: { team: "core" },
    ...init,
  });
}

function stage(id: string, status: StageStatus, retriedCount = 0): PipelineStage {
  return create(PipelineStageSchema, { id, name: "K8S_CANARY_ROLLOUT", status, retriedCount });
}

function newDeployment(
  projectId: string,
  init: MessageInitShape<typeof DeploymentSchema> = {},
): Deployment {
  return create(DeploymentSchema, {
    id: uid("dep"),
    applicationId: "app-x",
    applicationName: "app",
    pipedId: "piped-x",
    projectId,
    summary: "deploy v1",
    status: DeploymentStatus.DEPLOYMENT_PENDING,
    stages: [
      stage("s1", StageStatus.STAGE_NOT_STARTED_YET),
      stage("s2", StageStatus.STAGE_NOT_STARTED_YET),
    ],
    metadata: { k: "v" },
    ...init,
  });
}

function newCommand(pipedId: string, init: MessageInitShape<typeof CommandSchema> = {}): Command {
  return create(CommandSchema, {
    id: uid("cmd"),
    pipedId,
    projectId: "proj",
    applicationId: "app-x",
    deploymentId: "dep-x",
    stageId: "s1",
    commander: "alice",
    type: Command_Type.APPROVE_STAGE,
    ...init,
  });
}

function block(index: number, log = `line ${index}`): LogBlock {
  return create(LogBlockSchema, {
    index: BigInt(index),
    log,
    createdAt: timestampFromMs(BASE + index),
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * The datastore conformance suite: every behaviour the control plane relies on, run once per
 * driver against a fresh database.
 */
export function runConformance(driverName: string, open: () => Promise<ConformanceTarget>): void {
  describe(`datastore conformance: ${driverName}`, () => {
    let target: ConformanceTarget | undefined;
    let current: Datastore | undefined;
    const others: Datastore[] = [];
    const ds = (): Datastore => {
      if (!current) throw new Error("datastore not opened");
      return current;
    };

    before(async () => {
      target = await open();
      current = target.ds;
    });

    after(async () => {
      for (const d of others) await d.close().catch(() => undefined);
      await current?.close();
    });

    describe("pipeds", () => {
      it("a created piped reads back with its key but never the key hash", async () => {
        const p = newPiped("proj-pipeds");
        const created = await ds().pipeds.create(p, keyHash("k1", BASE));
        const got = await ds().pipeds.get(p.id);
        assertMsgEqual(PipedSchema, got, created);
        assert.deepEqual(
          got.keys.map((k) => [k.id, k.creator, k.createdAt && timestampMs(k.createdAt)]),
          [["k1", "alice", BASE]],
        );
        assert.ok(got.createdAt && got.updatedAt, "timestamps are set on create");
        assert.doesNotMatch(toJsonString(PipedSchema, got), /secret-hash/);
        const listed = await ds().pipeds.list("proj-pipeds");
        assert.doesNotMatch(listed.map((x) => toJsonString(PipedSchema, x)).join(), /secret-hash/);
      });

      it("getAuth returns the stored key hashes", async () => {
        const p = newPiped("proj-pipeds");
        await ds().pipeds.create(p, keyHash("k1", BASE));
        const { piped, keyHashes } = await ds().pipeds.getAuth(p.id);
        assert.equal(piped.id, p.id);
        assert.deepEqual(keyHashes, [keyHash("k1", BASE)]);
      });

      it("creating a piped with an existing id is AlreadyExists", async () => {
        const p = newPiped("proj-pipeds");
        await ds().pipeds.create(p, keyHash("k1", BASE));
        await rejectsWith(ds().pipeds.create(p, keyHash("k2", BASE)), "ALREADY_EXISTS");
      });

      it("reading or changing an unknown piped is NotFound", async () => {
        await rejectsWith(ds().pipeds.get("nope"), "NOT_FOUND");
        await rejectsWith(ds().pipeds.getAuth("nope"), "NOT_FOUND");
        await rejectsWith(ds().pipeds.addKey("nope", keyHash("k", BASE)), "NOT_FOUND");
        await rejectsWith(ds().pipeds.deleteOldKeys("nope"), "NOT_FOUND");
        await rejectsWith(
          ds().pipeds.update("nope", () => {}),
          "NOT_FOUND",
        );
      });

      it("a second key rotation drops the oldest key", async () => {
        const p = newPiped("proj-pipeds");
        await ds().pipeds.create(p, keyHash("k1", BASE));
        const two = await ds().pipeds.addKey(p.id, keyHash("k2", BASE + 1));
        assert.deepEqual(
          two.keys.map((k) => k.id),
          ["k1", "k2"],
        );
        const rotated = await ds().pipeds.addKey(p.id, keyHash("k3", BASE + 2));
        assert.deepEqual(
          rotated.keys.map((k) => k.id),
          ["k2", "k3"],
        );
        const { keyHashes } = await ds().pipeds.getAuth(p.id);
        assert.deepEqual(
          keyHashes.map((k) => k.hash),
          ["secret-hash-of-k2", "secret-hash-of-k3"],
        );
      });

      it("deleteOldKeys keeps only the newest key", async () => {
        const p = newPiped("proj-pipeds");
        await ds().pipeds.create(p, keyHash("k1", BASE));
        await ds().pipeds.addKey(p.id, keyHash("k2", BASE + 1));
        const after = await ds().pipeds.deleteOldKeys(p.id);
        assert.deepEqual(
          after.keys.map((k) => k.id),
          ["k2"],
        );
        assert.deepEqual(
          (await ds().pipeds.getAuth(p.id)).keyHashes.map((k) => k.id),
          ["k2"],
        );
      });

      it("update changes descriptive fields but never the keys", async () => {
        const p = newPiped("proj-pipeds");
        const created = await ds().pipeds.create(p, keyHash("k1", BASE));
        const updated = await ds().pipeds.update(p.id, (x) => {
          x.name = "renamed";
          x.disabled = true;
          x.keys = [];
        });
        assert.equal(updated.name, "renamed");
        assert.deepEqual(
          updated.keys.map((k) => k.id),
          ["k1"],
        );
        assert.ok(timestampMs(updated.updatedAt!) >= timestampMs(created.updatedAt!));
        const got = await ds().pipeds.get(p.id);
        assertMsgEqual(PipedSchema, got, updated);
      });

      it("list returns only the project's pipeds, newest first", async () => {
        const project = uid("proj");
        const a = newPiped(project, { createdAt: timestampFromMs(BASE + 1) });
        const b = newPiped(project, { createdAt: timestampFromMs(BASE + 2) });
        await ds().pipeds.create(a, keyHash("k", BASE));
        await ds().pipeds.create(b, keyHash("k", BASE));
        await ds().pipeds.create(newPiped(uid("other")), keyHash("k", BASE));
        assert.deepEqual(
          (await ds().pipeds.list(project)).map((x) => x.id),
          [b.id, a.id],
        );
      });
    });

    describe("api keys", () => {
      it("an API key is stored with its hash, listed per project and updatable", async () => {
        const project = uid("proj");
        const key = create(APIKeySchema, {
          id: uid("key"),
          name: "ci",
          projectId: project,
          role: Role.EDITOR,
          creator: "alice",
        });
        const created = await ds().apiKeys.create(key, "hash-1");
        assertMsgEqual(APIKeySchema, await ds().apiKeys.get(key.id), created);
        const auth = await ds().apiKeys.getAuth(key.id);
        assert.equal(auth.hash, "hash-1");
        assert.deepEqual(
          (await ds().apiKeys.list(project)).map((k) => k.id),
          [key.id],
        );
        const disabled = await ds().apiKeys.update(key.id, (k) => {
          k.disabled = true;
        });
        assert.equal((await ds().apiKeys.get(key.id)).disabled, true);
        assert.equal(disabled.disabled, true);
        await rejectsWith(ds().apiKeys.create(key, "hash-2"), "ALREADY_EXISTS");
        await rejectsWith(ds().apiKeys.get("nope"), "NOT_FOUND");
        await rejectsWith(ds().apiKeys.getAuth("nope"), "NOT_FOUND");
        await rejectsWith(
          ds().apiKeys.update("nope", () => {}),
          "NOT_FOUND",
        );
      });

      it("touchLastUsed records the time without bumping updatedAt, and never goes back", async () => {
        const key = create(APIKeySchema, {
          id: uid("key"),
          name: "ci",
          projectId: "p",
          role: Role.VIEWER,
        });
        const created = await ds().apiKeys.create(key, "h");
        await ds().apiKeys.touchLastUsed(key.id, new Date(BASE + 5000));
        await ds().apiKeys.touchLastUsed(key.id, new Date(BASE + 1000));
        const got = await ds().apiKeys.get(key.id);
        assert.equal(timestampMs(got.lastUsedAt!), BASE + 5000);
        assert.equal(timestampMs(got.updatedAt!), timestampMs(created.updatedAt!));
        await ds().apiKeys.touchLastUsed("nope", new Date()); // best effort: no error
      });
    });

    describe("applications", () => {
      it("an application is created once, read back and updated", async () => {
        const app = newApp(uid("proj"));
        const created = await ds().applications.create(app);
        assertMsgEqual(ApplicationSchema, await ds().applications.get(app.id), created);
        await rejectsWith(ds().applications.create(app), "ALREADY_EXISTS");
        const updated = await ds().applications.update(app.id, (a) => {
          a.description = "changed";
        });
        assert.equal((await ds().applications.get(app.id)).description, "changed");
        assertMsgEqual(ApplicationSchema, await ds().applications.get(app.id), updated);
        await rejectsWith(ds().applications.get("nope"), "NOT_FOUND");
        await rejectsWith(
          ds().applications.update("nope", () => {}),
          "NOT_FOUND",
        );
      });

      it(
        "concurrent updates of one application from two replicas are all applied, index columns included",
        { skip: driverName === "sqlite" && "one process owns a SQLite database" },
        async () => {
          const second = await target!.reopen();
          others.push(second);
          const project = uid("proj");
          const app = newApp(project, { labels: { env: "dev" } });
          await ds().applications.create(app);
          // Both replicas write it once, so each remembers a revision the other moves on.
          await ds().applications.update(app.id, (a) => void (a.description = "a"));
          await second.applications.update(app.id, (a) => void (a.labels.tier = "web"));
          await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 ? second : ds()).applications.update(app.id, (a) => {
                a.labels[`k${i}`] = String(i);
                if (i === 7) a.disabled = true;
              }),
            ),
          );
          for (const replica of [ds(), second]) {
            const got = await replica.applications.update(app.id, (a) => void (a.name = "renamed"));
            for (let i = 0; i < 20; i++) assert.equal(got.labels[`k${i}`], String(i));
            assert.equal(got.description, "a");
            assert.equal(got.labels.tier, "web");
          }
          // The index columns moved with the document: the list filters see the last write.
          const page = await second.applications.list({
            projectId: project,
            name: "renamed",
            disabled: true,
            labels: { tier: "web", k19: "19" },
          });
          assert.deepEqual(
            page.items.map((a) => a.id),
            [app.id],
          );
        },
      );

      it("list filters by piped, name, disabled, deleted and labels", async () => {
        const project = uid("proj");
        const a = newApp(project, {
          pipedId: "pa",
          name: "web",
          labels: { env: "prod", "app.kubernetes.io/name": "web" },
        });
        const b = newApp(project, { pipedId: "pb", name: "api", labels: { env: "dev" } });
        const c = newApp(project, {
          pipedId: "pa",
          name: "db",
          disabled: true,
          labels: { env: "prod" },
        });
        const d = newApp(project, {
          pipedId: "pa",
          name: "old",
          deleted: true,
          labels: { env: "prod" },
        });
        for (const x of [a, b, c, d]) await ds().applications.create(x);
        await ds().applications.create(newApp(uid("other"), { pipedId: "pa" }));
        const ids = async (f: Omit<ApplicationFilter, "projectId">): Promise<string[]> =>
          (await ds().applications.list({ projectId: project, ...f })).items
            .map((x) => x.id)
            .sort();
        assert.deepEqual(await ids({}), [a.id, b.id, c.id].sort());
        assert.deepEqual(await ids({ includeDeleted: true }), [a.id, b.id, c.id, d.id].sort());
        assert.deepEqual(await ids({ pipedId: "pa" }), [a.id, c.id].sort());
        assert.deepEqual(await ids({ name: "api" }), [b.id]);
        assert.deepEqual(await ids({ disabled: true }), [c.id]);
        assert.deepEqual(await ids({ disabled: false }), [a.id, b.id].sort());
        assert.deepEqual(await ids({ labels: { env: "prod" } }), [a.id, c.id].sort());
        assert.deepEqual(await ids({ labels: { env: "prod", "app.kubernetes.io/name": "web" } }), [
          a.id,
        ]);
        assert.deepEqual(await ids({ labels: { env: "staging" } }), []);
      });

      it("an update keeps list filters in sync with the document", async () => {
        const project = uid("proj");
        const app = newApp(project, { labels: { env: "dev" } });
        await ds().applications.create(app);
        await ds().applications.update(app.id, (a) => {
          a.disabled = true;
          a.labels = { env: "prod" };
        });
        const page = await ds().applications.list({
          projectId: project,
          disabled: true,
          labels: { env: "prod" },
        });
        assert.deepEqual(
          page.items.map((x) => x.id),
          [app.id],
        );
        await ds().applications.update(app.id, (a) => {
          a.deleted = true;
        });
        assert.deepEqual((await ds().applications.list({ projectId: project })).items, []);
      });

      it("list pages newest first and a cursor is stable under later inserts", async () => {
        const project = uid("proj");
        // Two share a createdAt: the id breaks the tie.
        const times = [1, 2, 3, 3, 4, 5, 6];
        const apps = times.map((t, i) =>
          newApp(project, { id: `app-${project}-${i}`, createdAt: timestampFromMs(BASE + t) }),
        );
        for (const a of apps) await ds().applications.create(a);
        const expected = [...apps]
          .sort(
            (x, y) =>
              timestampMs(y.createdAt!) - timestampMs(x.createdAt!) || (y.id < x.id ? -1 : 1),
          )
          .map((a) => a.id);
        const p1 = await ds().applications.list({ projectId: project, limit: 3 });
        assert.equal(p1.items.length, 3);
        assert.notEqual(p1.cursor, "");
        // A newer app arriving between pages must not shift later pages.
        await ds().applications.create(newApp(project, { createdAt: timestampFromMs(BASE + 100) }));
        const p2 = await ds().applications.list({
          projectId: project,
          limit: 3,
          cursor: p1.cursor,
        });
        const p3 = await ds().applications.list({
          projectId: project,
          limit: 3,
          cursor: p2.cursor,
        });
        assert.equal(p3.cursor, "");
        assert.deepEqual(
          [...p1.items, ...p2.items, ...p3.items].map((a) => a.id),
          expected,
        );
      });

      it("a malformed cursor is InvalidArgument", async () => {
        await rejectsWith(
          ds().applications.list({ projectId: "p", cursor: "not a cursor!" }),
          "INVALID_ARGUMENT",
        );
        await rejectsWith(
          ds().applications.list({
            projectId: "p",
            cursor: Buffer.from("garbage").toString("base64url"),
          }),
          "INVALID_ARGUMENT",
        );
        await rejectsWith(
          ds().deployments.list({ projectId: "p", cursor: "%%%" }),
          "INVALID_ARGUMENT",
        );
        // An audit-log id past 64 bits failed the query (a 500 over REST).
        for (const id of ["9223372036854775808", "9999999999999999999"])
          await rejectsWith(
            ds().auditLog.list({
              projectId: "p",
              cursor: Buffer.from(`1:${id}`).toString("base64url"),
            }),
            "INVALID_ARGUMENT",
          );
      });

      it("the page size defaults to 50 and is at least 1", async () => {
        const project = uid("proj");
        for (let i = 0; i < 52; i++)
          await ds().applications.create(newApp(project, { createdAt: timestampFromMs(BASE + i) }));
        const def = await ds().applications.list({ projectId: project });
        assert.equal(def.items.length, 50);
        assert.notEqual(def.cursor, "");
        assert.equal(
          (await ds().applications.list({ projectId: project, limit: 0 })).items.length,
          1,
        );
        assert.equal(
          (await ds().applications.list({ projectId: project, limit: 10_000 })).items.length,
          52,
        );
      });
    });

    describe("deployments", () => {
      it("create is idempotent for the same piped and AlreadyExists for another piped", async () => {
        const d = newDeployment(uid("proj"), { pipedId: "piped-a" });
        const first = await ds().deployments.create(d);
        assert.equal(first.created, true);
        const again = await ds().deployments.create({ ...d, summary: "a retried report" });
        assert.equal(again.created, false);
        assertMsgEqual(DeploymentSchema, again.deployment, first.deployment);
        await rejectsWith(ds().deployments.create({ ...d, pipedId: "piped-b" }), "ALREADY_EXISTS");
        assertMsgEqual(DeploymentSchema, await ds().deployments.get(d.id), first.deployment);
      });

      it("reading or updating an unknown deployment is NotFound", async () => {
        await rejectsWith(ds().deployments.get("nope"), "NOT_FOUND");
        await rejectsWith(
          ds().deployments.update("nope", () => {}),
          "NOT_FOUND",
        );
      });

      it("a deployment walks PENDING → PLANNED → RUNNING → ROLLING_BACK → FAILURE", async () => {
        const d = newDeployment(uid("proj"));
        await ds().deployments.create(d);
        for (const status of [
          DeploymentStatus.DEPLOYMENT_PLANNED,
          DeploymentStatus.DEPLOYMENT_RUNNING,
          DeploymentStatus.DEPLOYMENT_RUNNING, // re-reporting the same status is allowed
          DeploymentStatus.DEPLOYMENT_ROLLING_BACK,
          DeploymentStatus.DEPLOYMENT_FAILURE,
        ]) {
          const updated = await ds().deployments.update(d.id, (x) => {
            x.status = status;
          });
          assert.equal(updated.status, status);
          assert.equal((await ds().deployments.get(d.id)).status, status);
        }
      });

      for (const [from, to] of [
        [DeploymentStatus.DEPLOYMENT_SUCCESS, DeploymentStatus.DEPLOYMENT_RUNNING],
        [DeploymentStatus.DEPLOYMENT_ROLLING_BACK, DeploymentStatus.DEPLOYMENT_SUCCESS],
        [DeploymentStatus.DEPLOYMENT_RUNNING, DeploymentStatus.DEPLOYMENT_PLANNED],
        [DeploymentStatus.DEPLOYMENT_CANCELLED, DeploymentStatus.DEPLOYMENT_FAILURE],
      ] as const) {
        it(`${DeploymentStatus[from]} → ${DeploymentStatus[to]} is FailedPrecondition and writes nothing`, async () => {
          const d = newDeployment(uid("proj"), { status: from });
          await ds().deployments.create(d);
          const before = await ds().deployments.get(d.id);
          await rejectsWith(
            ds().deployments.update(d.id, (x) => {
              x.status = to;
              x.summary = "must not be written";
            }),
            "FAILED_PRECONDITION",
            new RegExp(`${DeploymentStatus[from]}.*${DeploymentStatus[to]}`),
          );
          assertMsgEqual(DeploymentSchema, await ds().deployments.get(d.id), before);
          const listed = await ds().deployments.list({ projectId: d.projectId, statuses: [to] });
          assert.deepEqual(listed.items, [], "the status column was not changed either");
        });
      }

      it("an update function that throws aborts the update with its own error", async () => {
        const d = newDeployment(uid("proj"));
        await ds().deployments.create(d);
        const before = await ds().deployments.get(d.id);
        await rejectsWith(
          ds().deployments.update(d.id, (x) => {
            x.summary = "half done";
            throw new FailedPreconditionError("caller says no");
          }),
          "FAILED_PRECONDITION",
          /caller says no/,
        );
        assertMsgEqual(DeploymentSchema, await ds().deployments.get(d.id), before);
      });

      it("a completed stage goes back to RUNNING only when its retried count increases", async () => {
        const d = newDeployment(uid("proj"), { status: DeploymentStatus.DEPLOYMENT_RUNNING });
        await ds().deployments.create(d);
        const setStage = (status: StageStatus, retried?: number) =>
          ds().deployments.update(d.id, (x) => {
            const s = x.stages.find((st) => st.id === "s1")!;
            s.status = status;
            if (retried !== undefined) s.retriedCount = retried;
          });
        await setStage(StageStatus.STAGE_RUNNING);
        await rejectsWith(setStage(StageStatus.STAGE_NOT_STARTED_YET), "FAILED_PRECONDITION", /s1/);
        await setStage(StageStatus.STAGE_SUCCESS);
        await rejectsWith(
          setStage(StageStatus.STAGE_RUNNING),
          "FAILED_PRECONDITION",
          /STAGE_SUCCESS.*STAGE_RUNNING/,
        );
        await rejectsWith(setStage(StageStatus.STAGE_FAILURE), "FAILED_PRECONDITION");
        assert.equal(
          (await ds().deployments.get(d.id)).stages[0]?.status,
          StageStatus.STAGE_SUCCESS,
        );
        const retried = await setStage(StageStatus.STAGE_RUNNING, 1);
        assert.equal(retried.stages[0]?.status, StageStatus.STAGE_RUNNING);
        assert.equal(retried.stages[0]?.retriedCount, 1);
        // A stage the planner adds later has no previous status to check against.
        const added = await ds().deployments.update(d.id, (x) => {
          x.stages.push(stage("s3", StageStatus.STAGE_SUCCESS));
        });
        assert.equal(added.stages.length, 3);
      });

      it("update sets updatedAt and keeps createdAt", async () => {
        const d = newDeployment(uid("proj"), {
          createdAt: timestampFromMs(BASE),
          updatedAt: timestampFromMs(BASE),
        });
        await ds().deployments.create(d);
        const u = await ds().deployments.update(d.id, (x) => {
          x.summary = "changed";
        });
        assert.equal(timestampMs(u.createdAt!), BASE);
        assert.ok(timestampMs(u.updatedAt!) > BASE);
      });

      it("list filters by application, piped and statuses, newest first, with cursor paging", async () => {
        const project = uid("proj");
        const mk = (i: number, init: MessageInitShape<typeof DeploymentSchema>): Deployment =>
          newDeployment(project, { createdAt: timestampFromMs(BASE + i), ...init });
        const ds1 = [
          mk(1, {
            applicationId: "a1",
            pipedId: "p1",
            status: DeploymentStatus.DEPLOYMENT_SUCCESS,
          }),
          mk(2, {
            applicationId: "a1",
            pipedId: "p1",
            status: DeploymentStatus.DEPLOYMENT_RUNNING,
          }),
          mk(3, {
            applicationId: "a2",
            pipedId: "p2",
            status: DeploymentStatus.DEPLOYMENT_FAILURE,
          }),
          mk(4, {
            applicationId: "a2",
            pipedId: "p1",
            status: DeploymentStatus.DEPLOYMENT_PENDING,
          }),
          mk(5, {
            applicationId: "a1",
            pipedId: "p2",
            status: DeploymentStatus.DEPLOYMENT_SUCCESS,
          }),
        ];
        for (const d of ds1) await ds().deployments.create(d);
        await ds().deployments.create(newDeployment(uid("other"), { applicationId: "a1" }));
        const ids = async (f: Omit<DeploymentFilter, "projectId">): Promise<string[]> =>
          (await ds().deployments.list({ projectId: project, ...f })).items.map((d) => d.id);
        const [d1, d2, d3, d4, d5] = ds1.map((d) => d.id);
        assert.deepEqual(await ids({}), [d5, d4, d3, d2, d1]);
        assert.deepEqual(await ids({ applicationId: "a1" }), [d5, d2, d1]);
        assert.deepEqual(await ids({ pipedId: "p2" }), [d5, d3]);
        assert.deepEqual(
          await ids({
            statuses: [DeploymentStatus.DEPLOYMENT_SUCCESS, DeploymentStatus.DEPLOYMENT_FAILURE],
          }),
          [d5, d3, d1],
        );
        assert.deepEqual(await ids({ statuses: [] }), [d5, d4, d3, d2, d1]);
        assert.deepEqual(
          await ids({ applicationId: "a1", statuses: [DeploymentStatus.DEPLOYMENT_SUCCESS] }),
          [d5, d1],
        );
        const seen: string[] = [];
        let cursor = "";
        for (let pages = 0; pages < 10; pages++) {
          const page = await ds().deployments.list({ projectId: project, limit: 2, cursor });
          seen.push(...page.items.map((d) => d.id));
          cursor = page.cursor;
          if (!cursor) break;
        }
        assert.deepEqual(seen, [d5, d4, d3, d2, d1]);
      });

      it("listNotCompleted returns a piped's active deployments oldest first", async () => {
        const piped = uid("piped");
        const project = uid("proj");
        const mk = (i: number, status: DeploymentStatus): Deployment =>
          newDeployment(project, { pipedId: piped, status, createdAt: timestampFromMs(BASE + i) });
        const all = [
          mk(5, DeploymentStatus.DEPLOYMENT_RUNNING),
          mk(1, DeploymentStatus.DEPLOYMENT_PENDING),
          mk(3, DeploymentStatus.DEPLOYMENT_SUCCESS),
          mk(2, DeploymentStatus.DEPLOYMENT_ROLLING_BACK),
          mk(4, DeploymentStatus.DEPLOYMENT_PLANNED),
          mk(6, DeploymentStatus.DEPLOYMENT_CANCELLED),
        ];
        for (const d of all) await ds().deployments.create(d);
        await ds().deployments.create(
          newDeployment(project, {
            pipedId: uid("other"),
            status: DeploymentStatus.DEPLOYMENT_RUNNING,
          }),
        );
        const p1 = await ds().deployments.listNotCompleted(piped, { limit: 3 });
        const p2 = await ds().deployments.listNotCompleted(piped, { limit: 3, cursor: p1.cursor });
        assert.equal(p2.cursor, "");
        const byTime = (i: number): string =>
          all.find((d) => timestampMs(d.createdAt!) === BASE + i)!.id;
        assert.deepEqual(
          [...p1.items, ...p2.items].map((d) => d.id),
          [byTime(1), byTime(2), byTime(4), byTime(5)],
        );
        // Completing one removes it.
        await ds().deployments.update(byTime(5), (d) => {
          d.status = DeploymentStatus.DEPLOYMENT_SUCCESS;
        });
        assert.deepEqual(
          (await ds().deployments.listNotCompleted(piped, {})).items.map((d) => d.id),
          [byTime(1), byTime(2), byTime(4)],
        );
      });

      it("countByStatus counts a project's deployments per status", async () => {
        const project = uid("proj");
        for (const s of [
          DeploymentStatus.DEPLOYMENT_SUCCESS,
          DeploymentStatus.DEPLOYMENT_SUCCESS,
          DeploymentStatus.DEPLOYMENT_RUNNING,
          DeploymentStatus.DEPLOYMENT_FAILURE,
        ]) {
          await ds().deployments.create(newDeployment(project, { status: s }));
        }
        await ds().deployments.create(
          newDeployment(uid("other"), { status: DeploymentStatus.DEPLOYMENT_SUCCESS }),
        );
        const counts = await ds().deployments.countByStatus(project);
        assert.deepEqual(
          [...counts.entries()].sort((a, b) => a[0] - b[0]),
          [
            [DeploymentStatus.DEPLOYMENT_RUNNING, 1],
            [DeploymentStatus.DEPLOYMENT_SUCCESS, 2],
            [DeploymentStatus.DEPLOYMENT_FAILURE, 1],
          ],
        );
        assert.equal((await ds().deployments.countByStatus(uid("empty"))).size, 0);
      });

      it("concurrent updates fail independently: one illegal update does not fail the others", async () => {
        const project = uid("proj");
        const ok1 = newDeployment(project);
        const bad = newDeployment(project, { status: DeploymentStatus.DEPLOYMENT_SUCCESS });
        const ok2 = newDeployment(project);
        for (const d of [ok1, bad, ok2]) await ds().deployments.create(d);
        const results = await Promise.allSettled([
          ds().deployments.update(ok1.id, (d) => {
            d.status = DeploymentStatus.DEPLOYMENT_RUNNING;
          }),
          ds().deployments.update(bad.id, (d) => {
            d.status = DeploymentStatus.DEPLOYMENT_RUNNING;
          }),
          ds().deployments.update(ok2.id, (d) => {
            d.status = DeploymentStatus.DEPLOYMENT_PLANNED;
          }),
          ds().deployments.update(ok1.id, (d) => {
            d.summary = "second write to the same row";
          }),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ["fulfilled", "rejected", "fulfilled", "fulfilled"],
        );
        const get = (id: string) => ds().deployments.get(id);
        assert.equal((await get(ok1.id)).status, DeploymentStatus.DEPLOYMENT_RUNNING);
        assert.equal((await get(ok1.id)).summary, "second write to the same row");
        assert.equal((await get(bad.id)).status, DeploymentStatus.DEPLOYMENT_SUCCESS);
        assert.equal((await get(ok2.id)).status, DeploymentStatus.DEPLOYMENT_PLANNED);
      });

      it("concurrent updates of one deployment are all applied (atomic read-modify-write)", async () => {
        const d = newDeployment(uid("proj"));
        await ds().deployments.create(d);
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            ds().deployments.update(d.id, (x) => {
              x.metadata[`k${i}`] = String(i);
            }),
          ),
        );
        const got = await ds().deployments.get(d.id);
        for (let i = 0; i < 20; i++) assert.equal(got.metadata[`k${i}`], String(i));
      });

      it(
        "concurrent updates of one deployment from two replicas are all applied, and each replica then sees the other's",
        { skip: driverName === "sqlite" && "one process owns a SQLite database" },
        async () => {
          const second = await target!.reopen();
          others.push(second);
          const d = newDeployment(uid("proj"));
          await ds().deployments.create(d);
          // Both replicas have written it once, so each remembers a revision the other moves on.
          await ds().deployments.update(d.id, (x) => void (x.metadata.a = "1"));
          await second.deployments.update(d.id, (x) => void (x.metadata.b = "1"));
          await Promise.all(
            Array.from({ length: 30 }, (_, i) =>
              (i % 2 ? second : ds()).deployments.update(d.id, (x) => {
                x.metadata[`k${i}`] = String(i);
              }),
            ),
          );
          for (const replica of [ds(), second]) {
            const got = await replica.deployments.update(d.id, (x) => void (x.metadata.last = "1"));
            for (let i = 0; i < 30; i++) assert.equal(got.metadata[`k${i}`], String(i));
            assert.equal(got.metadata.a, "1");
            assert.equal(got.metadata.b, "1");
          }
        },
      );
    });

    describe("commands", () => {
      async function pipedFor(): Promise<string> {
        const p = newPiped(uid("proj"));
        await ds().pipeds.create(p, keyHash("k", BASE));
        return p.id;
      }

      it("sequences increase by one per piped and are independent across pipeds", async () => {
        const a = await pipedFor();
        const b = await pipedFor();
        const seqs: [string, bigint][] = [];
        for (const p of [a, a, b, a, b])
          seqs.push([p, (await ds().commands.create(newCommand(p))).sequence]);
        assert.deepEqual(seqs, [
          [a, 1n],
          [a, 2n],
          [b, 1n],
          [a, 3n],
          [b, 2n],
        ]);
      });

      it("50 concurrent creates get consecutive sequences with no gaps and no duplicates", async () => {
        const a = await pipedFor();
        const b = await pipedFor();
        const created = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            ds().commands.create(newCommand(i % 5 === 0 ? b : a)),
          ),
        );
        const of = (p: string): bigint[] =>
          created
            .filter((c) => c.pipedId === p)
            .map((c) => c.sequence)
            .sort((x, y) => (x < y ? -1 : 1));
        assert.deepEqual(
          of(a),
          Array.from({ length: 40 }, (_, i) => BigInt(i + 1)),
        );
        assert.deepEqual(
          of(b),
          Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
        );
        const stored = await ds().commands.listUnhandledAfter(a, 0n, 500);
        assert.deepEqual(
          stored.map((c) => c.sequence),
          of(a),
        );
      });

      it("a command for an unknown piped is NotFound", async () => {
        await rejectsWith(ds().commands.create(newCommand("no-such-piped")), "NOT_FOUND");
      });

      it("a second command with the same dedup key is AlreadyExists and consumes no sequence", async () => {
        const p = await pipedFor();
        const key = uid("approve");
        const first = await ds().commands.create(newCommand(p), { dedupKey: key });
        await rejectsWith(ds().commands.create(newCommand(p), { dedupKey: key }), "ALREADY_EXISTS");
        const next = await ds().commands.create(newCommand(p), { dedupKey: uid("approve") });
        assert.equal(next.sequence, first.sequence + 1n);
      });

      it("concurrent creates sharing a dedup key: one wins, the other fails alone and leaves no gap", async () => {
        const p = await pipedFor();
        const key = uid("approve");
        const results = await Promise.allSettled([
          ds().commands.create(newCommand(p), { dedupKey: key }),
          ds().commands.create(newCommand(p), { dedupKey: key }),
          ds().commands.create(newCommand(p)),
        ]);
        assert.deepEqual(results.map((r) => r.status).sort(), [
          "fulfilled",
          "fulfilled",
          "rejected",
        ]);
        const rejected = results.find((r) => r.status === "rejected");
        assert.ok(
          rejected?.status === "rejected" &&
            rejected.reason instanceof AppError &&
            rejected.reason.code === "ALREADY_EXISTS",
        );
        const next = await ds().commands.create(newCommand(p));
        assert.equal(next.sequence, 3n);
        assert.deepEqual(
          (await ds().commands.listUnhandledAfter(p, 0n)).map((c) => c.sequence),
          [1n, 2n, 3n],
        );
      });

      it("a duplicate command id is AlreadyExists; an unknown one is NotFound", async () => {
        const p = await pipedFor();
        const cmd = newCommand(p);
        const created = await ds().commands.create(cmd);
        assertMsgEqual(CommandSchema, await ds().commands.get(cmd.id), created);
        await rejectsWith(ds().commands.create(cmd), "ALREADY_EXISTS");
        await rejectsWith(ds().commands.get("nope"), "NOT_FOUND");
        await rejectsWith(
          ds().commands.markHandled("nope", CommandStatus.COMMAND_SUCCEEDED, {}, new Date()),
          "NOT_FOUND",
        );
      });

      it("listUnhandledAfter returns newer unhandled commands in sequence order", async () => {
        const p = await pipedFor();
        const cmds: Command[] = [];
        for (let i = 0; i < 5; i++) cmds.push(await ds().commands.create(newCommand(p)));
        await ds().commands.markHandled(
          cmds[2]!.id,
          CommandStatus.COMMAND_SUCCEEDED,
          {},
          new Date(BASE),
        );
        const after1 = await ds().commands.listUnhandledAfter(p, 1n);
        assert.deepEqual(
          after1.map((c) => c.sequence),
          [2n, 4n, 5n],
        );
        assert.deepEqual(
          (await ds().commands.listUnhandledAfter(p, 0n, 2)).map((c) => c.sequence),
          [1n, 2n],
        );
        assert.deepEqual(await ds().commands.listUnhandledAfter(p, 5n), []);
      });

      it("markHandled is idempotent for the same status and refuses a different one", async () => {
        const p = await pipedFor();
        const cmd = await ds().commands.create(newCommand(p));
        const handled = await ds().commands.markHandled(
          cmd.id,
          CommandStatus.COMMAND_SUCCEEDED,
          { note: "ok" },
          new Date(BASE + 7),
        );
        assert.equal(handled.status, CommandStatus.COMMAND_SUCCEEDED);
        assert.equal(handled.metadata["note"], "ok");
        assert.equal(timestampMs(handled.handledAt!), BASE + 7);
        const again = await ds().commands.markHandled(
          cmd.id,
          CommandStatus.COMMAND_SUCCEEDED,
          { note: "later" },
          new Date(BASE + 9),
        );
        assertMsgEqual(CommandSchema, again, handled);
        await rejectsWith(
          ds().commands.markHandled(cmd.id, CommandStatus.COMMAND_FAILED, {}, new Date()),
          "FAILED_PRECONDITION",
        );
        assertMsgEqual(CommandSchema, await ds().commands.get(cmd.id), handled);
      });

      it("list filters by piped, deployment, stage, type and status, newest first", async () => {
        const p = await pipedFor();
        const dep = uid("dep");
        const mk = (i: number, init: MessageInitShape<typeof CommandSchema>): Command =>
          newCommand(p, { deploymentId: dep, createdAt: timestampFromMs(BASE + i), ...init });
        const c1 = await ds().commands.create(
          mk(1, { stageId: "s1", type: Command_Type.APPROVE_STAGE }),
        );
        const c2 = await ds().commands.create(
          mk(2, { stageId: "s2", type: Command_Type.SKIP_STAGE }),
        );
        const c3 = await ds().commands.create(
          mk(3, { stageId: "s1", type: Command_Type.CANCEL_DEPLOYMENT }),
        );
        await ds().commands.markHandled(c3.id, CommandStatus.COMMAND_FAILED, {}, new Date());
        const ids = async (f: CommandFilter): Promise<string[]> =>
          (await ds().commands.list(f)).map((c) => c.id);
        assert.deepEqual(await ids({ deploymentId: dep }), [c3.id, c2.id, c1.id]);
        assert.deepEqual(await ids({ pipedId: p }), [c3.id, c2.id, c1.id]);
        assert.deepEqual(await ids({ deploymentId: dep, stageId: "s1" }), [c3.id, c1.id]);
        assert.deepEqual(await ids({ deploymentId: dep, type: Command_Type.SKIP_STAGE }), [c2.id]);
        assert.deepEqual(await ids({ deploymentId: dep, status: CommandStatus.COMMAND_FAILED }), [
          c3.id,
        ]);
        assert.deepEqual(await ids({ deploymentId: dep, limit: 1 }), [c3.id]);
      });
    });

    describe("stage logs", () => {
      const key = (): StageLogKey => ({ deploymentId: uid("dep"), stageId: "s1", retriedCount: 0 });

      it("blocks are deduplicated by index and returned in index order", async () => {
        const k = key();
        assert.equal(await ds().stageLogs.append(k, [block(2), block(0), block(1)]), 3);
        assert.equal(await ds().stageLogs.append(k, [block(1, "duplicate"), block(3)]), 1);
        const { blocks, completed } = await ds().stageLogs.get(k);
        assert.equal(completed, false);
        assert.deepEqual(
          blocks.map((b) => b.index),
          [0n, 1n, 2n, 3n],
        );
        assert.equal(blocks[1]?.log, "line 1", "the first write of an index wins");
        assertMsgEqual(LogBlockSchema, blocks[3]!, block(3));
      });

      it("afterIndex returns only later blocks", async () => {
        const k = key();
        await ds().stageLogs.append(
          k,
          [0, 1, 2, 3, 4].map((i) => block(i)),
        );
        assert.deepEqual(
          (await ds().stageLogs.get(k, { afterIndex: 2n })).blocks.map((b) => b.index),
          [3n, 4n],
        );
        assert.deepEqual((await ds().stageLogs.get(k, { afterIndex: 4n })).blocks, []);
      });

      it("a completed log refuses appends, and complete is idempotent", async () => {
        const k = key();
        await ds().stageLogs.append(k, [block(0)]);
        await ds().stageLogs.complete(k);
        await ds().stageLogs.complete(k);
        await rejectsWith(ds().stageLogs.append(k, [block(1)]), "FAILED_PRECONDITION");
        const got = await ds().stageLogs.get(k);
        assert.equal(got.completed, true);
        assert.deepEqual(
          got.blocks.map((b) => b.index),
          [0n],
        );
      });

      it("each attempt of a stage has its own log", async () => {
        const k = key();
        const retry = { ...k, retriedCount: 1 };
        await ds().stageLogs.append(k, [block(0, "first attempt")]);
        await ds().stageLogs.complete(k);
        assert.equal(await ds().stageLogs.append(retry, [block(0, "second attempt")]), 1);
        assert.equal((await ds().stageLogs.get(retry)).blocks[0]?.log, "second attempt");
        assert.equal((await ds().stageLogs.get(retry)).completed, false);
      });

      it("an unknown log is empty and not completed", async () => {
        assert.deepEqual(await ds().stageLogs.get(key()), {
          blocks: [],
          completed: false,
          more: false,
        });
      });

      it("pages: limit returns the first blocks and says more follow", async () => {
        const k = key();
        await ds().stageLogs.append(
          k,
          [0, 1, 2, 3, 4].map((i) => block(i)),
        );
        const first = await ds().stageLogs.get(k, { limit: 2 });
        assert.deepEqual([first.blocks.map((b) => b.index), first.more], [[0n, 1n], true]);
        const last = await ds().stageLogs.get(k, { afterIndex: 3n, limit: 2 });
        assert.deepEqual([last.blocks.map((b) => b.index), last.more], [[4n], false]);
      });

      it("a large append is written whole (in chunks), and deduplicated when retried", async () => {
        const k = key();
        const many = Array.from({ length: 1_234 }, (_, i) => block(i));
        assert.equal(await ds().stageLogs.append(k, many), 1_234);
        assert.equal(await ds().stageLogs.append(k, many), 0);
        assert.equal((await ds().stageLogs.get(k)).blocks.length, 1_234);
      });

      it("past maxBytes the oldest blocks are dropped, down to 90%, and counted", async () => {
        const k = key();
        const text = "x".repeat(1_000);
        const size = (i: number) => toBinary(LogBlockSchema, block(i, text)).length;
        const max = size(5) * 10; // block 0 is 2 bytes smaller (its index is the default 0)
        for (let i = 0; i < 12; i++)
          await ds().stageLogs.append(k, [block(i, text)], { maxBytes: max });
        const got = await ds().stageLogs.get(k);
        // 11 blocks passed the limit: trimmed to 9 (90%), then the 12th made 10.
        assert.deepEqual(
          got.blocks.map((b) => b.index),
          [2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n],
        );
        assert.deepEqual(got.dropped, { blocks: 2, bytes: size(0) + size(1), firstKeptIndex: 2n });
        // Later pages still know what was dropped before them.
        assert.equal((await ds().stageLogs.get(k, { afterIndex: 5n })).dropped?.blocks, 2);
      });
    });

    describe("sign-in failures", () => {
      const t0 = new Date("2026-01-01T00:00:00Z");
      const at = (s: number) => new Date(t0.getTime() + s * 1000);
      const blockAfter3 = (n: number) => (n >= 3 ? 1000 * 2 ** (n - 3) : 0);

      it("count per (username, address), block as told, and forget what is older than `since`", async () => {
        const user = uid("u");
        const lf = ds().loginFailures;
        assert.deepEqual(await lf.get(user, "10.0.0.1", t0), { failures: 0 });
        for (let i = 1; i <= 3; i++)
          await lf.recordFailure(user, "10.0.0.1", at(i), t0, blockAfter3);
        assert.deepEqual(await lf.get(user, "10.0.0.1", t0), { failures: 3, blockedUntil: at(4) });
        const fourth = await lf.recordFailure(user, "10.0.0.1", at(10), t0, blockAfter3);
        assert.deepEqual(fourth, { failures: 4, blockedUntil: at(12) });
        // Another address, and another user, are counted apart.
        await lf.recordFailure(user, "10.0.0.2", at(11), t0, blockAfter3);
        await lf.recordFailure(uid("v"), "10.0.0.1", at(11), t0, blockAfter3);
        assert.equal(await lf.count({ username: user }, t0), 5);
        assert.equal(await lf.count({ username: user }, at(11)), 1);
        assert.equal((await lf.get(user, "10.0.0.2", t0)).failures, 1);
        // Failures older than `since` are forgotten when the next one is counted.
        assert.deepEqual(await lf.recordFailure(user, "10.0.0.1", at(100), at(50), blockAfter3), {
          failures: 1,
        });
        await lf.clear(user, "10.0.0.1");
        assert.deepEqual(await lf.get(user, "10.0.0.1", t0), { failures: 0 });
      });

      it("concurrent failures of one pair are all counted", async () => {
        const user = uid("u");
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            ds().loginFailures.recordFailure(user, "10.1.1.1", at(i), t0, () => 0),
          ),
        );
        assert.equal((await ds().loginFailures.get(user, "10.1.1.1", t0)).failures, 20);
      });

      it("deleteOlder removes what was last touched before", async () => {
        const user = uid("u");
        await ds().loginFailures.recordFailure(user, "10.2.2.2", at(0), t0, () => 0);
        assert.ok((await ds().loginFailures.deleteOlder(at(1))) >= 1);
        assert.deepEqual(await ds().loginFailures.get(user, "10.2.2.2", t0), { failures: 0 });
      });
    });

    describe("audit log", () => {
      it("append assigns increasing ids and list pages newest first", async () => {
        const project = uid("proj");
        const appended = [];
        for (let i = 0; i < 5; i++) {
          appended.push(
            await ds().auditLog.append(
              create(AuditLogEntrySchema, {
                projectId: project,
                actor: "alice",
                action: "deployment.approve",
                resourceId: `d${i}`,
                time: timestampFromMs(BASE + i),
                details: { i: String(i) },
              }),
            ),
          );
        }
        const ids = appended.map((e) => BigInt(e.id));
        assert.ok(
          ids.every((id, i) => i === 0 || id > ids[i - 1]!),
          `ids increase: ${ids.join(",")}`,
        );
        const p1 = await ds().auditLog.list({ projectId: project, limit: 2 });
        const p2 = await ds().auditLog.list({ projectId: project, limit: 2, cursor: p1.cursor });
        const p3 = await ds().auditLog.list({ projectId: project, limit: 2, cursor: p2.cursor });
        assert.equal(p3.cursor, "");
        const all = [...p1.items, ...p2.items, ...p3.items];
        assert.deepEqual(
          all.map((e) => e.id),
          [...appended].reverse().map((e) => e.id),
        );
        assertMsgEqual(AuditLogEntrySchema, all[0]!, appended[4]!);
      });

      it("list filters by actor, action and resource", async () => {
        const project = uid("proj");
        const add = (actor: string, action: string, resourceId: string) =>
          ds().auditLog.append(
            create(AuditLogEntrySchema, { projectId: project, actor, action, resourceId }),
          );
        const a = await add("alice", "app.create", "a1");
        const b = await add("bob", "app.create", "a2");
        const c = await add("alice", "app.delete", "a1");
        await ds().auditLog.append(
          create(AuditLogEntrySchema, { projectId: uid("other"), actor: "alice" }),
        );
        const ids = async (f: Omit<AuditLogFilter, "projectId">): Promise<string[]> =>
          (await ds().auditLog.list({ projectId: project, ...f })).items.map((e) => e.id);
        assert.deepEqual((await ids({})).sort(), [a.id, b.id, c.id].sort());
        assert.deepEqual((await ids({ actor: "alice" })).sort(), [a.id, c.id].sort());
        assert.deepEqual(await ids({ action: "app.create", actor: "bob" }), [b.id]);
        assert.deepEqual((await ids({ resourceId: "a1" })).sort(), [a.id, c.id].sort());
        assert.ok(a.time, "time is set when absent");
      });
    });

    describe("sessions", () => {
      it("a session is found until it expires, and can be deleted", async () => {
        const s = {
          tokenHash: uid("tok"),
          username: "alice",
          role: Role.ADMIN,
          createdAt: new Date(BASE),
          expiresAt: new Date(BASE + 60_000),
        };
        await ds().sessions.create(s);
        await rejectsWith(ds().sessions.create(s), "ALREADY_EXISTS");
        assert.deepEqual(await ds().sessions.get(s.tokenHash, new Date(BASE + 59_999)), s);
        assert.equal(await ds().sessions.get(s.tokenHash, new Date(BASE + 60_000)), undefined);
        await ds().sessions.delete(s.tokenHash);
        assert.equal(await ds().sessions.get(s.tokenHash, new Date(BASE)), undefined);
        assert.equal(await ds().sessions.get("unknown", new Date(BASE)), undefined);
      });

      it("deleteExpired removes only expired sessions and says how many", async () => {
        const far = BASE + 10 * 365 * 86_400_000;
        const mk = (expiresAt: number) => ({
          tokenHash: uid("tok"),
          username: "bob",
          role: Role.VIEWER,
          createdAt: new Date(BASE),
          expiresAt: new Date(expiresAt),
        });
        // Earlier tests may have left expired sessions behind: count relative to a fresh sweep.
        await ds().sessions.deleteExpired(new Date(far - 1));
        const old1 = mk(far - 1000);
        const old2 = mk(far - 1);
        const live = mk(far + 1000);
        for (const s of [old1, old2, live]) await ds().sessions.create(s);
        assert.equal(await ds().sessions.deleteExpired(new Date(far)), 2);
        assert.equal(await ds().sessions.get(old1.tokenHash, new Date(BASE)), undefined);
        assert.ok(await ds().sessions.get(live.tokenHash, new Date(far)));
      });
    });

    describe("live states", () => {
      it("put stores the latest snapshot of an application", async () => {
        const appId = uid("app");
        const snap = (health: KubernetesResourceState_HealthStatus) =>
          create(ApplicationLiveStateSnapshotSchema, {
            applicationId: appId,
            pipedId: "p",
            projectId: "proj",
            healthStatus: health,
            kubernetesResources: [
              create(KubernetesResourceStateSchema, { id: "r1", kind: "Deployment", name: "web" }),
            ],
            updatedAt: timestampFromMs(BASE),
          });
        await ds().liveStates.put(snap(KubernetesResourceState_HealthStatus.HEALTHY));
        await ds().liveStates.put(snap(KubernetesResourceState_HealthStatus.UNHEALTHY));
        assertMsgEqual(
          ApplicationLiveStateSnapshotSchema,
          await ds().liveStates.get(appId),
          snap(KubernetesResourceState_HealthStatus.UNHEALTHY),
        );
        await rejectsWith(ds().liveStates.get("nope"), "NOT_FOUND");
      });

      it("update numbers every stored change and stores nothing when its function throws", async () => {
        const appId = uid("app");
        const first = await ds().liveStates.update(appId, (cur) => {
          assert.equal(cur, undefined);
          return create(ApplicationLiveStateSnapshotSchema, { pipedId: "p", projectId: "proj" });
        });
        assert.equal(first.version, 1n);
        assert.equal(first.applicationId, appId);
        // Concurrent updates are serialised: each sees the one before.
        const seen = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            ds().liveStates.update(appId, (cur) => ({
              ...cur!,
              kubernetesResources: [
                ...cur!.kubernetesResources,
                create(KubernetesResourceStateSchema, { id: `r${i}` }),
              ],
            })),
          ),
        );
        assert.deepEqual(seen.map((x) => x.version).sort(), [2n, 3n, 4n, 5n, 6n]);
        const stored = await ds().liveStates.get(appId);
        assert.equal(stored.version, 6n);
        assert.equal(stored.kubernetesResources.length, 5);
        await rejectsWith(
          ds().liveStates.update(appId, () => {
            throw new FailedPreconditionError("stale base");
          }),
          "FAILED_PRECONDITION",
        );
        assert.equal((await ds().liveStates.get(appId)).version, 6n);
      });
    });

    describe("events", () => {
      it("are listed newest first, by status, key and time; update records what became of them", async () => {
        const project = uid("proj");
        const ev = (n: number, key: string) =>
          create(EventSchema, {
            id: uid(`ev${n}`),
            name: "image-update",
            data: `v${n}`,
            projectId: project,
            eventKey: key,
            createdAt: timestampFromMs(BASE + n * 1000),
          });
        const [a, b, c] = [ev(1, "k1"), ev(2, "k1"), ev(3, "k2")];
        for (const e of [a, b, c]) await ds().events.create(e);
        await rejectsWith(ds().events.create(a), "ALREADY_EXISTS");
        assert.deepEqual(
          (await ds().events.list({ projectId: project })).map((e) => e.data),
          ["v3", "v2", "v1"],
        );
        assert.deepEqual(
          (await ds().events.list({ projectId: project, eventKey: "k1" })).map((e) => e.data),
          ["v2", "v1"],
        );
        assert.deepEqual(
          (await ds().events.list({ projectId: project, since: new Date(BASE + 2000) })).map(
            (e) => e.data,
          ),
          ["v3", "v2"],
        );
        const done = await ds().events.update(a.id, (e) => {
          e.status = EventStatus.EVENT_OUTDATED;
          e.statusDescription = "newer";
        });
        assert.equal(done.status, EventStatus.EVENT_OUTDATED);
        assert.deepEqual(
          (
            await ds().events.list({ projectId: project, status: EventStatus.EVENT_NOT_HANDLED })
          ).map((e) => e.data),
          ["v3", "v2"],
        );
        assert.equal((await ds().events.get(a.id)).statusDescription, "newer");
        await rejectsWith(ds().events.get("nope"), "NOT_FOUND");
        await rejectsWith(
          ds().events.update("nope", () => undefined),
          "NOT_FOUND",
        );
      });
    });

    describe("deployment chains", () => {
      it("are stored once per id, updated atomically and listed newest first", async () => {
        const project = uid("proj");
        const chain = (n: number) =>
          create(DeploymentChainSchema, {
            id: uid(`chain${n}`),
            projectId: project,
            status: ChainStatus.DEPLOYMENT_CHAIN_RUNNING,
            blocks: [{ nodes: [{ applicationId: "a", deploymentId: `d${n}` }] }, { nodes: [] }],
            createdAt: timestampFromMs(BASE + n * 1000),
          });
        const [a, b] = [chain(1), chain(2)];
        await ds().chains.create(a);
        await ds().chains.create(b);
        await rejectsWith(ds().chains.create(a), "ALREADY_EXISTS");
        assert.deepEqual(
          (await ds().chains.list(project)).map((c) => c.id),
          [b.id, a.id],
        );
        const done = await ds().chains.update(a.id, (c) => {
          c.status = ChainStatus.DEPLOYMENT_CHAIN_SUCCESS;
          c.blocks[1]!.status = ChainStatus.DEPLOYMENT_CHAIN_SUCCESS;
        });
        assert.equal(done.status, ChainStatus.DEPLOYMENT_CHAIN_SUCCESS);
        assert.equal(
          (await ds().chains.get(a.id)).blocks[1]?.status,
          ChainStatus.DEPLOYMENT_CHAIN_SUCCESS,
        );
        await rejectsWith(ds().chains.get("nope"), "NOT_FOUND");
      });
    });

    describe("notifier", () => {
      it("a subscriber receives what is published on its channel only", async () => {
        const got: string[] = [];
        const other: string[] = [];
        const offA = ds().notifier.subscribe("conformance_a", (p) => got.push(p));
        const offB = ds().notifier.subscribe("conformance_b", (p) => other.push(p));
        try {
          // LISTEN may still be in flight right after subscribing: publish until one arrives.
          await publishUntil(ds(), "conformance_a", () => got.length > 0);
          got.length = 0;
          await ds().notifier.publish("conformance_a", "hello");
          await waitFor("hello", () => got.includes("hello"));
          assert.deepEqual(other, []);
        } finally {
          offA();
          offB();
        }
      });

      it("an unsubscribed listener receives nothing more", async () => {
        const gone: string[] = [];
        const stays: string[] = [];
        const offGone = ds().notifier.subscribe("conformance_c", (p) => gone.push(p));
        const offStays = ds().notifier.subscribe("conformance_c", (p) => stays.push(p));
        try {
          await publishUntil(ds(), "conformance_c", () => gone.length > 0 && stays.length > 0);
          offGone();
          gone.length = 0;
          await ds().notifier.publish("conformance_c", "after");
          await waitFor("the remaining listener", () => stays.includes("after"));
          assert.deepEqual(gone, []);
        } finally {
          offStays();
        }
      });

      it("invalid channels and oversized payloads are InvalidArgument", async () => {
        await rejectsWith(ds().notifier.publish("Bad-Channel", "x"), "INVALID_ARGUMENT");
        await rejectsWith(
          ds().notifier.publish("ok_channel", "x".repeat(7001)),
          "INVALID_ARGUMENT",
        );
        assert.throws(
          () => ds().notifier.subscribe("1abc", () => {}),
          (e: unknown) => e instanceof AppError && e.code === "INVALID_ARGUMENT",
        );
      });

      it(
        "a notification reaches a subscriber of another datastore on the same storage",
        { skip: driverName === "sqlite" && "in-process notifier" },
        async () => {
          const second = await target!.reopen();
          others.push(second);
          const got: string[] = [];
          const off = second.notifier.subscribe("conformance_x", (p) => got.push(p));
          try {
            await publishUntil(ds(), "conformance_x", () => got.length > 0);
            got.length = 0;
            await ds().notifier.publish("conformance_x", '{"deploymentId":"d1"}');
            await waitFor("cross-instance notification", () =>
              got.includes('{"deploymentId":"d1"}'),
            );
          } finally {
            off();
          }
        },
      );
    });

    describe("stream events", () => {
      /** Announced `[id, event]` pairs of `channel`, once LISTEN is in place. */
      const listen = async (d: Datastore, channel: string) => {
        const got: [number, unknown][] = [];
        let pinged = false;
        const off = d.notifier.subscribe(channel, (p) => {
          if (p.startsWith("ping")) pinged = true;
          else got.push(...(JSON.parse(p) as [number, unknown][]));
        });
        await publishUntil(ds(), channel, () => pinged);
        return { got, off };
      };

      it("appended events get ascending ids, are announced in order, and are read back after an id", async () => {
        const { got, off } = await listen(ds(), "conformance_events");
        try {
          const stored = await ds().streamEvents.append("conformance_events", [
            '{"n":1}',
            '{"n":2}',
            '{"n":3}',
          ]);
          assert.deepEqual(
            stored.map((e) => e.data),
            ['{"n":1}', '{"n":2}', '{"n":3}'],
          );
          const ids = stored.map((e) => e.id);
          assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ascending: ${ids.join(",")}`);
          await waitFor("the announcement", () => got.length >= 3);
          assert.deepEqual(
            got,
            stored.map((e) => [e.id, JSON.parse(e.data) as unknown]),
          );
          assert.deepEqual(await ds().streamEvents.listAfter(ids[0]!, 10), stored.slice(1));
          assert.deepEqual(await ds().streamEvents.listAfter(ids[0]!, 1), stored.slice(1, 2));
          const { newest } = await ds().streamEvents.bounds();
          assert.equal(newest, ids[2]);
          // A big batch goes out in several notifications, each within the limit, all in order.
          const big = Array.from({ length: 300 }, (_, i) =>
            JSON.stringify({ i, pad: "x".repeat(60) }),
          );
          const many = await ds().streamEvents.append("conformance_events", big);
          await waitFor("every event of the big batch", () => got.length >= 303);
          assert.deepEqual(
            got.slice(3).map(([id]) => id),
            many.map((e) => e.id),
          );
        } finally {
          off();
        }
      });

      it(
        "appends from two replicas at once reach every listener in id order",
        { skip: driverName === "sqlite" && "one process owns a SQLite database" },
        async () => {
          const second = await target!.reopen();
          others.push(second);
          const { got, off } = await listen(second, "conformance_order");
          try {
            const appends: Promise<unknown>[] = [];
            for (let i = 0; i < 40; i++)
              appends.push(
                (i % 2 ? second : ds()).streamEvents.append("conformance_order", [
                  `{"i":${i}}`,
                  `{"i":${i},"second":true}`,
                ]),
              );
            await Promise.all(appends);
            await waitFor("all 80 events", () => got.length >= 80);
            const ids = got.map(([id]) => id);
            assert.deepEqual(
              ids,
              [...ids].sort((a, b) => a - b),
              "announced in id order",
            );
          } finally {
            off();
          }
        },
      );

      it("prune deletes what is older than the cut-off but always keeps the newest event", async () => {
        const stored = await ds().streamEvents.append("conformance_prune", ['{"p":1}', '{"p":2}']);
        const removed = await ds().streamEvents.prune(new Date(Date.now() + 3_600_000));
        assert.ok(removed >= 1);
        assert.deepEqual(await ds().streamEvents.bounds(), {
          oldest: stored[1]!.id,
          newest: stored[1]!.id,
        });
        assert.deepEqual(await ds().streamEvents.listAfter(0, 10), stored.slice(1));
        assert.equal(await ds().streamEvents.prune(new Date(0)), 0);
      });
    });

    describe("migrations", () => {
      it("opening the datastore again applies nothing new and reports the same versions", async () => {
        const versions = await ds().migrationVersions();
        assert.ok(versions.length >= 1);
        assert.deepEqual(
          versions,
          [...versions].sort((a, b) => a - b),
        );
        const second = await target!.reopen();
        try {
          assert.deepEqual(await second.migrationVersions(), versions);
        } finally {
          await second.close();
        }
      });
    });

    describe("restart", () => {
      it("restart keeps all state", async () => {
        const project = uid("proj");
        const piped = await ds().pipeds.create(newPiped(project), keyHash("k1", BASE));
        const pipedAuth = await ds().pipeds.getAuth(piped.id);
        const apiKey = await ds().apiKeys.create(
          create(APIKeySchema, { id: uid("key"), projectId: project, name: "ci" }),
          "h1",
        );
        const app = await ds().applications.create(newApp(project, { pipedId: piped.id }));
        const dep = (
          await ds().deployments.create(
            newDeployment(project, { pipedId: piped.id, applicationId: app.id }),
          )
        ).deployment;
        const running = await ds().deployments.update(dep.id, (d) => {
          d.status = DeploymentStatus.DEPLOYMENT_RUNNING;
          d.stages[0]!.status = StageStatus.STAGE_RUNNING;
        });
        const cmd = await ds().commands.create(newCommand(piped.id, { deploymentId: dep.id }), {
          dedupKey: uid("dedup"),
        });
        const logKey = { deploymentId: dep.id, stageId: "s1", retriedCount: 0 };
        await ds().stageLogs.append(logKey, [block(0), block(1)]);
        await ds().stageLogs.complete(logKey);
        const audit = await ds().auditLog.append(
          create(AuditLogEntrySchema, { projectId: project, actor: "alice", action: "x" }),
        );
        const session = {
          tokenHash: uid("tok"),
          username: "alice",
          role: Role.EDITOR,
          createdAt: new Date(BASE),
          expiresAt: new Date(BASE + 1e12),
        };
        await ds().sessions.create(session);
        const live = create(ApplicationLiveStateSnapshotSchema, {
          applicationId: app.id,
          pipedId: piped.id,
          projectId: project,
          updatedAt: timestampFromMs(BASE),
        });
        await ds().liveStates.put(live);
        const versions = await ds().migrationVersions();

        const old = ds();
        await old.close();
        await rejectsWith(old.deployments.get(dep.id), "UNAVAILABLE");
        current = await target!.reopen();

        assertMsgEqual(PipedSchema, await ds().pipeds.get(piped.id), piped);
        assert.deepEqual((await ds().pipeds.getAuth(piped.id)).keyHashes, pipedAuth.keyHashes);
        assertMsgEqual(APIKeySchema, await ds().apiKeys.get(apiKey.id), apiKey);
        assert.equal((await ds().apiKeys.getAuth(apiKey.id)).hash, "h1");
        assertMsgEqual(ApplicationSchema, await ds().applications.get(app.id), app);
        assertMsgEqual(DeploymentSchema, await ds().deployments.get(dep.id), running);
        assert.deepEqual(
          (await ds().deployments.listNotCompleted(piped.id, {})).items.map((d) => d.id),
          [dep.id],
        );
        assertMsgEqual(CommandSchema, await ds().commands.get(cmd.id), cmd);
        // The per-piped sequence continues after a restart.
        assert.equal(
          (await ds().commands.create(newCommand(piped.id))).sequence,
          cmd.sequence + 1n,
        );
        const log = await ds().stageLogs.get(logKey);
        assert.deepEqual([log.completed, log.blocks.map((b) => b.index)], [true, [0n, 1n]]);
        const auditPage = await ds().auditLog.list({ projectId: project });
        assert.equal(auditPage.items.length, 1);
        assertMsgEqual(AuditLogEntrySchema, auditPage.items[0]!, audit);
        assert.deepEqual(await ds().sessions.get(session.tokenHash, new Date(BASE)), session);
        assertMsgEqual(ApplicationLiveStateSnapshotSchema, await ds().liveStates.get(app.id), live);
        assert.deepEqual(await ds().migrationVersions(), versions);
      });
    });
  });
}

/** Publishes pings until `received()` holds: a fresh subscription may not be listening yet. */
export async function publishUntil(
  ds: Datastore,
  channel: string,
  received: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; !received(); i++) {
    if (Date.now() > deadline) assert.fail(`no notification on ${channel} within ${timeoutMs}ms`);
    await ds.notifier.publish(channel, `ping ${i}`);
    const until = Date.now() + 100;
    while (!received() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }
}
