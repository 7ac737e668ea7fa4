import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  ChartRepository,
  HelmChart,
  HelmOptions,
  KubernetesDeploymentInput,
} from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { ensureK8sTools, eventually, runCommand } from "@pipecd-ts/testkit";
import { HelmRenderer, helmTemplateArgs } from "../src/manifest/helm.js";
import type { RenderRequest } from "../src/manifest/render.js";
import { HELM_OPTIONS, docs, failure, git, renderRequest } from "./render-shared.js";
import { Toolbox } from "../src/manifest/tools.js";

const USER = "pipecd";
const PASSWORD = "s3cret-chart-password";

const OPTIONS = HELM_OPTIONS;
const CHART: HelmChart = {
  gitRemote: "",
  ref: "",
  path: "",
  repository: "",
  name: "",
  version: "",
};

/** A small chart: one ConfigMap (fails with "boom" when `boom` is set), one hook, one CRD. */
async function writeChart(dir: string, version: string): Promise<void> {
  await mkdir(join(dir, "templates"), { recursive: true });
  await mkdir(join(dir, "crds"), { recursive: true });
  await writeFile(
    join(dir, "Chart.yaml"),
    `apiVersion: v2\nname: hello\ntype: application\nversion: ${version}\n`,
  );
  await writeFile(join(dir, "values.yaml"), "greeting: hello\ncolor: blue\nboom: false\n");
  await writeFile(
    join(dir, "templates", "configmap.yaml"),
    [
      "{{- if .Values.boom }}",
      '{{- fail "boom" }}',
      "{{- end }}",
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: {{ .Release.Name }}-config",
      "  namespace: {{ .Release.Namespace }}",
      "data:",
      "  greeting: {{ .Values.greeting | quote }}",
      "  color: {{ .Values.color | quote }}",
      "  chartVersion: {{ .Chart.Version | quote }}",
      "  {{- with .Values.motd }}",
      "  motd: {{ . | quote }}",
      "  {{- end }}",
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "templates", "hook.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n" +
      "  annotations:\n    helm.sh/hook: pre-install\ndata: {}\n",
  );
  await writeFile(
    join(dir, "crds", "widget.yaml"),
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n" +
      "metadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n" +
      "  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n" +
      "  versions: [{name: v1, served: true, storage: true, " +
      "schema: {openAPIV3Schema: {type: object}}}]\n",
  );
}

const configOf = (text: string): Record<string, string> =>
  docs(text).find((d) => d.kind === "ConfigMap")?.data ?? {};

describe("helm rendering", () => {
  let helmBin: string;
  let work: string;
  let repoDir: string;
  let appDir: string;
  let cacheDir: string;
  let served: string;
  let bare: string;
  let gitSrc: string;
  let server: Server;
  let port: number;
  let closedPort: number;
  const requests: Array<{ url: string; authorized: boolean }> = [];
  const hanging: Array<{ closed: boolean }> = [];
  let toolbox: Toolbox;
  let repositories: ChartRepository[];

  const renderer = (over: { timeoutMs?: number; repos?: ChartRepository[] } = {}): HelmRenderer =>
    new HelmRenderer({
      toolbox,
      chartRepositories: over.repos ?? repositories,
      chartRegistries: [],
      cacheDir,
      timeoutMs: over.timeoutMs ?? 30_000,
    });

  const request = (
    input: Partial<KubernetesDeploymentInput>,
    over: Partial<RenderRequest> = {},
  ): RenderRequest & { notes: string[] } => ({ ...renderRequest(repoDir, appDir, input), ...over });

  const reindex = async (): Promise<void> => {
    const r = await runCommand(helmBin, ["repo", "index", served]);
    assert.equal(r.code, 0, r.stderr);
  };
  const publish = async (version: string): Promise<void> => {
    const src = join(work, `pkg-${version}`, "hello");
    await writeChart(src, version);
    const r = await runCommand(helmBin, ["package", src, "--destination", served]);
    assert.equal(r.code, 0, r.stderr);
    await reindex();
  };

  before(async () => {
    helmBin = (await ensureK8sTools()).helm;
    work = await mkdtemp(join(tmpdir(), "render-helm-"));
    repoDir = join(work, "repo");
    appDir = join(repoDir, "apps", "web");
    cacheDir = join(work, "cache");
    await writeChart(join(repoDir, "charts", "hello"), "0.1.0");
    await mkdir(appDir, { recursive: true });
    await writeFile(join(appDir, "values-prod.yaml"), "greeting: hi from prod\ncolor: green\n");
    await writeFile(join(appDir, "motd.txt"), "have a nice day");
    await symlink("/etc/passwd", join(appDir, "passwd.yaml"));
    // A sibling whose path starts with the repository's: a string-prefix check lets it through.
    await mkdir(join(work, "repo-evil"), { recursive: true });
    await writeFile(join(work, "repo-evil", "values.yaml"), "greeting: evil\n");

    // An HTTP chart repository with basic auth, and a path that never answers.
    served = join(work, "served");
    await mkdir(served, { recursive: true });
    await publish("0.1.0");
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? "/";
      if (url.startsWith("/hang/")) {
        const h = { closed: false };
        hanging.push(h);
        req.socket.on("close", () => (h.closed = true));
        return;
      }
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
      const authorized = req.headers.authorization === expected;
      requests.push({ url, authorized });
      if (!authorized) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="charts"' }).end();
        return;
      }
      readFile(join(served, decodeURIComponent(url.split("?")[0] ?? "").replace(/^\/+/, ""))).then(
        (b) => res.writeHead(200).end(b),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
    closedPort = (spare.address() as AddressInfo).port;
    await new Promise<void>((r) => spare.close(() => r()));

    // A chart in another git repository: main has 0.1.0, branch release has 0.3.0.
    gitSrc = join(work, "charts-src");
    bare = join(work, "charts.git");
    await writeChart(join(gitSrc, "charts", "hello"), "0.1.0");
    await git(work, "init", "-q", gitSrc);
    await git(gitSrc, "add", ".");
    await git(gitSrc, "commit", "-qm", "hello 0.1.0");
    await git(gitSrc, "checkout", "-qb", "release");
    await writeChart(join(gitSrc, "charts", "hello"), "0.3.0");
    await git(gitSrc, "commit", "-qam", "hello 0.3.0");
    await git(gitSrc, "checkout", "-q", "main");
    await git(work, "clone", "-q", "--bare", gitSrc, bare);

    toolbox = new Toolbox({ helm: helmBin, kubectl: "/nonexistent/kubectl" });
    repositories = [
      {
        type: "HTTP",
        name: "charts",
        address: `http://127.0.0.1:${port}/`,
        username: USER,
        password: PASSWORD,
        insecure: false,
        gitRemote: "",
        sshKeyFile: "",
      },
    ];
    await renderer().setupRepositories(new AbortController().signal);
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("builds PipeCD's helm template argv, in its order, with sorted maps", () => {
    const options: HelmOptions = {
      releaseName: "rel",
      valueFiles: ["values.yaml", "https://example.com/v.yaml"],
      setValues: { "z.key": "1", "a.key": "2" },
      setFiles: { zfile: "z.txt", afile: "a.txt" },
      apiVersions: ["monitoring.coreos.com/v1", "batch/v1"],
      kubeVersion: "1.29.0",
    };
    assert.deepEqual(
      helmTemplateArgs({
        releaseName: "rel",
        chart: "charts/hello",
        repoChart: { version: "", insecure: true },
        namespace: "prod",
        options,
      }),
      [
        "template",
        "--no-hooks",
        "--include-crds",
        "--dependency-update",
        "rel",
        "charts/hello",
        "--version=",
        "--insecure-skip-tls-verify",
        "--namespace=prod",
        "--set",
        "a.key=2",
        "--set",
        "z.key=1",
        "-f",
        "values.yaml",
        "-f",
        "https://example.com/v.yaml",
        "--set-file",
        "afile=a.txt",
        "--set-file",
        "zfile=z.txt",
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--api-versions",
        "batch/v1",
        "--kube-version",
        "1.29.0",
      ],
    );
    // A local chart has no --version; nothing optional is emitted when unset.
    assert.deepEqual(
      helmTemplateArgs({ releaseName: "web", chart: "/c", namespace: "", options: OPTIONS }),
      ["template", "--no-hooks", "--include-crds", "--dependency-update", "web", "/c"],
    );
  });

  it("renders a local chart with valueFiles, setValues and setFiles as helm prints it", async () => {
    const helmOptions: HelmOptions = {
      ...OPTIONS,
      valueFiles: ["values-prod.yaml"],
      setValues: { color: "red" },
      setFiles: { motd: "motd.txt" },
    };
    const req = request({
      namespace: "prod",
      helmChart: { ...CHART, path: "../../charts/hello" },
      helmOptions,
    });
    const [out, ...rest] = await renderer().render(req);
    assert.equal(rest.length, 0);
    assert.ok(out);
    const data = configOf(out.text);
    assert.deepEqual(data, {
      greeting: "hi from prod",
      color: "red",
      chartVersion: "0.1.0",
      motd: "have a nice day",
    });
    const names = docs(out.text).map((d) => `${d.kind}/${d.metadata.name}`);
    // The release is the app name; --no-hooks drops the hook; --include-crds keeps the CRD.
    assert.deepEqual(names.sort(), [
      "ConfigMap/web-config",
      "CustomResourceDefinition/widgets.example.com",
    ]);
    assert.equal(docs(out.text).find((d) => d.kind === "ConfigMap")?.metadata.namespace, "prod");

    const direct = await runCommand(
      helmBin,
      [
        "template",
        "--no-hooks",
        "--include-crds",
        "--dependency-update",
        "web",
        "../../charts/hello",
        "--namespace=prod",
        "--set",
        "color=red",
        "-f",
        "values-prod.yaml",
        "--set-file",
        "motd=motd.txt",
      ],
      { cwd: appDir, env: { ...process.env, HELM_CONFIG_HOME: join(work, "direct") } },
    );
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(out.text, direct.stdout);
    assert.ok(
      req.notes.some((n) => n.startsWith("helm v4.")),
      req.notes.join("\n"),
    );
  });

  it("renders a chart from an HTTP repository that needs basic auth", async () => {
    requests.length = 0;
    const req = request({
      helmChart: { ...CHART, repository: "charts", name: "hello", version: "0.1.0" },
      helmOptions: { ...OPTIONS, releaseName: "custom" },
    });
    const [out] = await renderer().render(req);
    assert.equal(configOf(out?.text ?? "").chartVersion, "0.1.0");
    assert.equal(docs(out?.text ?? "")[0]?.metadata.name, "widgets.example.com");
    assert.ok(docs(out?.text ?? "").some((d) => d.metadata.name === "custom-config"));
    // helm downloaded the chart itself, with the repository's credentials.
    assert.ok(
      requests.some((r) => r.url.endsWith(".tgz") && r.authorized),
      JSON.stringify(requests),
    );
    assert.ok(!req.notes.join("\n").includes(PASSWORD));
  });

  it("refuses a chart repository whose password is wrong, with helm's message", async () => {
    const bad = { ...repositories[0]!, name: "wrong", password: "not-the-password" };
    const err = await failure(
      renderer({ repos: [bad] }).setupRepositories(new AbortController().signal),
    );
    assert.ok(err instanceof InvalidArgumentError);
    assert.match(err.message, /^unable to add chart repository wrong: /);
    assert.match(err.message, /401/);
    assert.ok(!err.message.includes("not-the-password"));
  });

  it("finds a version published after start by running helm repo update once", async () => {
    await publish("0.2.0");
    const req = request({
      helmChart: { ...CHART, repository: "charts", name: "hello", version: "0.2.0" },
    });
    const [out] = await renderer().render(req);
    assert.equal(configOf(out?.text ?? "").chartVersion, "0.2.0");
    assert.ok(
      req.notes.some((n) => n.includes("helm repo update")),
      `expected a retry note: ${req.notes.join("\n")}`,
    );
  });

  it("renders a chart from a git remote at a ref, fetching the cached mirror later", async () => {
    const before = new Set(
      (await readdir(tmpdir())).filter((f) => f.startsWith("helm-remote-chart-")),
    );
    const chart = { ...CHART, gitRemote: `file://${bare}`, ref: "release", path: "charts/hello" };
    const r1 = await renderer().render(request({ helmChart: chart }));
    assert.equal(configOf(r1[0]?.text ?? "").chartVersion, "0.3.0");
    const mirrors = await readdir(join(cacheDir, "git"));
    assert.equal(mirrors.filter((m) => m.endsWith(".git")).length, 1, mirrors.join(","));

    // A new commit on the ref is picked up by `git fetch` in the mirror.
    await git(gitSrc, "checkout", "-q", "release");
    await writeChart(join(gitSrc, "charts", "hello"), "0.3.1");
    await git(gitSrc, "commit", "-qam", "hello 0.3.1");
    await git(gitSrc, "push", "-q", bare, "release");
    await git(gitSrc, "checkout", "-q", "main");
    const r2 = await renderer().render(request({ helmChart: chart }));
    assert.equal(configOf(r2[0]?.text ?? "").chartVersion, "0.3.1");
    assert.deepEqual(await readdir(join(cacheDir, "git")), mirrors);

    // Without a ref: the remote's default branch.
    const r3 = await renderer().render(request({ helmChart: { ...chart, ref: "" } }));
    assert.equal(configOf(r3[0]?.text ?? "").chartVersion, "0.1.0");
    const left = (await readdir(tmpdir())).filter(
      (f) => f.startsWith("helm-remote-chart-") && !before.has(f),
    );
    assert.deepEqual(left, [], "temp checkouts are removed");
  });

  it("refuses a missing chart with helm's message", async () => {
    const err = await failure(
      renderer().render(request({ helmChart: { ...CHART, path: "../../charts/nope" } })),
    );
    assert.ok(err instanceof InvalidArgumentError);
    const direct = await runCommand(helmBin, ["template", "web", join(repoDir, "charts", "nope")]);
    assert.notEqual(direct.code, 0);
    assert.equal(err.message, `unable to run helm template: ${direct.stderr.trim()}`);

    const missing = await failure(
      renderer().render(
        request({ helmChart: { ...CHART, repository: "charts", name: "nope", version: "" } }),
      ),
    );
    assert.ok(missing instanceof InvalidArgumentError);
    assert.match(missing.message, /^unable to run helm template: .*nope.*not found/s);
  });

  it("refuses a chart whose template fails, with helm's message", async () => {
    const err = await failure(
      renderer().render(
        request({
          helmChart: { ...CHART, path: "../../charts/hello" },
          helmOptions: { ...OPTIONS, setValues: { boom: "true" } },
        }),
      ),
    );
    assert.ok(err instanceof InvalidArgumentError);
    const direct = await runCommand(
      helmBin,
      ["template", "web", "../../charts/hello", "--set", "boom=true"],
      { cwd: appDir },
    );
    assert.match(direct.stderr, /boom/);
    assert.equal(err.message, `unable to run helm template: ${direct.stderr.trim()}`);
  });

  it("refuses a chart from an unreachable repository, with helm's message", async () => {
    const err = await failure(
      renderer().render(
        request({
          helmChart: {
            ...CHART,
            repository: `oci://127.0.0.1:${closedPort}/charts`,
            name: "hello",
            version: "0.1.0",
          },
        }),
      ),
    );
    assert.ok(err instanceof InvalidArgumentError);
    assert.match(err.message, /^unable to run helm template: Error: .*connection refused/s);

    const unknown = await failure(
      renderer().render(
        request({ helmChart: { ...CHART, repository: "elsewhere", name: "hello" } }),
      ),
    );
    assert.match(unknown.message, /chart repository elsewhere is not one of the piped's/);
  });

  it("refuses value files, setFiles and charts outside the repository before helm runs", async () => {
    // A helm that cannot start: reaching it would fail differently.
    const noHelm = new HelmRenderer({
      toolbox: new Toolbox({ helm: "/nonexistent/helm", kubectl: "/nonexistent/kubectl" }),
      chartRepositories: [],
      chartRegistries: [],
      cacheDir,
    });
    const chart = { ...CHART, path: "../../charts/hello" };
    const cases: Array<[Partial<HelmOptions>, HelmChart, RegExp]> = [
      [
        { valueFiles: ["../../../etc/passwd"] },
        chart,
        /^values file \.\.\/\.\.\/\.\.\/etc\/passwd references outside the repository/,
      ],
      [{ valueFiles: ["/etc/passwd"] }, chart, /^values file \/etc\/passwd references outside/],
      [{ valueFiles: ["passwd.yaml"] }, chart, /^values file passwd\.yaml references outside/],
      [{ valueFiles: ["../../../repo-evil/values.yaml"] }, chart, /references outside/],
      [{ valueFiles: ["a.yaml,/etc/passwd"] }, chart, /contains ','/],
      [
        { valueFiles: ["ftp://example.com/values.yaml"] },
        chart,
        /^scheme ftp is not allowed to load values file$/,
      ],
      [
        { setFiles: { motd: "../../../etc/passwd" } },
        chart,
        /^setFiles file .* references outside/,
      ],
      [
        {},
        { ...CHART, path: "../../../repo-evil" },
        /^chart path \.\.\/\.\.\/\.\.\/repo-evil references outside/,
      ],
    ];
    for (const [options, helmChart, want] of cases) {
      const err = await failure(
        noHelm.render(request({ helmChart, helmOptions: { ...OPTIONS, ...options } })),
      );
      assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(options)}: ${err.message}`);
      assert.match(err.message, want);
    }
  });

  it("kills helm when its deadline passes, and says so", async () => {
    const n = hanging.length;
    const err = await failure(
      renderer({ timeoutMs: 500 }).render(
        request({
          helmChart: { ...CHART, path: "../../charts/hello" },
          helmOptions: { ...OPTIONS, valueFiles: [`http://127.0.0.1:${port}/hang/values.yaml`] },
        }),
      ),
    );
    assert.equal(err.code, "DEADLINE_EXCEEDED");
    assert.equal(err.message, "helm template timed out after 0.5 s");
    assert.equal(hanging.length, n + 1, "helm was waiting for the values file");
    await eventually(async () => hanging[n]?.closed, 5_000, "helm's connection to close");
  });

  it("kills helm when the render is aborted, and says so", async () => {
    const n = hanging.length;
    const ac = new AbortController();
    const pending = failure(
      renderer().render(
        request(
          {
            helmChart: { ...CHART, path: "../../charts/hello" },
            helmOptions: { ...OPTIONS, valueFiles: [`http://127.0.0.1:${port}/hang/values.yaml`] },
          },
          { signal: ac.signal },
        ),
      ),
    );
    await eventually(async () => hanging.length > n, 10_000, "helm to ask for the values file");
    ac.abort(new Error("deployment cancelled"));
    const err = await pending;
    assert.equal(err.code, "CANCELLED");
    assert.equal(err.message, "helm template was stopped: deployment cancelled");
    await eventually(async () => hanging[n]?.closed, 5_000, "helm's connection to close");
  });

  it("uses a pinned helm from the tools dir, and says when the version is not installed", async () => {
    const toolsDir = join(work, "tools");
    await mkdir(toolsDir, { recursive: true });
    const marker = join(work, "pinned-ran");
    await writeFile(
      join(toolsDir, "helm-3.99.0"),
      `#!/bin/sh\necho "$1" >> ${marker}\nexec ${helmBin} "$@"\n`,
    );
    await chmod(join(toolsDir, "helm-3.99.0"), 0o755);
    const tb = new Toolbox({ helm: helmBin, kubectl: "/nonexistent/kubectl", toolsDir });
    const r = new HelmRenderer({
      toolbox: tb,
      chartRepositories: [],
      chartRegistries: [],
      cacheDir,
    });
    const chart = { ...CHART, path: "../../charts/hello" };

    const pinned = request({ helmVersion: "3.99.0", helmChart: chart });
    await r.render(pinned);
    assert.deepEqual((await readFile(marker, "utf8")).trim().split("\n"), ["version", "template"]);
    assert.ok(!pinned.notes.some((n) => n.includes("not installed")), pinned.notes.join("\n"));

    const missing = request({ helmVersion: "3.8.2", helmChart: chart });
    await r.render(missing);
    assert.ok(
      missing.notes.some(
        (n) =>
          n.startsWith(
            `helmVersion 3.8.2 is not installed in ${toolsDir} (put a helm-3.8.2 binary`,
          ) && /rendering with helm v4\.1\.4/.test(n),
      ),
      missing.notes.join("\n"),
    );
    const bad = await failure(r.render(request({ helmVersion: "../../bin/sh", helmChart: chart })));
    assert.ok(bad instanceof InvalidArgumentError);
  });
});
