import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, runCommand } from "@pipecd-ts/testkit";
import { startKubeSim, type KubeSim } from "@pipecd-ts/kube-sim";
import { parse as parseYaml } from "yaml";
import {
  chartDir,
  renderingOf,
  valuesFile,
  find,
  render,
  runHelm,
  runKubectl,
  toStream,
  type ChartName,
  type Manifest,
} from "./harness.js";

// Both charts with real helm v4.1.4: lint and template with the default values and with a values
// file that sets every option; the output applies cleanly to kube-sim with real kubectl
// (server-side dry run, then a real apply), and the rendered configs are accepted by the real
// piped and control plane.

const testdata = (name: string): string =>
  join(repoRoot(), "test", "helm", "testdata", `${name}.yaml`);
const readValues = async (name: string): Promise<Record<string, unknown>> =>
  parseYaml(await readFile(testdata(name), "utf8")) as Record<string, unknown>;

/** The smallest values a piped install needs. */
const PIPED_REQUIRED = {
  controlPlane: { address: "pipecd.pipecd.svc:9080", insecure: true },
  pipedId: "piped-1",
  pipedKey: { value: "secret-key" },
};

type Container = {
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  volumeMounts: { name: string; mountPath: string }[];
};
type PodSpec = {
  containers: Container[];
  volumes: { name: string; [k: string]: unknown }[];
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
};
const podSpec = (ms: Manifest[]): PodSpec =>
  (find(ms, "Deployment") as Manifest & { spec: { template: { spec: PodSpec } } }).spec.template
    .spec;
const container = (ms: Manifest[]): Container => {
  const c = podSpec(ms).containers[0];
  assert.ok(c, "a container");
  return c;
};
const secretFile = (ms: Manifest[], name: string, key: string): string => {
  const s = find(ms, "Secret", name) as Manifest & { data: Record<string, string> };
  return Buffer.from(s.data[key] ?? "", "base64").toString("utf8");
};

/** The NOTES.txt `helm install` prints for `chart` with `--set` values `set` (a client dry run). */
async function installNotes(chart: ChartName, release: string, set: string[]): Promise<string> {
  const r = await runHelm([
    "install",
    release,
    chartDir(chart),
    "--dry-run=client",
    "-n",
    "pipecd",
    ...set.flatMap((x) => ["--set", x]),
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.slice(r.stdout.indexOf("NOTES:"));
}

describe("helm charts", () => {
  let sim: KubeSim;
  let dir = "";
  const kubectl = (args: string[], input?: string) => runKubectl(sim.kubeconfigPath, args, input);

  /** The rendered objects of `ms` that kube-sim stores now (one kubectl call per namespace). */
  async function storedOf(ms: Manifest[], namespace: string): Promise<Set<Manifest>> {
    const ref = (m: Manifest) =>
      `${m.kind.toLowerCase()}${m.apiVersion.includes("/") ? `.${m.apiVersion.split("/")[0] ?? ""}` : ""}/${m.metadata.name}`;
    const byNs = new Map<string, Manifest[]>();
    for (const m of ms) {
      const ns = m.metadata.namespace ?? namespace;
      byNs.set(ns, [...(byNs.get(ns) ?? []), m]);
    }
    const found = new Set<Manifest>();
    for (const [ns, group] of byNs) {
      const got = await kubectl([
        "get",
        ...group.map(ref),
        "-n",
        ns,
        "-o",
        "name",
        "--ignore-not-found",
      ]);
      assert.equal(got.code, 0, got.stderr);
      const names = new Set(
        got.stdout
          .trim()
          .split("\n")
          .map((l) => l.split("/").pop()),
      );
      for (const m of group) if (names.has(m.metadata.name)) found.add(m);
    }
    return found;
  }

  /**
   * Installs what `ms` was rendered from with real helm into kube-sim (after a server-side dry
   * run of `ms`): `helm upgrade --install`, so a release a test renders again is upgraded.
   * Every rendered object must be stored.
   */
  async function applies(ms: Manifest[], namespaces: string[]): Promise<void> {
    const how = renderingOf(ms);
    assert.ok(how, "applies() takes what render() returned");
    for (const ns of namespaces) {
      const r = await kubectl(
        ["apply", "-f", "-"],
        `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const dry = await kubectl(
      ["apply", "--server-side", "--dry-run=server", "-f", "-"],
      toStream(ms),
    );
    assert.equal(dry.code, 0, `dry run:\n${dry.stderr}`);
    const install = await runHelm(["upgrade", "--install", how.release, ...(await helmArgs(ms))]);
    assert.equal(install.code, 0, `helm upgrade --install:\n${install.stderr}`);
    assert.match(install.stdout, /^STATUS: deployed$/m);
    const stored = await storedOf(ms, how.namespace);
    for (const m of ms) assert.ok(stored.has(m), `${m.kind} ${m.metadata.name} is stored`);
  }

  /** The chart, kubeconfig, namespace and values arguments of helm for what `ms` came from. */
  async function helmArgs(ms: Manifest[]): Promise<string[]> {
    const how = renderingOf(ms);
    assert.ok(how, "takes what render() returned");
    return [
      chartDir(how.chart),
      "--kubeconfig",
      sim.kubeconfigPath,
      "--namespace",
      how.namespace,
      "-f",
      await valuesFile(how.values),
    ];
  }

  /**
   * `helm upgrade` (a new revision) then `helm uninstall --wait` of the release `ms` was
   * installed as; the objects are gone afterwards, but those helm is told to keep.
   */
  async function upgradesAndUninstalls(ms: Manifest[]): Promise<void> {
    const how = renderingOf(ms);
    assert.ok(how, "takes what render() returned");
    const upgrade = await runHelm(["upgrade", how.release, ...(await helmArgs(ms))]);
    assert.equal(upgrade.code, 0, `helm upgrade:\n${upgrade.stderr}`);
    assert.match(upgrade.stdout, /^REVISION: [2-9]$/m);
    await uninstalls(ms);
  }

  /** `helm uninstall` of what `ms` was rendered from; its objects are gone (but kept ones). */
  async function uninstalls(ms: Manifest[]): Promise<void> {
    const how = renderingOf(ms);
    assert.ok(how, "uninstalls() takes what render() returned");
    const uninstall = await runHelm([
      "uninstall",
      how.release,
      "--kubeconfig",
      sim.kubeconfigPath,
      "--namespace",
      how.namespace,
      "--wait",
    ]);
    assert.equal(uninstall.code, 0, `helm uninstall:\n${uninstall.stderr}`);
    const stored = await storedOf(ms, how.namespace);
    for (const m of ms) {
      const keep =
        (m.metadata.annotations as Record<string, string> | undefined)?.[
          "helm.sh/resource-policy"
        ] === "keep";
      assert.equal(stored.has(m), keep, `${m.kind} ${m.metadata.name} after uninstall`);
    }
  }

  const lint = async (chart: ChartName, args: string[] = []): Promise<void> => {
    const r = await runHelm(["lint", "--strict", chartDir(chart), ...args]);
    assert.equal(r.code, 0, `helm lint ${chart}:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "helm-charts-"));
    sim = await startKubeSim({ port: 0, kubeconfigPath: join(dir, "kubeconfig") });
  });
  after(async () => {
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe("piped", () => {
    it("lints with the default values, and refuses to render them with a message naming what is missing", async () => {
      await lint("piped");
      const r = await runHelm(["template", "p", chartDir("piped")]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /controlPlane\.address is required/);
    });

    it("renders the defaults plus the required values: ClusterRole scope, Secret config, limits, non-root read-only pod", async () => {
      await lint("piped", ["--set", "controlPlane.address=cp:9080,pipedId=p,pipedKey.value=k"]);
      const ms = await render("piped", PIPED_REQUIRED, "edge", "pipecd");
      assert.deepEqual(ms.map((m) => m.kind).sort(), [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Secret",
        "ServiceAccount",
      ]);
      const c = container(ms);
      assert.deepEqual(c.args, [
        "--config=/etc/piped/piped-config.yaml",
        "--work-dir=/var/lib/piped",
        "--tools-dir=/usr/local/bin",
        "--log-level=info",
        "--grace-period=20000",
        "--insecure",
      ]);
      assert.ok(c.resources?.requests?.cpu && c.resources.limits?.memory, "requests and limits");
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(podSpec(ms).securityContext?.runAsNonRoot, true);
      assert.equal(podSpec(ms).serviceAccountName, "edge-piped");
      const binding = find(ms, "ClusterRoleBinding") as Manifest & {
        subjects: { name: string; namespace: string }[];
        roleRef: { name: string };
      };
      // Named after the release's namespace too: another namespace's "edge" release gets its own.
      assert.equal(find(ms, "ClusterRole").metadata.name, "pipecd-edge-piped");
      assert.equal(binding.metadata.name, "pipecd-edge-piped");
      assert.equal(binding.roleRef.name, "pipecd-edge-piped");
      assert.deepEqual(binding.subjects, [
        { kind: "ServiceAccount", name: "edge-piped", namespace: "pipecd" },
      ]);
      const config = parseYaml(secretFile(ms, "edge-piped-config", "piped-config.yaml")) as {
        spec: Record<string, unknown>;
      };
      assert.equal(config.spec.apiAddress, "pipecd.pipecd.svc:9080");
      assert.equal(
        Buffer.from(String(config.spec.pipedKeyData), "base64").toString(),
        "secret-key",
      );
      assert.deepEqual(config.spec.platformProviders, [
        { name: "kubernetes-default", type: "KUBERNETES", labels: {} },
      ]);
      await applies(ms, ["pipecd"]);
      await upgradesAndUninstalls(ms);
    });

    it("renders every option: namespace-scoped Roles, existing key Secret, CA bundle, scheduling, extra env", async () => {
      const values = await readValues("piped-all-options");
      await lint("piped", ["-f", testdata("piped-all-options")]);
      const ms = await render("piped", values, "edge", "cd");
      assert.equal(ms.filter((m) => m.kind.startsWith("Cluster")).length, 0, "no cluster RBAC");
      const roles = ms.filter((m) => m.kind === "Role").map((m) => m.metadata.namespace);
      assert.deepEqual(roles.sort(), ["payments", "shop"]);
      assert.deepEqual(
        ms
          .filter((m) => m.kind === "RoleBinding")
          .map((m) => m.metadata.namespace)
          .sort(),
        ["payments", "shop"],
      );
      const spec = podSpec(ms);
      const c = container(ms);
      assert.ok(!c.args.includes("--insecure"));
      assert.ok(c.args.includes("--log-level=debug"));
      assert.deepEqual(
        c.env?.find((e) => e.name === "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")?.value,
        "/etc/piped-tls/ca.pem",
      );
      assert.ok(c.env?.some((e) => e.name === "HTTPS_PROXY"));
      assert.ok(c.volumeMounts.some((m) => m.mountPath === "/etc/piped-key"));
      assert.deepEqual(
        ms.filter((m) => m.kind === "Role").map((m) => m.metadata.name),
        ["cd-edge-piped", "cd-edge-piped"],
      );
      // extraVolumes / extraVolumeMounts are passed through.
      assert.deepEqual(spec.volumes.find((v) => v.name === "git-config")?.configMap, {
        name: "piped-gitconfig",
      });
      assert.ok(
        c.volumeMounts.some((m) => m.name === "git-config" && m.mountPath === "/etc/piped-git"),
      );
      // git.sshKeySecret: key and known_hosts mounted read-only, git's ssh pinned to them.
      assert.deepEqual(spec.volumes.find((v) => v.name === "git-ssh")?.secret, {
        secretName: "git-ssh",
        defaultMode: 0o440,
        items: [
          { key: "deploy-key", path: "deploy-key" },
          { key: "hosts", path: "hosts" },
        ],
      });
      assert.ok(
        c.volumeMounts.some((m) => m.name === "git-ssh" && m.mountPath === "/etc/piped-ssh"),
      );
      const sshCommand = c.env?.find((e) => e.name === "GIT_SSH_COMMAND")?.value ?? "";
      assert.equal(
        sshCommand,
        "ssh -i /etc/piped-ssh/deploy-key -o UserKnownHostsFile=/etc/piped-ssh/hosts -o IdentitiesOnly=yes",
      );
      // Real ssh accepts the command and resolves exactly those options (-G: print, no connect),
      // with the Secret's files where the pod mounts them (here a temp dir).
      const sshDir = join(dir, "piped-ssh");
      await mkdir(sshDir, { recursive: true });
      await writeFile(join(sshDir, "deploy-key"), "not a real key\n", { mode: 0o600 });
      await writeFile(join(sshDir, "hosts"), "");
      const sshConfig = await runCommand(
        "sh",
        ["-c", `${sshCommand.replaceAll("/etc/piped-ssh", sshDir)} -G git.example.com`],
        { timeoutMs: 10_000 },
      );
      assert.equal(sshConfig.code, 0, sshConfig.stderr);
      const identities = sshConfig.stdout.split("\n").filter((l) => l.startsWith("identityfile "));
      assert.deepEqual(identities, [`identityfile ${sshDir}/deploy-key`]);
      assert.match(sshConfig.stdout, new RegExp(`^userknownhostsfile ${sshDir}/hosts$`, "m"));
      assert.match(sshConfig.stdout, /^identitiesonly yes$/m);
      assert.deepEqual(spec.nodeSelector, { "kubernetes.io/os": "linux" });
      assert.equal(spec.tolerations?.length, 1);
      assert.ok(spec.affinity);
      assert.equal(spec.serviceAccountName, "edge-piped-sa");
      assert.equal(c.resources?.limits?.memory, "1Gi");
      const configText = secretFile(ms, "edge-piped-config", "piped-config.yaml");
      const config = parseYaml(configText) as { spec: Record<string, unknown> };
      assert.equal(config.spec.pipedKeyFile, "/etc/piped-key/key");
      // secretManagement.existingSecret: the key pair mounted read-only, set as KEY_PAIR.
      assert.deepEqual(config.spec.secretManagement, {
        type: "KEY_PAIR",
        config: {
          privateKeyFile: "/etc/piped-secret/priv",
          publicKeyFile: "/etc/piped-secret/pub",
        },
      });
      assert.deepEqual(spec.volumes.find((v) => v.name === "secret-keys")?.secret, {
        secretName: "piped-secret-keys",
        defaultMode: 0o440,
        items: [
          { key: "priv", path: "priv" },
          { key: "pub", path: "pub" },
        ],
      });
      assert.ok(
        c.volumeMounts.some((m) => m.name === "secret-keys" && m.mountPath === "/etc/piped-secret"),
      );
      assert.equal(config.spec.pipedKeyData, undefined);
      assert.deepEqual(config.spec.appSelector, { team: "a" });
      assert.equal(config.spec.syncInterval, "30s");
      assert.deepEqual(config.spec.platformProviders, [
        {
          name: "edge-cluster",
          type: "KUBERNETES",
          labels: { env: "prod" },
          config: { kubeConfigPath: "/etc/piped-kubeconfig/config" },
        },
      ]);
      // The real piped loads this config: it gets past the config and stops at the cluster
      // (the kubeconfig Secret is not mounted here).
      const keyDir = join(dir, "piped-key");
      await mkdir(keyDir, { recursive: true });
      await writeFile(join(keyDir, "key"), "k");
      const pair = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      });
      await writeFile(join(keyDir, "priv"), pair.privateKey);
      await writeFile(join(keyDir, "pub"), pair.publicKey);
      const configPath = join(dir, "piped-config.yaml");
      await writeFile(
        configPath,
        configText
          .replace("/etc/piped-key/", `${keyDir}/`)
          .replaceAll("/etc/piped-secret/", `${keyDir}/`),
      );
      const run = await runCommand(join(repoRoot(), "bin", "piped"), ["--config", configPath], {
        timeoutMs: 30_000,
      });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /cannot load kubeconfig \/etc\/piped-kubeconfig\/config/);
      await applies(ms, ["cd", "shop", "payments"]);
    });

    it("deploys to another cluster through a kubeconfig Secret when asked", async () => {
      const ms = await render("piped", {
        ...PIPED_REQUIRED,
        platformProvider: { name: "remote", kubeConfigSecret: { name: "remote-kc" } },
        rbac: { create: false },
      });
      assert.equal(ms.filter((m) => m.kind.includes("Role")).length, 0, "no RBAC objects");
      const config = parseYaml(secretFile(ms, "test-piped-config", "piped-config.yaml")) as {
        spec: { platformProviders: unknown[] };
      };
      assert.deepEqual(config.spec.platformProviders, [
        {
          name: "remote",
          type: "KUBERNETES",
          labels: {},
          config: { kubeConfigPath: "/etc/piped-kubeconfig/kubeconfig" },
        },
      ]);
      assert.ok(
        container(ms).volumeMounts.some((m) => m.mountPath === "/etc/piped-kubeconfig"),
        "the kubeconfig Secret is mounted",
      );
      assert.deepEqual(podSpec(ms).volumes.find((v) => v.name === "kubeconfig")?.secret, {
        secretName: "remote-kc",
        items: [{ key: "kubeconfig", path: "kubeconfig" }],
      });
    });

    it("two releases of one name in two namespaces get distinct RBAC objects", async () => {
      const a = await render("piped", PIPED_REQUIRED, "piped", "team-a");
      const b = await render("piped", PIPED_REQUIRED, "piped", "team-b");
      for (const kind of ["ClusterRole", "ClusterRoleBinding"])
        assert.notEqual(find(a, kind).metadata.name, find(b, kind).metadata.name, kind);
      await applies(a, ["team-a"]);
      await applies(b, ["team-b"]);
      const got = await kubectl(["get", "clusterrolebinding", "-o", "json"]);
      const bindings = (
        JSON.parse(got.stdout) as {
          items: { metadata: { name: string }; subjects: { namespace: string }[] }[];
        }
      ).items;
      const byName = Object.fromEntries(
        bindings.map((i) => [i.metadata.name, i.subjects[0]?.namespace]),
      );
      assert.equal(byName["team-a-piped"], "team-a", "team-a's binding is intact");
      assert.equal(byName["team-b-piped"], "team-b");
      await uninstalls(a);
      await uninstalls(b);
      // Namespace-scoped: both deploy to "shop"; each release has its own Role there.
      const ns = { ...PIPED_REQUIRED, rbac: { scope: "namespace", namespaces: ["shop"] } };
      const ra = await render("piped", ns, "piped", "team-a");
      const rb = await render("piped", ns, "piped", "team-b");
      assert.notEqual(find(ra, "Role").metadata.name, find(rb, "Role").metadata.name);
    });

    it("NOTES mention the ClusterRole only when the chart creates it, and name the connected log line", async () => {
      const notes = (set: string[]) =>
        installNotes("piped", "edge", [
          "controlPlane.address=cp:9080,pipedId=p,pipedKey.value=k",
          ...set,
        ]);
      const cluster = await notes([]);
      assert.match(cluster, /ClusterRole pipecd-edge-piped/);
      assert.match(cluster, /kube-system/);
      assert.match(cluster, /grep -E "connected to the control plane\|error"/);
      assert.match(cluster, /\$PIPECD_API_KEY/);
      const none = await notes(["rbac.create=false"]);
      assert.doesNotMatch(none, /ClusterRole pipecd|Role pipecd/);
      assert.match(none, /rbac\.create=false/);
    });

    it("rejects contradictory values with a clear message", async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [
          { ...PIPED_REQUIRED, pipedKey: { value: "k", existingSecret: { name: "s" } } },
          /only one of pipedKey\.value and pipedKey\.existingSecret/,
        ],
        [{ ...PIPED_REQUIRED, pipedKey: { value: "" } }, /a piped key is required/],
        [{ ...PIPED_REQUIRED, pipedId: "" }, /pipedId is required/],
        [
          { ...PIPED_REQUIRED, controlPlane: { address: "https://cp" } },
          /controlPlane\.address must be host:port/,
        ],
        [{ ...PIPED_REQUIRED, rbac: { scope: "namespace" } }, /rbac\.scope=namespace needs/],
        [
          { ...PIPED_REQUIRED, git: { sshKeySecret: { name: "s", knownHostsKey: "" } } },
          /git\.sshKeySecret needs key .* and knownHostsKey/,
        ],
        [
          { ...PIPED_REQUIRED, rbac: { scope: "global" } },
          /rbac\.scope must be cluster or namespace/,
        ],
      ];
      for (const [values, message] of cases) await assert.rejects(render("piped", values), message);
    });
  });

  describe("control-plane", () => {
    it("lints and renders the default values: SQLite on a PVC, one replica, probes on /healthz", async () => {
      await lint("control-plane");
      const r = await runHelm(["template", "pipecd", chartDir("control-plane"), "-n", "pipecd"]);
      assert.equal(r.code, 0, r.stderr);
      const ms = await render("control-plane", {}, "pipecd", "pipecd");
      assert.deepEqual(ms.map((m) => m.kind).sort(), [
        "Deployment",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
      ]);
      const d = find(ms, "Deployment") as Manifest & {
        spec: { replicas: number; strategy?: { type: string } };
      };
      assert.equal(d.spec.replicas, 1);
      assert.equal(d.spec.strategy?.type, "Recreate");
      const c = container(ms);
      assert.ok(c.args.includes("--datastore=sqlite:/var/lib/pipecd/pipecd.db"));
      assert.equal(c.readinessProbe?.httpGet?.path, "/healthz");
      assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
      assert.ok(c.resources?.requests?.memory && c.resources.limits?.memory);
      const svc = find(ms, "Service") as Manifest & { spec: { ports: { name: string }[] } };
      assert.deepEqual(
        svc.spec.ports.map((p) => p.name),
        ["http", "grpc"],
      );
      await applies(ms, ["pipecd"]);
      await upgradesAndUninstalls(ms);
    });

    it("renders every option: PostgreSQL URL from a Secret, 3 replicas, TLS, two Ingresses, users", async () => {
      const values = await readValues("control-plane-all-options");
      await lint("control-plane", ["-f", testdata("control-plane-all-options")]);
      const ms = await render("control-plane", values, "pipecd", "cd");
      assert.deepEqual(
        ms
          .filter((m) => m.kind === "Ingress")
          .map((m) => m.metadata.name)
          .sort(),
        ["pipecd", "pipecd-grpc"],
      );
      assert.equal(
        ms.filter((m) => m.kind === "PersistentVolumeClaim").length,
        0,
        "no PVC with PostgreSQL",
      );
      const d = find(ms, "Deployment") as Manifest & {
        spec: { replicas: number; strategy?: unknown };
      };
      assert.equal(d.spec.replicas, 3);
      assert.equal(d.spec.strategy, undefined, "rolling updates with PostgreSQL");
      const c = container(ms);
      // The URL (with its password) comes from a mounted file: not in args, not in env.
      assert.ok(c.args.includes("--datastore-file=/etc/pipecd-datastore/dsn"), c.args.join(" "));
      assert.ok(!c.args.some((a) => a.startsWith("--datastore=")));
      assert.deepEqual(
        c.env?.map((e) => e.name),
        ["TZ"],
      );
      assert.deepEqual(podSpec(ms).volumes.find((v) => v.name === "datastore-url")?.secret, {
        secretName: "pipecd-postgres",
        items: [{ key: "dsn", path: "dsn" }],
      });
      assert.ok(
        c.volumeMounts.some(
          (m) => m.name === "datastore-url" && m.mountPath === "/etc/pipecd-datastore",
        ),
      );
      assert.ok(c.args.includes("--secure-cookies"));
      // TLS on the pod: ingress-nginx must speak HTTPS / gRPC over TLS to it; the user's own
      // annotations stay; each Ingress has its tls block.
      const ingress = (name: string) =>
        find(ms, "Ingress", name) as Manifest & {
          metadata: { annotations: Record<string, string> };
          spec: { tls: { secretName: string; hosts: string[] }[] };
        };
      assert.deepEqual(ingress("pipecd").metadata.annotations, {
        "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
        "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
      });
      assert.deepEqual(ingress("pipecd-grpc").metadata.annotations, {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
        "nginx.ingress.kubernetes.io/backend-protocol": "GRPCS",
      });
      assert.deepEqual(ingress("pipecd").spec.tls, [
        { secretName: "pipecd-ingress-tls", hosts: ["pipecd.example.com"] },
      ]);
      assert.deepEqual(ingress("pipecd-grpc").spec.tls, [
        { secretName: "pipecd-grpc-tls", hosts: ["pipecd-grpc.example.com"] },
      ]);
      assert.ok(c.args.includes("--tls-cert-file=/etc/pipecd-tls/tls.crt"));
      assert.ok(c.args.includes("--bootstrap-admin-key-file=/etc/pipecd-admin-key/key"));
      assert.ok(!JSON.stringify(ms).includes("postgres://"), "no URL in the manifests");
      const configText = secretFile(ms, "pipecd-config", "config.yaml");
      const config = parseYaml(configText) as {
        spec: { users: { username: string }[]; webBaseUrl: string };
      };
      assert.deepEqual(
        config.spec.users.map((u) => u.username),
        ["alice", "bob"],
      );
      assert.equal(config.spec.webBaseUrl, "https://pipecd.example.com");
      // The real control plane accepts the rendered config file.
      const cfgPath = join(dir, "cp-config.yaml");
      await writeFile(cfgPath, configText);
      const httpPort = await freePort();
      const grpcPort = await freePort();
      const started = await runCommand(
        "bash",
        [
          "-c",
          `"$0" --config "$1" --data-dir "$2" --http-port ${httpPort} --grpc-port ${grpcPort} --listen-host 127.0.0.1 --log-level warn & pid=$!; for i in $(seq 1 100); do curl -sf http://127.0.0.1:${httpPort}/healthz && break; sleep 0.2; done; kill -TERM $pid; wait $pid`,
          join(repoRoot(), "bin", "pipecd-server"),
          cfgPath,
          join(dir, "cp-data"),
        ],
        { timeoutMs: 60_000 },
      );
      assert.match(
        started.stdout,
        /"status":"ok"/,
        `control plane with the rendered config:\n${started.stderr}`,
      );
      await applies(ms, ["cd"]);
    });

    it("SQLite on an existing claim and config from an existing Secret", async () => {
      const values = await readValues("control-plane-sqlite-existing-claim");
      await lint("control-plane", ["-f", testdata("control-plane-sqlite-existing-claim")]);
      const ms = await render("control-plane", values, "pipecd", "pipecd");
      assert.deepEqual(ms.map((m) => m.kind).sort(), ["Deployment", "Service"]);
      const vols = podSpec(ms).volumes;
      assert.deepEqual(vols.find((v) => v.name === "data")?.persistentVolumeClaim, {
        claimName: "pipecd-data",
      });
      assert.deepEqual(vols.find((v) => v.name === "config")?.secret, {
        secretName: "pipecd-config",
      });
      await applies(ms, ["pipecd"]);
    });

    it("derives each Ingress's backend protocol from tls.secretName unless set, and marks cookies Secure behind a TLS Ingress", async () => {
      const annotations = (ms: Manifest[], name: string) =>
        (find(ms, "Ingress", name).metadata.annotations ?? {}) as Record<string, string>;
      const proto = "nginx.ingress.kubernetes.io/backend-protocol";
      const ingress = {
        enabled: true,
        host: "cd.example.com",
        grpc: { enabled: true, host: "cd-grpc.example.com" },
      };
      // Plain listeners, no TLS anywhere: HTTP and GRPC, cookies not Secure.
      const plain = await render("control-plane", { ingress }, "pipecd", "pipecd");
      assert.equal(annotations(plain, "pipecd-control-plane")[proto], "HTTP");
      assert.equal(annotations(plain, "pipecd-control-plane-grpc")[proto], "GRPC");
      assert.ok(!container(plain).args.includes("--secure-cookies"));
      // TLS ends at the Ingress only: the pod still speaks plain HTTP, the cookie is Secure.
      const edge = await render(
        "control-plane",
        { ingress: { ...ingress, tls: [{ secretName: "edge", hosts: ["cd.example.com"] }] } },
        "pipecd",
        "pipecd",
      );
      assert.equal(annotations(edge, "pipecd-control-plane")[proto], "HTTP");
      assert.ok(container(edge).args.includes("--secure-cookies"));
      // TLS on the pod, the user's choice wins where given.
      const own = await render(
        "control-plane",
        {
          tls: { secretName: "pipecd-tls" },
          ingress: { ...ingress, annotations: { [proto]: "HTTP" } },
        },
        "pipecd",
        "pipecd",
      );
      assert.equal(annotations(own, "pipecd-control-plane")[proto], "HTTP");
      assert.equal(annotations(own, "pipecd-control-plane-grpc")[proto], "GRPCS");
      assert.ok(container(own).args.includes("--secure-cookies"));
      assert.ok(container(own).args.includes("--tls-cert-file=/etc/pipecd-tls/tls.crt"));
    });

    it("NOTES use https once the listener or the Ingress has TLS, and warn about a gRPC Ingress without TLS", async () => {
      const notes = (set: string[]) => installNotes("control-plane", "pipecd", set);
      const tls = await notes([
        "tls.secretName=pipecd-tls",
        "ingress.enabled=true",
        "ingress.tls[0].secretName=t",
      ]);
      assert.match(tls, /curl -sk https:\/\/127\.0\.0\.1:8080\/healthz/);
      assert.match(tls, /curl -s https:\/\/pipecd\.example\.com\/healthz/);
      assert.doesNotMatch(tls, /http:\/\//);
      const plain = await notes(["ingress.enabled=true", "ingress.grpc.enabled=true"]);
      assert.match(plain, /curl -s http:\/\/127\.0\.0\.1:8080\/healthz/);
      assert.match(plain, /WARNING: the gRPC Ingress has no tls block/);
    });

    it("refuses several replicas on SQLite and PostgreSQL without its Secret", async () => {
      await assert.rejects(
        render("control-plane", { replicas: 2 }),
        /replicas > 1 needs datastore\.type=postgres/,
      );
      await assert.rejects(
        render("control-plane", { datastore: { type: "postgres" } }),
        /needs datastore\.postgres\.urlSecret\.name/,
      );
      await assert.rejects(
        render("control-plane", {
          config: { users: [{ username: "a", role: "root", passwordHash: "x" }] },
        }),
        /role must be viewer, editor or admin/,
      );
    });
  });
});
