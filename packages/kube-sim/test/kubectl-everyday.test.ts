import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureK8sTools } from "@pipecd-ts/testkit";
import {
  ISTIO_CRDS,
  appManifests,
  call,
  eventually,
  startSim,
  type SimFixture,
} from "./harness.js";

// Everyday kubectl operations a `make demo` user types, against kube-sim, compared with what a
// cluster answers (documented output and error texts of the API server and kubectl).
describe("everyday kubectl against kube-sim", () => {
  let f: SimFixture;
  let pod = "";
  const ok = async (args: string[], input?: string) => {
    const r = await f.kubectl(args, { input });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    f = await startSim({ readyDelayMs: 50 });
    await ok(["apply", "-f", ISTIO_CRDS]);
    await ok(["wait", "--for=condition=established", "--timeout=20s", "crd", "--all"]);
    await ok(["apply", "-f", "-"], appManifests("nginx:1.25", 1));
    await ok(["rollout", "status", "deployment/web", "--timeout=30s"]);
    pod = (
      await ok(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"])
    ).trim();
    assert.ok(pod, "a pod of the deployment");
  });
  after(async () => f?.close());

  it("logs prints a container's lines, with --tail, --timestamps and -c", async () => {
    const all = await ok(["logs", pod]);
    const lines = all.trimEnd().split("\n");
    assert.ok(lines.length >= 3, all);
    assert.match(lines[0]!, /container web started from image nginx:1\.25/);
    assert.match(all, /container web is ready/);
    assert.deepEqual((await ok(["logs", pod, "--tail=1"])).trimEnd().split("\n"), [lines.at(-1)]);
    assert.equal(await ok(["logs", pod, "--tail=0"]), "");
    const stamped = (await ok(["logs", pod, "--timestamps", "--tail=1"])).trimEnd();
    assert.match(
      stamped,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z kube-sim: container web is ready$/,
    );
    assert.equal(await ok(["logs", `deployment/web`, "-c", "web"]), all);
    const bytes = await ok(["logs", pod, "--limit-bytes=10"]);
    assert.equal(bytes, all.slice(0, 10));
  });

  it("logs refuses an unknown container, a missing previous one and a bad parameter as a cluster does", async () => {
    const unknown = await f.kubectl(["logs", pod, "-c", "nope"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`container nope is not valid for pod ${pod}`));
    const previous = await f.kubectl(["logs", pod, "--previous"]);
    assert.equal(previous.code, 1);
    assert.match(
      previous.stderr,
      new RegExp(`previous terminated container "web" in pod "${pod}" not found`),
    );
    const bad = await call(f, "GET", `/api/v1/namespaces/default/pods/${pod}/log?tailLines=x`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, 'strconv.ParseInt: parsing "x": invalid syntax');
    const negative = await call(
      f,
      "GET",
      `/api/v1/namespaces/default/pods/${pod}/log?tailLines=-1`,
    );
    assert.equal(negative.status, 422);
  });

  it("logs -f streams until the pod goes away", async () => {
    const tools = await ensureK8sTools();
    const child = spawn(
      tools.kubectl,
      [
        "--kubeconfig",
        f.sim.kubeconfigPath,
        "--cache-dir",
        join(f.dir, "cache"),
        "logs",
        "-f",
        pod,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await eventually(async () => /is ready/.test(out), 10_000, "the followed lines");
      assert.equal(child.exitCode, null, "still following");
      await ok(["delete", "pod", pod, "--wait=false"]);
      assert.equal(await exited, 0);
      assert.match(out, /container web stopped\n$/);
    } finally {
      child.kill();
    }
  });
});
