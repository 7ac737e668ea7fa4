import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DeploymentSchema, DeploymentStatus } from "@pipecd-ts/proto";
import { AppError, silentLogger } from "@pipecd-ts/runtime";
import { openDatastore } from "../src/index.js";
import { runConformance } from "./conformance.js";

const dir = mkdtempSync(join(tmpdir(), "datastore-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

runConformance("sqlite", async () => {
  const url = `sqlite:${join(dir, "conformance.db")}`;
  const open = () => openDatastore(url, { logger: silentLogger() });
  return { ds: await open(), reopen: open };
});

describe("sqlite driver", () => {
  const isCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;

  it("unknown datastore URLs and options are InvalidArgument", async () => {
    await assert.rejects(
      openDatastore("mysql://localhost/x", { logger: silentLogger() }),
      isCode("INVALID_ARGUMENT"),
    );
    await assert.rejects(
      openDatastore("sqlite:", { logger: silentLogger() }),
      isCode("INVALID_ARGUMENT"),
    );
    await assert.rejects(
      openDatastore(`sqlite:${join(dir, "x.db")}?synchronous=off`, { logger: silentLogger() }),
      isCode("INVALID_ARGUMENT"),
    );
    await assert.rejects(
      openDatastore(`sqlite:${join(dir, "x.db")}?cache=shared`, { logger: silentLogger() }),
      isCode("INVALID_ARGUMENT"),
    );
  });

  it("a database in a missing directory is Unavailable", async () => {
    await assert.rejects(
      openDatastore(`sqlite:${join(dir, "missing", "x.db")}`, { logger: silentLogger() }),
      isCode("UNAVAILABLE"),
    );
  });

  it("sqlite::memory: and synchronous=normal open working datastores", async () => {
    for (const url of ["sqlite::memory:", `sqlite:${join(dir, "normal.db")}?synchronous=normal`]) {
      const ds = await openDatastore(url, { logger: silentLogger() });
      try {
        const d = create(DeploymentSchema, {
          id: "d1",
          projectId: "p",
          pipedId: "x",
          status: DeploymentStatus.DEPLOYMENT_PENDING,
        });
        assert.equal((await ds.deployments.create(d)).created, true);
        assert.equal((await ds.deployments.get("d1")).id, "d1");
      } finally {
        await ds.close();
      }
    }
  });

  it("writes issued in one tick share a commit yet each fails alone", async () => {
    const ds = await openDatastore("sqlite::memory:", { logger: silentLogger() });
    try {
      const mk = (id: string, status: DeploymentStatus) =>
        create(DeploymentSchema, { id, projectId: "p", pipedId: "x", status });
      // Created in the same tick: one duplicate-of-another-piped create fails among them.
      const results = await Promise.allSettled([
        ds.deployments.create(mk("a", DeploymentStatus.DEPLOYMENT_PENDING)),
        ds.deployments.create(mk("b", DeploymentStatus.DEPLOYMENT_PENDING)),
        ds.deployments.create({
          ...mk("a", DeploymentStatus.DEPLOYMENT_PENDING),
          pipedId: "other",
        }),
        ds.deployments.update("a", (d) => {
          d.status = DeploymentStatus.DEPLOYMENT_RUNNING;
        }),
        ds.deployments.update("missing", () => {}),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ["fulfilled", "fulfilled", "rejected", "fulfilled", "rejected"],
      );
      assert.equal((await ds.deployments.get("a")).status, DeploymentStatus.DEPLOYMENT_RUNNING);
      assert.equal((await ds.deployments.get("b")).pipedId, "x");
      // A write queued before close() is still committed by it.
      const pending = ds.deployments.update("b", (d) => {
        d.summary = "flushed on close";
      });
      await ds.close();
      assert.equal((await pending).summary, "flushed on close");
    } finally {
      await ds.close();
    }
  });
});
