import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { eventually, kubectl, runCommand, startStack, type Stack } from "@pipecd-ts/testkit";
import { ARTIFACTS, browserSession, buildWebUi, type BrowserSession } from "./browser.js";

// The application page and adding an application (issue 19 part 3) in real Chromium against the real product: bin/kube-sim,
// bin/pipecd-server, bin/piped and a Git repository, with the real kubectl changing the cluster
// behind the system's back. The page must follow the piped's live-state and sync-state reports
// over the event stream, without a reload. Given / when / then.

const APP = "web";

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${APP}
  labels: { app: ${APP} }
spec:
  replicas: 2
  selector:
    matchLabels: { app: ${APP} }
  template:
    metadata:
      labels: { app: ${APP} }
    spec:
      containers:
        - name: web
          image: ghcr.io/pipe-cd/helloworld:v0.1.0
          ports: [{ containerPort: 9085 }]
`;

const service = `apiVersion: v1
kind: Service
metadata: { name: ${APP} }
spec:
  selector: { app: ${APP} }
  ports: [{ name: http, port: 9085, targetPort: 9085 }]
`;

const appConfig = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: ${APP}
`;

/** A second app, committed while the "Add application" form is open: offered, valid. */
const extraDeployment = deployment.replaceAll(APP, "extra");
const extraConfig = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: extra-app
  labels: { tier: web, team: growth }
  description: the extra one
`;
/** Offered with the loader's message, never selectable: a stage no executor has. */
const brokenConfig = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: broken
  pipeline: { stages: [{ name: NOPE }] }
`;

/** One row of the page's resource tree as the user sees it. */
interface TreeRow {
  level: string;
  kind: string;
  name: string;
  health: string;
  description: string;
}

/** What the test reads of a row element (this package's TypeScript has no DOM types). */
interface RowElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): { textContent: string | null } | null;
}

/** The rows of the page's live resource tree, top to bottom. */
const treeRows = (page: Page): Promise<TreeRow[]> =>
  page
    .getByRole("treegrid", { name: "live resources" })
    .locator("tbody tr")
    .evaluateAll((rows: RowElement[]) =>
      rows.map((r) => ({
        level: r.getAttribute("aria-level") ?? "",
        kind: r.getAttribute("data-kind") ?? "",
        name: r.getAttribute("data-name") ?? "",
        health: r.getAttribute("data-health") ?? "",
        description: r.querySelector(".health-description")?.textContent ?? "",
      })),
    );

describe("the application page in Chromium", () => {
  let s: Stack;
  let kubectlBin = "";
  let appId = "";
  /** An application of a piped that never runs: it never has a live state. */
  let ghostAppId = "";
  let chrome: BrowserSession;
  let admin: Page;

  const kc = async (...args: string[]): Promise<string> => {
    const r = await runCommand(kubectlBin, ["--kubeconfig", s.sim.kubeconfigPath, ...args], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  /** Polls the page's tree (no reload) until `ok` holds; fails naming `what` and the rows seen. */
  const waitTree = async (
    page: Page,
    ok: (rows: TreeRow[]) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<TreeRow[]> => {
    let rows: TreeRow[] = [];
    return eventually(
      async () => {
        rows = await treeRows(page);
        return ok(rows) && rows;
      },
      timeoutMs,
      what,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; the tree shows ${JSON.stringify(rows)}`);
    });
  };
  const samePage = async (page: Page): Promise<void> =>
    assert.equal(
      await page.evaluate("window.uiMark"),
      "same-document",
      "the page was never reloaded",
    );

  before(async () => {
    chrome = browserSession({
      httpUrl: () => s.httpUrl,
      // The one failed request the page makes by design: the live state of an app its piped
      // has not reported yet answers 404 (the page then shows its empty state): the ghost app,
      // and the app added from the UI until its first deployment.
      expected: (text, url) => {
        const m = /^\/api\/v1\/applications\/([^/]+)\/live-state$/.exec(
          url.startsWith(s.httpUrl) ? url.slice(s.httpUrl.length) : "",
        );
        return /status of 404/.test(text) && m !== null && m[1] !== appId;
      },
    });
    await buildWebUi();
    [s, kubectlBin] = await Promise.all([
      startStack({
        syncInterval: "1s",
        users: [
          { username: "admin", role: "admin" },
          { username: "dev", role: "editor" },
          { username: "watcher", role: "viewer" },
        ],
      }),
      kubectl(),
    ]);
    await s.startPiped();
    await s.repo.commit(
      {
        [`apps/${APP}/deployment.yaml`]: deployment,
        [`apps/${APP}/service.yaml`]: service,
        [`apps/${APP}/app.pipecd.yaml`]: appConfig,
      },
      `add ${APP}`,
    );
    appId = await s.addApp(APP, `apps/${APP}`);
    await s.admin.call("updateApplication", {
      params: { id: appId },
      body: { labels: { team: "payments" } },
    });
    const ghost = await s.admin.call("registerPiped", { body: { name: "ghost" } });
    ghostAppId = await s.addApp("ghost-app", "apps/ghost", ghost.id);
    await s.waitDeployment(appId, (d) => d.status === "DEPLOYMENT_SUCCESS", 30_000, "quick sync");
    // Opened after the piped's first report, so the page of this app never sees a 404.
    await s.eventually(
      async () => {
        const l = await s.admin
          .call("getApplicationLiveState", { params: { id: appId } })
          .then((r) => r.liveState)
          .catch(() => undefined); // 404 until the piped has reported
        const pods = (l?.kubernetesResources ?? []).filter((r) => r.kind === "Pod");
        return pods.length === 2;
      },
      15_000,
      "the live state with two pods",
    );
    await chrome.ready();
  });
  after(async () => {
    await chrome?.close();
    await s?.close();
  });

  it("the list links to the page, which shows the synced app, its tree Deployment → ReplicaSet → Pods all HEALTHY, its pipeline and its history", async () => {
    admin = await chrome.newPage();
    await chrome.signIn(admin, "admin", "admin-secret");
    const row = admin.locator(`tr[data-app="${APP}"]`);
    await row.getByRole("link", { name: APP, exact: true }).click();
    await admin.getByRole("heading", { name: APP, exact: true }).waitFor();
    assert.equal(new URL(admin.url()).pathname, `/applications/${appId}`);
    // Marks this document: a reload or a full navigation would lose the mark.
    await admin.evaluate('window.uiMark = "same-document"');

    await admin.locator('[data-testid="app-sync"] [data-status="SYNCED"]').waitFor({
      timeout: 15_000,
    });
    const rows = await waitTree(
      admin,
      (r) => r.length === 5 && r.every((x) => x.health === "HEALTHY"),
      10_000,
      "five HEALTHY resources",
    );
    assert.deepEqual(
      rows.map((r) => [r.level, r.kind]),
      [
        ["1", "Deployment"],
        ["2", "ReplicaSet"],
        ["3", "Pod"],
        ["3", "Pod"],
        ["1", "Service"],
      ],
      "Deployment → ReplicaSet → two Pods, and the Service, by depth",
    );
    assert.equal(rows[0]?.name, APP);
    assert.match(rows[1]?.name ?? "", new RegExp(`^${APP}-`));
    assert.match(rows[0]?.description ?? "", /All 2 replicas are updated and available/);
    assert.match(rows[2]?.description ?? "", /Running/);
    await admin.locator('[data-testid="app-health"] [data-status="HEALTHY"]').waitFor();
    assert.equal(await admin.getByTestId("app-piped").textContent(), "test-piped");
    await admin.locator(".facts .tag", { hasText: "team=payments" }).waitFor();
    await admin.getByTestId("quick-sync-only").waitFor();
    assert.equal(await admin.getByRole("figure", { name: "drift diff" }).count(), 0);

    const history = admin.getByRole("region", { name: "deployment history" });
    const deployments = await s.deployments(appId);
    assert.equal(deployments.length, 1);
    const first = history.locator(`tr[data-deployment="${deployments[0]?.id ?? ""}"]`);
    await first.locator('[data-status="DEPLOYMENT_SUCCESS"]').waitFor();
    await first.getByText("ON_COMMIT").waitFor();
    assert.equal(
      await first.getByRole("link").getAttribute("href"),
      `/deployments/${deployments[0]?.id ?? ""}`,
    );
    chrome.noConsoleErrors();
  });

  let pendingPod = "";

  it("a pod that never becomes ready appears live as OTHER, then UNHEALTHY with CrashLoopBackOff, without a reload", async () => {
    // kube-sim: a new ReplicaSet for the changed template, whose pods stay Pending.
    await kc(
      "patch",
      "deployment",
      APP,
      "-p",
      '{"spec":{"template":{"metadata":{"annotations":{"kube-sim.pipecd.dev/never-ready":"true"}}}}}',
    );
    const rows = await waitTree(
      admin,
      (r) => r.some((x) => x.kind === "Pod" && x.health === "OTHER"),
      15_000,
      "a pod that is not HEALTHY",
    );
    const pending = rows.find((x) => x.kind === "Pod" && x.health === "OTHER");
    pendingPod = pending?.name ?? "";
    assert.match(pending?.description ?? "", /Pending/);
    assert.equal(rows.filter((x) => x.kind === "ReplicaSet").length, 2, "a second ReplicaSet");
    assert.equal(
      rows.filter((x) => x.kind === "Pod" && x.health === "HEALTHY").length,
      2,
      "the old pods stay (maxUnavailable 0 of 2)",
    );
    await samePage(admin);
    chrome.noConsoleErrors();

    // The container crash-loops (as the kubelet would report it).
    await kc(
      "patch",
      "pod",
      pendingPod,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          containerStatuses: [
            {
              name: "web",
              ready: false,
              restartCount: 4,
              image: "x",
              imageID: "",
              state: {
                waiting: {
                  reason: "CrashLoopBackOff",
                  message: "back-off 40s restarting failed container",
                },
              },
            },
          ],
        },
      }),
    );
    const after = await waitTree(
      admin,
      (r) => r.some((x) => x.name === pendingPod && x.health === "UNHEALTHY"),
      15_000,
      `${pendingPod} UNHEALTHY`,
    );
    const crashed = after.find((x) => x.name === pendingPod);
    assert.match(crashed?.description ?? "", /CrashLoopBackOff: back-off 40s/);
    assert.match(crashed?.description ?? "", /restarted 4 times/);
    await admin
      .locator('[data-testid="app-health"]')
      .filter({ hasText: "CrashLoopBackOff" })
      .locator('[data-status="UNHEALTHY"]')
      .waitFor({ timeout: 10_000 });
    await samePage(admin);
    chrome.noConsoleErrors();
  });

  it("a healthy pod deleted by hand leaves the tree: a change only the live-state events carry", async () => {
    // The app stays SYNCED and UNHEALTHY for the same crashed pod: no "application" event, so
    // only the live-state event can refresh the tree.
    const healthy = (await treeRows(admin)).filter(
      (x) => x.kind === "Pod" && x.health === "HEALTHY",
    );
    assert.equal(healthy.length, 2);
    const victim = healthy[0]?.name ?? "";
    await kc("delete", "pod", victim, "--wait=false");
    await waitTree(
      admin,
      (r) => r.length > 0 && !r.some((x) => x.name === victim),
      10_000,
      `${victim} gone from the tree`,
    );
    await admin.locator('[data-testid="app-sync"] [data-status="SYNCED"]').waitFor();
    await samePage(admin);
    chrome.noConsoleErrors();
  });

  it("kubectl scale turns the app OUT_OF_SYNC and the page shows the drift diff naming replicas, without a reload", async () => {
    await kc("scale", "deployment", APP, "--replicas=3");
    await admin.locator('[data-testid="app-sync"] [data-status="OUT_OF_SYNC"]').waitFor({
      timeout: 10_000,
    });
    await admin
      .getByTestId("app-sync")
      .getByText("There are 1 manifests not synced (0 adds, 0 deletes, 1 changes)")
      .waitFor();
    const diff = admin.getByRole("figure", { name: "drift diff" });
    await diff.waitFor();
    assert.match(
      (await diff.textContent()) ?? "",
      /Diff between the defined state in Git at commit [0-9a-f]{7}/,
    );
    await diff.locator(".diff-del", { hasText: /^-\s+replicas: 3$/ }).waitFor();
    await diff.locator(".diff-add", { hasText: /^\+\s+replicas: 2$/ }).waitFor();
    await diff.locator(".diff-manifest", { hasText: 'kind="Deployment"' }).waitFor();
    await diff.locator(".diff-path", { hasText: "#spec.replicas" }).waitFor();
    // The tree follows the scale too: a third pod of the never-ready ReplicaSet.
    await waitTree(
      admin,
      (r) => r.filter((x) => x.kind === "Pod" && x.health !== "HEALTHY").length === 3,
      10_000,
      "three pods that are not ready",
    );
    await samePage(admin);
    await admin.screenshot({ path: join(ARTIFACTS, "app-page.png"), fullPage: true });
    chrome.noConsoleErrors();
  });

  it("the list shows the app's sync status and health, and its filters hide it", async () => {
    await admin
      .getByRole("navigation", { name: "main" })
      .getByRole("link", { name: "Applications" })
      .click();
    const row = admin.locator(`tr[data-app="${APP}"]`);
    await row.locator('[data-status="OUT_OF_SYNC"]').waitFor();
    await row.locator('[data-status="UNHEALTHY"]').waitFor();
    await admin.locator('tr[data-app="ghost-app"] [data-status="UNKNOWN"]').first().waitFor();

    const sync = admin.getByLabel("Sync status");
    const health = admin.getByLabel("Health");
    await sync.selectOption("SYNCED");
    await admin.getByText("No application matches these filters.").waitFor();
    assert.equal(await row.count(), 0, "filtering for SYNCED hides the app");
    await sync.selectOption("OUT_OF_SYNC");
    await row.waitFor();
    assert.equal(await admin.locator('tr[data-app="ghost-app"]').count(), 0);
    await health.selectOption("HEALTHY");
    await row.waitFor({ state: "detached" });
    await health.selectOption("UNHEALTHY");
    await row.waitFor();
    assert.match(admin.url(), /sync=OUT_OF_SYNC/, "filters live in the URL");
    await sync.selectOption("");
    await health.selectOption("");
    await admin.locator('tr[data-app="ghost-app"]').waitFor();
    await samePage(admin);
    chrome.noConsoleErrors();
  });

  it("Sync is accepted and its deployment shows up live; a viewer sees neither Sync nor Cancel; Cancel stops it", async () => {
    await admin
      .locator(`tr[data-app="${APP}"]`)
      .getByRole("link", { name: APP, exact: true })
      .click();
    await admin.getByRole("heading", { name: APP, exact: true }).waitFor();
    await admin.getByRole("button", { name: "Sync" }).click();
    const dialog = admin.getByRole("dialog");
    await dialog.getByText(`Deploy ${APP} from the head of its Git branch now?`).waitFor();
    await dialog.getByRole("button", { name: "Sync" }).click();
    await dialog.waitFor({ state: "hidden" });
    const notice = admin.getByTestId("sync-notice");
    assert.match((await notice.textContent()) ?? "", /^Sync accepted \(command [^)]+\)/);
    await notice.filter({ hasText: "succeeded" }).waitFor({ timeout: 10_000 });
    // The quick sync waits for pods that never become ready: it keeps running.
    const history = admin.getByRole("region", { name: "deployment history" });
    const running = history.locator('tr[data-status="DEPLOYMENT_RUNNING"]');
    await running.waitFor({ timeout: 15_000 });
    await running.getByText("ON_COMMAND").waitFor();
    await admin.locator('[data-testid="app-sync"] [data-status="DEPLOYING"]').waitFor();
    const id = (await running.getAttribute("data-deployment")) ?? "";
    chrome.noConsoleErrors();

    const viewer = await chrome.newPage();
    await chrome.signIn(viewer, "watcher", "watcher-secret");
    await viewer.goto(`${s.httpUrl}/applications/${appId}`);
    await viewer
      .getByRole("region", { name: "deployment history" })
      .locator(`tr[data-deployment="${id}"][data-status="DEPLOYMENT_RUNNING"]`)
      .waitFor();
    await viewer.getByRole("treegrid", { name: "live resources" }).waitFor();
    for (const name of ["Sync", "Cancel"])
      assert.equal(await viewer.getByRole("button", { name }).count(), 0, `no ${name} button`);
    chrome.noConsoleErrors();

    await running.getByRole("button", { name: "Cancel" }).click();
    await dialog.getByText("Cancel this deployment and roll back").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    await admin.getByText(/^Cancel requested \(command [^)]+\); it rolls back\.$/).waitFor();
    // It leaves RUNNING: rolling back (to the same never-ready template) or cancelled.
    await history
      .locator(
        `tr[data-deployment="${id}"]:is([data-status="DEPLOYMENT_ROLLING_BACK"], [data-status="DEPLOYMENT_CANCELLED"])`,
      )
      .waitFor({ timeout: 15_000 });
    await samePage(admin);
    chrome.noConsoleErrors();
  });

  it("an application its piped has not reported yet shows a clear empty state", async () => {
    await admin.goto(`${s.httpUrl}/applications/${ghostAppId}`);
    await admin.getByRole("heading", { name: "ghost-app", exact: true }).waitFor();
    const live = admin.getByRole("region", { name: "live state" });
    await live.getByText("No live state yet: the piped ghost reports what runs").waitFor();
    assert.equal(await admin.getByRole("treegrid").count(), 0);
    await admin
      .getByRole("region", { name: "deployment history" })
      .getByText("Not deployed yet")
      .waitFor();
    await admin.locator('[data-testid="app-sync"] [data-status="UNKNOWN"]').waitFor();
    chrome.noConsoleErrors();
  });
  it("an editor adds an application from the configs its piped found: invalid ones show the loader's message and cannot be chosen, a typed path without a config is refused, and the saved app deploys", async () => {
    const editor = await chrome.newPage();
    await chrome.signIn(editor, "dev", "dev-secret");
    await editor.evaluate('window.uiMark = "same-document"');
    await editor.getByRole("button", { name: "Add application" }).click();
    const dialog = editor.getByRole("dialog", { name: "add an application" });
    const save = dialog.getByRole("button", { name: "Save" });
    await dialog.getByRole("combobox", { name: /^Piped/ }).selectOption(s.pipedId);
    // The only config of the repository is used by an application: nothing is offered yet.
    await dialog.getByText("test-piped reports no app config that no application uses").waitFor();
    assert.equal(await save.isDisabled(), true, "nothing to save before a config is chosen");

    // Given two new configs in Git, the open form lists them live, read by the piped.
    await s.repo.commit(
      {
        "extra/deployment.yaml": extraDeployment,
        "extra/app.pipecd.yaml": extraConfig,
        "broken/app.pipecd.yaml": brokenConfig,
      },
      "add extra and broken",
    );
    const found = dialog.getByRole("group", { name: "App configs test-piped found" });
    const extraRow = found.locator('tr[data-config="extra/app.pipecd.yaml"]');
    const brokenRow = found.locator('tr[data-config="broken/app.pipecd.yaml"]');
    await extraRow.waitFor({ timeout: 15_000 });
    await brokenRow.waitFor();
    await samePage(editor);
    const extraRadio = found.getByRole("radio", { name: "repo:extra/app.pipecd.yaml" });
    const brokenRadio = found.getByRole("radio", { name: "repo:broken/app.pipecd.yaml" });
    assert.equal(await extraRadio.isEnabled(), true, "the valid config is selectable");
    await extraRow.getByText("extra-app", { exact: true }).waitFor();
    for (const tag of ["team=growth", "tier=web"])
      await extraRow.locator(".tag", { hasText: tag }).waitFor();
    assert.equal(await brokenRadio.isDisabled(), true, "the invalid config cannot be chosen");
    assert.match(
      (await brokenRow.locator(".config-error").textContent()) ?? "",
      /^Invalid: [^]*broken\/app\.pipecd\.yaml:5: spec\.pipeline\.stages\[0\]\.name: unsupported stage name "NOPE"/,
      "the loader's message names the field",
    );
    await brokenRadio.click({ force: true });
    assert.equal(await brokenRadio.isChecked(), false);
    assert.equal(await save.isDisabled(), true);

    // When a location is typed by hand, only a found valid config is accepted.
    const byHand = dialog.getByRole("form", { name: "location by hand" });
    const alert = dialog.getByRole("alert");
    await byHand.getByLabel("Repository").fill("repo");
    await byHand.getByLabel("Path").fill("nowhere");
    await byHand.getByRole("button", { name: "Use this location" }).click();
    await alert
      .filter({
        hasText:
          /^no app config at nowhere in repo: the piped reports the configs it finds in its repositories$/,
      })
      .waitFor();
    assert.equal(await save.isDisabled(), true, "a path without a config is not saved");
    await byHand.getByLabel("Path").fill("broken");
    await byHand.getByRole("button", { name: "Use this location" }).click();
    await alert
      .filter({
        hasText:
          /broken\/app\.pipecd\.yaml in repo is invalid: [^]*spec\.pipeline\.stages\[0\]\.name/,
      })
      .waitFor();
    assert.equal(await save.isDisabled(), true, "an invalid config is not saved");
    await byHand.getByLabel("Path").fill("./extra/");
    await byHand.getByRole("button", { name: "Use this location" }).click();
    await alert.waitFor({ state: "detached" });
    assert.equal(await extraRadio.isChecked(), true, "the typed path chose the found config");

    // Then name, labels and description come from the config's spec, editable.
    const details = dialog.getByRole("form", { name: "new application" });
    assert.equal(await details.getByLabel("Name").inputValue(), "extra-app");
    assert.equal(await details.getByLabel("Labels").inputValue(), "team=growth\ntier=web");
    assert.equal(await details.getByLabel("Description").inputValue(), "the extra one");
    await details.getByLabel("Description").fill("added from the UI");
    await editor.screenshot({ path: join(ARTIFACTS, "add-application.png"), fullPage: true });
    await save.click();

    // Saved: the new application's page, which its first deployment reaches.
    await editor.getByRole("heading", { name: "extra-app", exact: true }).waitFor();
    const id = decodeURIComponent(new URL(editor.url()).pathname.split("/")[2] ?? "");
    assert.equal(new URL(editor.url()).pathname, `/applications/${id}`);
    await samePage(editor);
    const { application } = await s.admin.call("getApplication", { params: { id } });
    assert.deepEqual(
      [
        application.name,
        application.pipedId,
        application.gitPath?.repo?.id,
        application.gitPath?.path,
        application.gitPath?.configFilename,
        application.labels,
        application.description,
      ],
      [
        "extra-app",
        s.pipedId,
        "repo",
        "extra",
        "app.pipecd.yaml",
        { team: "growth", tier: "web" },
        "added from the UI",
      ],
    );
    await editor
      .getByRole("region", { name: "deployment history" })
      .locator('tr[data-status="DEPLOYMENT_SUCCESS"]')
      .waitFor({ timeout: 30_000 });
    await editor.locator('[data-testid="app-sync"] [data-status="SYNCED"]').waitFor({
      timeout: 15_000,
    });

    // The list shows it, and the form no longer offers its config.
    await editor
      .getByRole("navigation", { name: "main" })
      .getByRole("link", { name: "Applications" })
      .click();
    await editor.locator('tr[data-app="extra-app"]').waitFor();
    await editor.getByRole("button", { name: "Add application" }).click();
    await dialog.getByRole("combobox", { name: /^Piped/ }).selectOption(s.pipedId);
    await brokenRow.waitFor();
    await extraRow.waitFor({ state: "detached", timeout: 15_000 });
    await samePage(editor);
    chrome.noConsoleErrors();

    const viewer = await chrome.newPage();
    await chrome.signIn(viewer, "watcher", "watcher-secret");
    await viewer.locator('tr[data-app="extra-app"]').waitFor();
    assert.equal(
      await viewer.getByRole("button", { name: "Add application" }).count(),
      0,
      "a viewer sees no Add application",
    );
    chrome.noConsoleErrors();
  });
});
