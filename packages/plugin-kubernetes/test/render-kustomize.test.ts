import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KubernetesDeploymentInput } from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { ensureK8sTools, runCommand } from "@pipecd-ts/testkit";
import {
  KustomizeRenderer,
  hasKustomization,
  kustomizeBuildArgs,
} from "../src/manifest/kustomize.js";
import type { RenderRequest } from "../src/manifest/render.js";
import { docs, failure, git, renderRequest } from "./render-shared.js";
import { Toolbox } from "../src/manifest/tools.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/render/kustomize/", import.meta.url));

describe("kustomize rendering", () => {
  let kubectl: string;
  let helm: string;
  let work: string;
  let repoDir: string;
  let bare: string;
  let toolbox: Toolbox;

  const request = (
    app: string,
    input: Partial<KubernetesDeploymentInput> = {},
  ): RenderRequest & { notes: string[] } => renderRequest(repoDir, join(repoDir, app), input);
  const kustomizeDirectly = async (
    dir: string,
    ...flags: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> =>
    runCommand(kubectl, ["kustomize", ".", ...flags], { cwd: join(repoDir, dir) });

  before(async () => {
    ({ kubectl, helm } = await ensureK8sTools());
    work = await mkdtemp(join(tmpdir(), "render-kustomize-"));
    repoDir = join(work, "repo");
    await cp(FIXTURES, repoDir, { recursive: true });

    // A base in another repository, served from a local bare repository.
    const src = join(work, "bases-src");
    bare = join(work, "bases.git");
    await cp(join(FIXTURES, "base"), join(src, "base"), { recursive: true });
    await git(work, "init", "-q", src);
    await git(src, "add", ".");
    await git(src, "commit", "-qm", "base");
    await git(work, "clone", "-q", "--bare", src, bare);
    await mkdir(join(repoDir, "remote"), { recursive: true });
    await writeFile(
      join(repoDir, "remote", "kustomization.yaml"),
      `resources:\n  - file://${bare}//base?ref=main\nnamePrefix: remote-\n`,
    );

    toolbox = new Toolbox({ helm, kubectl });
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("builds `kustomize build .` arguments with sorted options and kustomize 3 names hyphenated", () => {
    assert.deepEqual(
      kustomizeBuildArgs({
        subcommand: ["build"],
        options: { load_restrictor: "LoadRestrictionsNone", "enable-helm": "" },
        helmCommand: "/bin/helm",
        hyphenate: true,
      }),
      {
        args: [
          "build",
          ".",
          "--helm-command",
          "/bin/helm",
          "--enable-helm",
          "--load-restrictor",
          "LoadRestrictionsNone",
        ],
        renamed: [["load_restrictor", "load-restrictor"]],
      },
    );
    // A kustomize 3 binary keeps its own spelling.
    assert.deepEqual(
      kustomizeBuildArgs({
        subcommand: ["build"],
        options: { load_restrictor: "LoadRestrictionsNone" },
        hyphenate: false,
      }).args,
      ["build", ".", "--load_restrictor", "LoadRestrictionsNone"],
    );
    assert.throws(
      () =>
        kustomizeBuildArgs({
          subcommand: ["kustomize"],
          options: { output: "/etc/x" },
          hyphenate: true,
        }),
      /kustomizeOptions output is not allowed/,
    );
    assert.throws(
      () =>
        kustomizeBuildArgs({ subcommand: ["kustomize"], options: { "a=b": "" }, hyphenate: true }),
      /is not a flag name/,
    );
  });

  it("finds kustomization.yaml, kustomization.yml and Kustomization, and nothing else", async () => {
    const dir = join(work, "detect");
    for (const name of ["kustomization.yaml", "kustomization.yml", "Kustomization"]) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, name), "resources: []\n");
      assert.equal(await hasKustomization(dir), true, name);
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "deployment.yaml"), "kind: Deployment\n");
    assert.equal(await hasKustomization(dir), false);
  });

  it("renders an overlay over a base elsewhere in the repository, as kubectl prints it", async () => {
    const req = request("overlays/prod");
    const [out, ...rest] = await new KustomizeRenderer({ toolbox }).render(req);
    assert.equal(rest.length, 0);
    const deployments = docs(out?.text ?? "");
    assert.deepEqual(
      deployments.map((d) => [d.kind, d.metadata.name, d.spec?.replicas]),
      [["Deployment", "prod-web", 3]],
    );
    const direct = await kustomizeDirectly("overlays/prod", "--helm-command", helm);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(out?.text, direct.stdout);
    assert.equal(out?.source, "kubectl kustomize .");
    assert.ok(
      req.notes.some((n) => n.startsWith("kubectl kustomize (kustomize v5.")),
      req.notes.join("\n"),
    );
  });

  it("renders a remote git base from a bare repository (file://…/repo.git//base?ref=main)", async () => {
    const [out] = await new KustomizeRenderer({ toolbox }).render(request("remote"));
    assert.deepEqual(
      docs(out?.text ?? "").map((d) => [d.kind, d.metadata.name, d.spec?.replicas]),
      [["Deployment", "remote-web", 1]],
    );
  });

  it("passes kustomizeOptions as flags, translating kustomize 3 names and saying so", async () => {
    // Without the option kustomize refuses a file outside the kustomization's root.
    const refused = await failure(new KustomizeRenderer({ toolbox }).render(request("outside")));
    assert.match(refused.message, /is not in or below/);

    const req = request("outside", {
      kustomizeOptions: { load_restrictor: "LoadRestrictionsNone" },
    });
    const [out] = await new KustomizeRenderer({ toolbox }).render(req);
    assert.deepEqual(
      docs(out?.text ?? "").map((d) => [d.kind, d.metadata.name, d.data]),
      [["ConfigMap", "shared", { "app.properties": "mode=prod\n" }]],
    );
    assert.ok(
      req.notes.includes(
        "kustomizeOptions load_restrictor is the kustomize 3 spelling: passing --load-restrictor",
      ),
      req.notes.join("\n"),
    );
    assert.ok(req.notes.some((n) => n.endsWith("--load-restrictor LoadRestrictionsNone")));
  });

  it("refuses a broken kustomization with kustomize's message", async () => {
    const err = await failure(new KustomizeRenderer({ toolbox }).render(request("broken")));
    assert.ok(err instanceof InvalidArgumentError);
    const direct = await kustomizeDirectly("broken");
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /missing\.yaml/);
    assert.equal(err.message, `unable to run kustomize build: ${direct.stderr.trim()}`);
  });

  it("puts kustomize's error line before its deprecation warnings", async () => {
    await mkdir(join(repoDir, "warned"), { recursive: true });
    await writeFile(join(repoDir, "warned", "kustomization.yaml"), "bases: [../missing]\n");
    const direct = await kustomizeDirectly("warned");
    assert.match(direct.stderr, /^# Warning: 'bases' is deprecated/, "kustomize warns first");
    const err = await failure(new KustomizeRenderer({ toolbox }).render(request("warned")));
    assert.match(err.message, /^unable to run kustomize build: error: accumulating resources/);
    assert.match(err.message, /\n# Warning: 'bases' is deprecated/, "the warning is kept, after");
  });

  it("uses a pinned kustomize from the tools dir, and says when the version is not installed", async () => {
    const toolsDir = join(work, "tools");
    await mkdir(toolsDir, { recursive: true });
    const marker = join(work, "pinned-args");
    // A stand-in kustomize 5.99.0: `build . <flags>` is `kubectl kustomize . <flags>`.
    await writeFile(
      join(toolsDir, "kustomize-5.99.0"),
      "#!/bin/sh\n" +
        'if [ "$1" = version ]; then echo v5.99.0; exit 0; fi\n' +
        `echo "$@" > ${marker}\nshift\nexec ${kubectl} kustomize "$@"\n`,
    );
    await chmod(join(toolsDir, "kustomize-5.99.0"), 0o755);
    const tb = new Toolbox({ helm, kubectl, toolsDir });

    const pinned = request("overlays/prod", { kustomizeVersion: "5.99.0" });
    const [out] = await new KustomizeRenderer({ toolbox: tb }).render(pinned);
    assert.equal(docs(out?.text ?? "")[0]?.metadata.name, "prod-web");
    assert.equal(out?.source, "kustomize build .");
    assert.equal((await readFile(marker, "utf8")).trim(), `build . --helm-command ${helm}`);

    const missing = request("overlays/prod", { kustomizeVersion: "3.8.1" });
    await new KustomizeRenderer({ toolbox: tb }).render(missing);
    assert.ok(
      missing.notes.includes(
        `kustomizeVersion 3.8.1 is not installed in ${toolsDir} (put a kustomize-3.8.1 binary ` +
          "there to pin it); rendering with kubectl kustomize (kustomize v5.6.0)",
      ),
      missing.notes.join("\n"),
    );
  });
});
