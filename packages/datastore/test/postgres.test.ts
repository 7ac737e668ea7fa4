import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { AppError, silentLogger } from "@pipecd-ts/runtime";
import { freePort, startPostgres, type PgCluster } from "@pipecd-ts/testkit";
import { openDatastore } from "../src/index.js";
import { publishUntil, runConformance } from "./conformance.js";

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

function freshDatabase(): Promise<string> {
  if (!cluster) throw new Error("PostgreSQL was not started");
  return cluster.createDatabase();
}

runConformance("postgres", async () => {
  const url = await freshDatabase();
  const open = () => openDatastore(url, { logger: silentLogger() });
  return { ds: await open(), reopen: open };
});

describe("postgres driver", () => {
  it("replicas opening a fresh database together apply each migration once", async () => {
    const url = await freshDatabase();
    const opened = await Promise.all(
      [1, 2, 3].map(() => openDatastore(url, { logger: silentLogger() })),
    );
    try {
      const versions = await Promise.all(opened.map((ds) => ds.migrationVersions()));
      assert.deepEqual(versions, [versions[0], versions[0], versions[0]]);
      assert.ok((versions[0] ?? []).length >= 1);
    } finally {
      await Promise.all(opened.map((ds) => ds.close()));
    }
  });

  it("the notifier reconnects and listens again after its connection is killed", async () => {
    const url = await freshDatabase();
    const publisher = await openDatastore(url, { logger: silentLogger() });
    const listener = await openDatastore(url, { logger: silentLogger() });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const got: string[] = [];
    const off = listener.notifier.subscribe("reconnect_test", (p) => got.push(p));
    try {
      await publishUntil(publisher, "reconnect_test", () => got.length > 0);
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
      );
      assert.equal(killed.rowCount, 1, "exactly the listener connection was killed");
      got.length = 0;
      await publishUntil(publisher, "reconnect_test", () => got.length > 0);
    } finally {
      off();
      await admin.end();
      await Promise.all([publisher.close(), listener.close()]);
    }
  });

  it("an unreachable server is Unavailable, not a hang", async () => {
    const port = await freePort(); // nothing listens there
    await assert.rejects(
      openDatastore(`postgres://postgres@127.0.0.1:${port}/x`, { logger: silentLogger() }),
      (err: unknown) => err instanceof AppError && err.code === "UNAVAILABLE",
    );
  });
});
