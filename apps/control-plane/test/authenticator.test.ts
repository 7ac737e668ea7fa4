import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { APIKeySchema, Role } from "@pipecd-ts/proto";
import { DEFAULT_CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from "@pipecd-ts/config";
import { openDatastore } from "@pipecd-ts/datastore";
import { AppError, silentLogger, systemClock } from "@pipecd-ts/runtime";
import { Authenticator } from "../src/auth/authenticator.js";
import { hashPassword, hashSecret } from "../src/auth/secrets.js";

// The authenticator over a real (in-memory SQLite) datastore: roles follow the config as it is
// now, for sessions and API keys alike, and sign-in guessing is throttled.

const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "OK",
    (e: unknown) => (e instanceof AppError ? e.code : String(e)),
  );

describe("Authenticator", () => {
  it("a session and a key follow the owner's role in the config as it is now", async () => {
    const ds = await openDatastore("sqlite::memory:", { logger: silentLogger() });
    const users = [
      { username: "alice", role: "admin" as const, passwordHash: await hashPassword("pw") },
    ];
    const config = (u: ControlPlaneConfig["users"]): ControlPlaneConfig => ({
      ...DEFAULT_CONTROL_PLANE_CONFIG,
      users: u,
    });
    const auth = (u: ControlPlaneConfig["users"]) =>
      new Authenticator({ ds, config: config(u), clock: systemClock, logger: silentLogger() });
    const { token } = await auth(users).login("alice", "pw");
    const key = "k1.0123456789abcdef0123456789abcdef";
    const stamp = timestampFromDate(new Date());
    await ds.apiKeys.create(
      create(APIKeySchema, {
        id: "k1",
        name: "alice-cli",
        projectId: DEFAULT_CONTROL_PLANE_CONFIG.projectId,
        role: Role.ADMIN,
        creator: "alice",
        createdAt: stamp,
        updatedAt: stamp,
      }),
      hashSecret(key),
    );
    assert.equal((await auth(users).rest(undefined, token)).role, Role.ADMIN);
    assert.equal((await auth(users).rest(`Bearer ${key}`, undefined)).role, Role.ADMIN);

    const demoted = [{ ...users[0]!, role: "viewer" as const }];
    assert.equal((await auth(demoted).rest(undefined, token)).role, Role.VIEWER, "session");
    assert.equal((await auth(demoted).rest(`Bearer ${key}`, undefined)).role, Role.VIEWER, "key");

    assert.equal(await codeOf(auth([]).rest(`Bearer ${key}`, undefined)), "UNAUTHENTICATED");
    assert.equal(await codeOf(auth([]).rest(undefined, token)), "UNAUTHENTICATED");
    assert.equal(
      await codeOf(auth(users).rest(undefined, token)),
      "UNAUTHENTICATED",
      "the removed user's session was deleted",
    );
    await ds.close();
  });

  it("throttles failed sign-ins per username and per address", async () => {
    const ds = await openDatastore("sqlite::memory:", { logger: silentLogger() });
    const a = new Authenticator({
      ds,
      config: {
        ...DEFAULT_CONTROL_PLANE_CONFIG,
        users: [{ username: "bob", role: "editor", passwordHash: await hashPassword("right") }],
      },
      clock: systemClock,
      logger: silentLogger(),
    });
    const codes: string[] = [];
    for (let i = 0; i < 11; i++) codes.push(await codeOf(a.login("bob", "wrong", "10.0.0.1")));
    assert.deepEqual(codes, [...Array<string>(10).fill("UNAUTHENTICATED"), "RESOURCE_EXHAUSTED"]);
    assert.equal(
      await codeOf(a.login("bob", "right", "10.0.0.2")),
      "RESOURCE_EXHAUSTED",
      "the username is locked from another address too",
    );
    assert.equal(
      await codeOf(a.login("carol", "x", "10.0.0.1")),
      "RESOURCE_EXHAUSTED",
      "and the address for another username",
    );
    await ds.close();
  });
});
