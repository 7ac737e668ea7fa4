import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { KUBECTL_RELEASES, kubectlRelease, runCommand } from "@pipecd-ts/testkit";
import { appManifests, startSim, type SimFixture } from "./harness.js";

// The everyday kubectl commands of a demo user, run with three kubectl releases (1.22, 1.27,
// 1.35, from the npm layer packages) against kube-sim; the output and exit codes are what a
// cluster gives (documented texts of kubectl and the API server).
const DEPLOY = appManifests("nginx:1.25", 2).split("\n---")[0]!;

for (const minor of Object.keys(KUBECTL_RELEASES) as (keyof typeof KUBECTL_RELEASES)[]) {
  describe(`kubectl ${minor} against kube-sim`, () => {
    let f: SimFixture;
    let bin = "";
    const k = (args: string[], input?: string) =>
      runCommand(
        bin,
        ["--kubeconfig", f.sim.kubeconfigPath, "--cache-dir", join(f.dir, "cache"), ...args],
        {
          input,
          timeoutMs: 30_000,
        },
      );
    const ok = async (args: string[], input?: string): Promise<string> => {
      const r = await k(args, input);
      assert.equal(r.code, 0, `kubectl ${minor} ${args.join(" ")}:\n${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const ns = ["-n", "demo"];

    before(async () => {
      [f, bin] = await Promise.all([startSim({ readyDelayMs: 50 }), kubectlRelease(minor)]);
    });
    after(async () => f?.close());

    it("creates with protobuf bodies: namespace, configmap, secret, deployment", async () => {
      assert.equal(await ok(["create", "namespace", "demo"]), "namespace/demo created\n");
      assert.equal(
        await ok(["create", "configmap", "cfg", "--from-literal=a=b", ...ns]),
        "configmap/cfg created\n",
      );
      assert.equal(
        await ok(["create", "secret", "generic", "s1", "--from-literal=p=q", ...ns]),
        "secret/s1 created\n",
      );
      assert.equal(
        await ok(["create", "deployment", "made", "--image=nginx:1.25", ...ns]),
        "deployment.apps/made created\n",
      );
      assert.equal(await ok(["auth", "can-i", "create", "deployments", ...ns]), "yes\n");
    });

    it("applies client-side and server-side, and diffs", async () => {
      assert.equal(await ok(["apply", "-f", "-", ...ns], DEPLOY), "deployment.apps/web created\n");
      assert.equal(
        await ok(["apply", "--server-side", "--force-conflicts", "-f", "-", ...ns], DEPLOY),
        "deployment.apps/web serverside-applied\n",
      );
      await ok(["rollout", "status", "deploy/web", "--timeout=20s", ...ns]);
      // kubectl 1.22 dry-runs only where the OpenAPI v2 document lists a dryRun parameter.
      const same = await k(["diff", "-f", "-", ...ns], DEPLOY);
      assert.deepEqual({ code: same.code, out: same.stdout }, { code: 0, out: "" });
      const diff = await k(["diff", "-f", "-", ...ns], DEPLOY.replace("nginx:1.25", "nginx:1.26"));
      assert.equal(diff.code, 1, diff.stderr);
      assert.match(diff.stdout, /^-\s+image: nginx:1\.25$/m);
      assert.match(diff.stdout, /^\+\s+image: nginx:1\.26$/m);
      // The dry-run shows the generation the change would give (one more).
      const gen = /^-\s+generation: (\d+)\n\+\s+generation: (\d+)$/m.exec(diff.stdout);
      assert.ok(gen, diff.stdout);
      assert.equal(Number(gen[2]), Number(gen[1]) + 1);
    });

    it("gets with the cluster's columns and describes", async () => {
      const pods = await ok(["get", "pods", "-l", "app=web", ...ns]);
      assert.match(pods.split("\n")[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
      assert.equal(
        pods
          .trimEnd()
          .split("\n")
          .filter((l) => /\s1\/1\s+Running\s+0\s/.test(l)).length,
        2,
      );
      const wide = await ok(["get", "deploy", "web", "-o", "wide", ...ns]);
      assert.match(
        wide,
        /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\n/,
      );
      assert.match(wide, /^web\s+2\/2\s+2\s+2\s+\S+\s+web\s+nginx:1\.25\s+app=web$/m);
      const described = await ok(["describe", "deploy", "web", ...ns]);
      assert.match(
        described,
        /^Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$/m,
      );
      assert.match(described, /^StrategyType:\s+RollingUpdate$/m);
      assert.match(await ok(["describe", "pod", "-l", "app=web", ...ns]), /^Status:\s+Running$/m);
      assert.match(
        await ok(["logs", "deploy/web", ...ns]),
        /container web started from image nginx:1\.25/,
      );
    });

    it("rolls out: set image, history, undo, restart, scale, label, annotate, wait", async () => {
      assert.equal(
        await ok(["set", "image", "deploy/web", "web=nginx:1.26", ...ns]),
        "deployment.apps/web image updated\n",
      );
      assert.match(
        await ok(["rollout", "status", "deploy/web", "--timeout=20s", ...ns]),
        /successfully rolled out/,
      );
      const history = await ok(["rollout", "history", "deploy/web", ...ns]);
      assert.match(history, /^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/m);
      assert.equal(
        await ok(["rollout", "undo", "deploy/web", ...ns]),
        "deployment.apps/web rolled back\n",
      );
      await ok(["rollout", "status", "deploy/web", "--timeout=20s", ...ns]);
      assert.equal(
        await ok([
          "get",
          "deploy",
          "web",
          "-o",
          "jsonpath={.spec.template.spec.containers[0].image}",
          ...ns,
        ]),
        "nginx:1.25",
      );
      assert.equal(
        await ok(["rollout", "restart", "deploy/web", ...ns]),
        "deployment.apps/web restarted\n",
      );
      assert.equal(
        await ok(["scale", "deploy/web", "--replicas=3", ...ns]),
        "deployment.apps/web scaled\n",
      );
      assert.equal(
        await ok(["label", "deploy/web", "tier=front", ...ns]),
        "deployment.apps/web labeled\n",
      );
      // kubectl 1.26-1.27 print "annotate" (a message bug of theirs), the others "annotated".
      assert.match(
        await ok(["annotate", "deploy/web", "note=hi", ...ns]),
        /^deployment\.apps\/web annotated?\n$/,
      );
      assert.equal(
        await ok(["wait", "--for=condition=available", "deploy/web", "--timeout=20s", ...ns]),
        "deployment.apps/web condition met\n",
      );
      assert.match(await ok(["get", "deploy", "web", ...ns]), /^web\s+3\/3\s+3\s+3\s/m);
    });

    it("explains built-in kinds from the served OpenAPI schemas", async () => {
      // 1.22 reads the OpenAPI v2 document (gnostic protobuf), 1.27 and 1.35 the v3 one; their
      // layouts differ (v2: "VERSION: apps/v1", "RESOURCE:" for object fields).
      const replicas = await ok(["explain", "deployment.spec.replicas"]);
      assert.match(replicas, /^KIND:\s+Deployment$/m);
      assert.match(replicas, /^VERSION:\s+(apps\/)?v1$/m);
      assert.match(replicas, /^FIELD:\s+replicas <integer>$/m);
      assert.match(
        replicas,
        /Number of desired pods\. This is a pointer to distinguish between explicit\s+zero and not specified\. Defaults to 1\./,
      );
      const ports = await ok(["explain", "pods.spec.containers.ports"]);
      assert.match(ports, /^(FIELD|RESOURCE):\s+ports <\[\](ContainerPort|Object)>$/m);
      assert.match(ports, /^\s+containerPort\s+<integer>/m);
      const svc = await ok(["explain", "svc"]);
      assert.match(svc, /^KIND:\s+Service$/m);
      assert.match(svc, /^\s+spec\s+<(ServiceSpec|Object)>$/m);
      const unknown = await k(["explain", "deployment.spec.nope"]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stdout + unknown.stderr, /field "nope" does not exist/);
    });

    it("deletes, a namespace with its objects too", async () => {
      // kubectl 1.35 names the namespace ("deleted from demo namespace").
      assert.match(
        await ok(["delete", "deploy", "web", ...ns]),
        /^deployment\.apps "web" deleted( from demo namespace)?\n$/,
      );
      assert.equal(await ok(["delete", "namespace", "demo"]), 'namespace "demo" deleted\n');
      const gone = await k(["get", "namespace", "demo"]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /namespaces "demo" not found/);
    });
  });
}
