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

  it("failed sign-ins block one (username, address) pair with a growing backoff; the user signs in from elsewhere, others from the same address", async () => {
    const ds = await openDatastore("sqlite::memory:", { logger: silentLogger() });
    let now = new Date("2026-03-01T12:00:00Z").getTime();
    const clock = { now: () => new Date(now) };
    const users = await Promise.all(
      ["bob", "carol"].map(async (username) => ({
        username,
        role: "editor" as const,
        passwordHash: await hashPassword(`${username}-right`),
      })),
    );
    const a = new Authenticator({
      ds,
      config: { ...DEFAULT_CONTROL_PLANE_CONFIG, users },
      clock,
      logger: silentLogger(),
    });
    const guess = () => codeOf(a.login("bob", "wrong", "10.0.0.1"));
    // Five free failures; the fifth blocks the pair for 1 s.
    for (let i = 0; i < 5; i++) assert.equal(await guess(), "UNAUTHENTICATED", `guess ${i + 1}`);
    assert.equal(await guess(), "RESOURCE_EXHAUSTED", "blocked: not even checked");
    assert.equal(
      await codeOf(a.login("bob", "bob-right", "10.0.0.1")),
      "RESOURCE_EXHAUSTED",
      "the right password from the guessing address waits too",
    );
    // Not locked out: the user from their own address, and another user behind the same address.
    assert.equal(await codeOf(a.login("bob", "bob-right", "10.9.9.9")), "OK");
    assert.equal(await codeOf(a.login("carol", "carol-right", "10.0.0.1")), "OK");
    // The backoff doubles with each further failure: 1 s, then 2 s, then 4 s.
    for (const blockMs of [1_000, 2_000, 4_000]) {
      now += blockMs - 1;
      assert.equal(await guess(), "RESOURCE_EXHAUSTED", `still blocked at ${blockMs - 1} ms`);
      now += 1;
      assert.equal(await guess(), "UNAUTHENTICATED", `tried again after ${blockMs} ms`);
    }
    // A success resets the pair; after the window, old failures are forgotten as well.
    now += 8_000;
    assert.equal(await codeOf(a.login("bob", "bob-right", "10.0.0.1")), "OK");
    for (let i = 0; i < 5; i++) assert.equal(await guess(), "UNAUTHENTICATED");
    now += 15 * 60_000 + 1;
    assert.equal(await guess(), "UNAUTHENTICATED", "the window passed: counting starts over");
    await ds.close();
  });

  it("sign-in failures are shared: a second authenticator on the same datastore (another replica) sees the block", async () => {
    const ds = await openDatastore("sqlite::memory:", { logger: silentLogger() });
    const config = {
      ...DEFAULT_CONTROL_PLANE_CONFIG,
      users: [
        { username: "bob", role: "editor" as const, passwordHash: await hashPassword("right") },
      ],
    };
    const replica = () =>
      new Authenticator({ ds, config, clock: systemClock, logger: silentLogger() });
    const one = replica();
    for (let i = 0; i < 5; i++) await codeOf(one.login("bob", "wrong", "10.0.0.1"));
    assert.equal(await codeOf(replica().login("bob", "right", "10.0.0.1")), "RESOURCE_EXHAUSTED");
    await ds.close();
  });
});
