import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { registerPiped, startTestControlPlane, type TestControlPlane } from "./harness.js";

// A piped's reported Git remotes are stored and shown (GET /api/v1/pipeds): credentials in a
// URL-form remote never reach the datastore, even from a piped that does not strip them itself.

describe("piped meta", () => {
  let t: TestControlPlane;
  before(async () => {
    t = await startTestControlPlane({});
  });
  after(async () => {
    await t?.close();
  });

  it("reportPipedMeta stores remotes without their userinfo", async () => {
    const p = await registerPiped(t, "piped-with-token-remote");
    try {
      await p.client.reportPipedMeta(
        {
          version: "t",
          repositories: [
            { id: "a", remote: "https://bot:ghp_s3cret@github.com/org/a.git", branch: "main" },
            { id: "b", remote: "git@github.com:org/b.git", branch: "main" },
          ],
        },
        { metadata: p.md },
      );
      const { pipeds } = await t.admin.call("listPipeds", {});
      const got = pipeds.find((x) => x.id === p.id);
      assert.deepEqual(
        got?.repositories?.map((r) => r.remote),
        ["https://github.com/org/a.git", "git@github.com:org/b.git"],
      );
      assert.ok(!JSON.stringify(pipeds).includes("ghp_s3cret"));
    } finally {
      p.close();
    }
  });
});
