import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startStack, type Stack } from "@pipecd-ts/testkit";

// A piped with 5,000 applications, each with a 2,000-character description (an editor can add
// them), still lists them all and deploys a commit. In one gRPC answer they were ~11 MB, past the
// piped's 4 MiB receive limit: the trigger failed every second and nothing deployed (issue 13).
// 4,999 of them live in a repository this piped does not have, so the test measures listing at
// scale, not 4,999 Git checks per pass (issue 17's subject).

const APPS = 5_000;

describe("a piped with 5,000 applications", () => {
  let s: Stack;

  before(async () => {
    s = await startStack({ readyDelayMs: 50 });
  });
  after(async () => s?.close());

  it("lists them all a page at a time and deploys the one a commit touches", async () => {
    const description = "d".repeat(2_000);
    // Added before the piped reports its repositories, so an unknown repository is accepted.
    const started = Date.now();
    for (let i = 0; i < APPS - 1; i += 50)
      await Promise.all(
        Array.from({ length: Math.min(50, APPS - 1 - i) }, (_, j) =>
          s.admin.call("addApplication", {
            body: {
              name: `far-${i + j}`,
              pipedId: s.pipedId,
              gitPath: { repoId: "elsewhere", path: `apps/far-${i + j}` },
              description,
            },
          }),
        ),
      );
    await s.repo.commit(
      {
        "near/app.pipecd.yaml":
          "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: near\n",
        "near/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: near }
spec:
  replicas: 1
  selector: { matchLabels: { app: near } }
  template:
    metadata: { labels: { app: near } }
    spec: { containers: [{ name: main, image: "example/near:1" }] }
`,
      },
      "near v1",
    );
    const near = await s.addApp("near", "near");
    const added = Date.now() - started;
    await s.startPiped();
    const d = await s.waitDeployment(
      near,
      (x) => x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "the near app deployed",
    );
    assert.equal(d.trigger?.commit?.message, "near v1");
    const listed = await s.admin.call("listApplications", { query: { limit: 1 } });
    assert.ok(listed.cursor, "the control plane holds more than one page");
    console.log(
      `# ${APPS} applications added in ${added} ms; the near one deployed ${Date.now() - started - added} ms after the piped started`,
    );
    assert.doesNotMatch(s.piped?.output() ?? "", /larger than max/, "no message-size errors");
  });
});
