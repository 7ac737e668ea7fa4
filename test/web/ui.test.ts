import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { eventually, type Stack } from "@pipecd-ts/testkit";
import { files, startSeedStack, waitingForApproval } from "../e2e/fixtures.js";
import { ARTIFACTS, browserSession, buildWebUi, type BrowserSession } from "./browser.js";

// The web UI in real Chromium against the real product (control plane + kube-sim + piped over
// processes) and the seed-shaped Istio canary that waits for approval with a 90/10 split.
// Screenshots of the details page go to test-artifacts/web/ (git-ignored).

type Waiting = { id: string; stageId: string };

/** A small Kubernetes app whose pipeline needs two named approvals, then waits 5 minutes. */
const WAIT_APP = "wait-app";
const waitAppFiles = (image: string): Record<string, string> => ({
  [`${WAIT_APP}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: ${WAIT_APP}
  pipeline:
    stages:
      - name: WAIT_APPROVAL
        with: { approvers: [reviewer, boss], minApproverNum: 2 }
      - name: WAIT
        with: { duration: 5m }
`,
  [`${WAIT_APP}/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${WAIT_APP}, labels: { app: ${WAIT_APP} } }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${WAIT_APP} } }
  template:
    metadata: { labels: { app: ${WAIT_APP} } }
    spec:
      containers: [{ name: api, image: "example/api:${image}" }]
`,
});

describe("web UI in Chromium", () => {
  let s: Stack;
  let appId = "";
  let chrome: BrowserSession;
  /**
   * Set while the test stops the control plane or ends a session on purpose: then Chromium's
   * network lines for API calls failing meanwhile (connection refused, 401 on the stream) and
   * its note that a 401 JSON answer is no event stream are expected. Nothing else is.
   */
  let outage = false;

  const newPage = (): Promise<Page> => chrome.newPage();
  const signIn = (page: Page, username: string, password: string, wrong = false) =>
    chrome.signIn(page, username, password, wrong);
  const noConsoleErrors = (): void => chrome.noConsoleErrors();

  /** Bumps the seed app's image and waits (over the API) until its approval stage runs. */
  const bumpUntilWaiting = async (image: string): Promise<Waiting> => {
    await s.repo.commit(files(image), `bump to ${image}`);
    const d = await s.waitDeployment(
      appId,
      waitingForApproval(`bump to ${image}`),
      90_000,
      `${image} waiting for approval`,
    );
    return {
      id: d.id ?? "",
      stageId: d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.id ?? "",
    };
  };

  before(async () => {
    // Chromium starts while the UI is built (the current sources) and the stack comes up.
    chrome = browserSession({
      httpUrl: () => s.httpUrl,
      expected: (text, url) =>
        outage &&
        ((url.startsWith(`${s.httpUrl}/api/v1/`) &&
          /Failed to load resource|net::ERR_/.test(text)) ||
          /EventSource's response has a MIME type/.test(text)),
    });
    await buildWebUi();
    ({ s, appId } = await startSeedStack(
      {
        users: [
          { username: "reviewer", role: "editor" },
          { username: "watcher", role: "viewer" },
          { username: "boss", role: "admin" },
        ],
        readyDelayMs: 200,
      },
      "v0.1.0",
    ));
    await chrome.ready();
  });
  after(async () => {
    await chrome?.close();
    await s?.close();
  });

  it("a wrong password is refused and no session is set", async () => {
    const page = await newPage();
    await signIn(page, "reviewer", "not-the-password", true);
    await page.getByRole("alert").filter({ hasText: "wrong username or password" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Sign in" }).count(), 1);
    assert.deepEqual(await page.context().cookies(), [], "no session cookie");
    noConsoleErrors();
  });

  let reviewer: Page;

  it("an editor opens the deployment waiting for approval, sees 90/10, approves, and watches it succeed without a reload", async () => {
    reviewer = await newPage();
    await signIn(reviewer, "reviewer", "reviewer-secret");
    await reviewer.getByTestId("who").filter({ hasText: "reviewer" }).waitFor();
    await reviewer.locator('tr[data-app="canary-app"]').waitFor();
    await reviewer.screenshot({ path: join(ARTIFACTS, "applications.png") });
    // Marks this document: a reload or a full navigation would lose the mark.
    await reviewer.evaluate('window.uiMark = "same-document"');
    await reviewer.getByRole("link", { name: "Deployments", exact: true }).click();
    const waiting = await bumpUntilWaiting("v0.2.0");
    // The new deployment appears in the open list by itself (server-sent events).
    const row = reviewer.locator(`tr[data-deployment="${waiting.id}"]`);
    await row.waitFor({ timeout: 30_000 });
    noConsoleErrors();
    await row.getByRole("link", { name: "canary-app" }).click();

    const approval = reviewer.locator(
      'li[data-stage="WAIT_APPROVAL"][data-status="STAGE_RUNNING"]',
    );
    await approval.waitFor({ timeout: 30_000 });
    const split = reviewer.locator('li[data-stage="K8S_TRAFFIC_ROUTING"] .traffic').first();
    assert.equal(await split.getAttribute("data-split"), "primary 90% / canary 10%");
    assert.equal(await split.getAttribute("aria-label"), "traffic split: primary 90% / canary 10%");
    await reviewer.locator(".changes").filter({ hasText: "v0.1.0 → v0.2.0" }).waitFor();
    await reviewer.screenshot({ path: join(ARTIFACTS, "deployment-waiting.png"), fullPage: true });
    noConsoleErrors();

    await approval.getByRole("button", { name: "Approve" }).click();
    await reviewer.locator('h1 [data-status="DEPLOYMENT_SUCCESS"]').waitFor({ timeout: 90_000 });
    noConsoleErrors();
    assert.equal(
      await reviewer.evaluate("window.uiMark"),
      "same-document",
      "the page was never reloaded",
    );
    const boxes = reviewer.locator("ol.pipeline > li");
    const statuses: (string | null)[][] = [];
    for (let i = 0; i < (await boxes.count()); i++)
      statuses.push([
        await boxes.nth(i).getAttribute("data-stage"),
        await boxes.nth(i).getAttribute("data-status"),
      ]);
    assert.deepEqual(statuses, [
      ["K8S_CANARY_ROLLOUT", "STAGE_SUCCESS"],
      ["K8S_TRAFFIC_ROUTING", "STAGE_SUCCESS"],
      ["WAIT_APPROVAL", "STAGE_SUCCESS"],
      ["K8S_PRIMARY_ROLLOUT", "STAGE_SUCCESS"],
      ["K8S_TRAFFIC_ROUTING", "STAGE_SUCCESS"],
      ["K8S_CANARY_CLEAN", "STAGE_SUCCESS"],
    ]);
    assert.equal(await reviewer.getByTestId("approved-by").textContent(), "reviewer");
    await reviewer.screenshot({
      path: join(ARTIFACTS, "deployment-succeeded.png"),
      fullPage: true,
    });
    noConsoleErrors();
  });

  it("a viewer sees no Approve button and a forged approve with the viewer's session is refused; a rejection rolls back live", async () => {
    const waiting = await bumpUntilWaiting("v0.3.0");
    const viewer = await newPage();
    await signIn(viewer, "watcher", "watcher-secret");
    await viewer.getByTestId("who").filter({ hasText: "watcher" }).waitFor();
    // A deep link: the control plane serves index.html for client routes.
    await viewer.goto(`${s.httpUrl}/deployments/${waiting.id}`);
    const stage = viewer.locator('li[data-stage="WAIT_APPROVAL"][data-status="STAGE_RUNNING"]');
    await stage.waitFor({ timeout: 30_000 });
    await stage.getByText("cannot approve").waitFor();
    for (const name of ["Approve", "Reject", "Cancel with rollback", "Cancel without rollback"])
      assert.equal(await viewer.getByRole("button", { name }).count(), 0, `no ${name} button`);
    noConsoleErrors();

    // The same request the button would send, forged with the viewer's own session cookie.
    const cookie = (await viewer.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    assert.ok(cookie, "the viewer has a session cookie");
    const forged = await fetch(
      `${s.httpUrl}/api/v1/deployments/${waiting.id}/stages/${waiting.stageId}/approve`,
      { method: "POST", headers: { cookie, "content-type": "application/json" }, body: "{}" },
    );
    assert.equal(forged.status, 403);
    assert.equal(
      ((await forged.json()) as { error: { code: string } }).error.code,
      "PERMISSION_DENIED",
    );
    const still = (await s.admin.call("getDeployment", { params: { id: waiting.id } })).deployment;
    const st = still.stages?.find((x) => x.id === waiting.stageId);
    assert.equal(st?.status, "STAGE_RUNNING", "the forged approval changed nothing");
    assert.equal(st?.metadata?.ApprovedBy ?? "", "");

    // The editor rejects with a reason; both open pages follow the rollback live.
    await reviewer.goto(`${s.httpUrl}/deployments/${waiting.id}`);
    const rstage = reviewer.locator('li[data-stage="WAIT_APPROVAL"][data-status="STAGE_RUNNING"]');
    await rstage.waitFor({ timeout: 30_000 });
    await rstage.getByRole("button", { name: "Reject" }).click();
    const dialog = reviewer.getByRole("dialog");
    await dialog.getByRole("textbox").fill("error rate up");
    await dialog.getByRole("button", { name: "Reject" }).click();
    await dialog.waitFor({ state: "hidden" });
    noConsoleErrors();
    for (const page of [reviewer, viewer])
      await page.locator('h1 [data-status="DEPLOYMENT_FAILURE"]').waitFor({ timeout: 90_000 });
    const rollback = viewer.locator('li[data-stage="ROLLBACK"]');
    await rollback.waitFor();
    assert.equal(await rollback.getAttribute("data-status"), "STAGE_SUCCESS");
    assert.equal(
      await viewer.locator('li[data-stage="WAIT_APPROVAL"]').getAttribute("data-status"),
      "STAGE_FAILURE",
    );
    await reviewer.screenshot({
      path: join(ARTIFACTS, "deployment-rolled-back.png"),
      fullPage: true,
    });
    noConsoleErrors();
  });

  it("an admin sees pipeds online, creates an API key shown once, and reads the approvals in the audit log", async () => {
    const admin = await newPage();
    await signIn(admin, "boss", "boss-secret");
    await admin.getByRole("link", { name: "Pipeds" }).click();
    await admin.locator('tr[data-piped="test-piped"] [data-status="ONLINE"]').waitFor();
    await admin.screenshot({ path: join(ARTIFACTS, "pipeds.png") });
    noConsoleErrors();
    await admin.getByRole("link", { name: "API keys" }).click();
    assert.deepEqual(
      await admin.getByLabel("Role").locator("option").allTextContents(),
      ["viewer (read)", "editor (approve, sync, cancel)", "admin (everything)"],
      "an admin may create keys of every role",
    );
    await admin.getByLabel("Name").fill("ci-bot");
    await admin.getByLabel("Role").selectOption("viewer");
    await admin.getByRole("button", { name: "Create" }).click();
    const key = (await admin.getByTestId("secret").textContent()) ?? "";
    assert.match(key, /^[^.]+\..{20,}$/, "the new key is shown once");
    const me = await fetch(`${s.httpUrl}/api/v1/me`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(((await me.json()) as { user: { role: string } }).user.role, "viewer");
    await admin
      .locator("tr", { hasText: "ci-bot" })
      .getByRole("button", { name: "Disable" })
      .waitFor();
    noConsoleErrors();
    await admin.getByRole("button", { name: "I have stored it" }).click();
    assert.equal(await admin.getByTestId("secret").count(), 0, "the key is gone from the page");
    await admin.getByRole("link", { name: "Audit log" }).click();
    await admin
      .locator("tr", { hasText: "reviewer" })
      .filter({ hasText: /approve/i })
      .first()
      .waitFor();
    noConsoleErrors();
  });

  it("an editor creates a personal editor API key (shown once; admin not offered; no list), and Copy without a clipboard says to copy by hand", async () => {
    await reviewer.goto(`${s.httpUrl}/applications`);
    await reviewer.getByRole("link", { name: "API keys" }).click();
    await reviewer.getByRole("heading", { name: "API keys" }).waitFor();
    const role = reviewer.getByLabel("Role");
    assert.deepEqual(
      await role.locator("option").allTextContents(),
      ["viewer (read)", "editor (approve, sync, cancel)"],
      "roles are capped at the editor's own",
    );
    await assert.rejects(role.selectOption("admin", { timeout: 1_000 }), "admin cannot be picked");
    await reviewer.getByLabel("Name").fill("reviewer-pipectl");
    await role.selectOption("editor");
    await reviewer.getByRole("button", { name: "Create" }).click();
    const key = (await reviewer.getByTestId("secret").textContent()) ?? "";
    assert.match(key, /^[^.]+\..{20,}$/, "the new key is shown once");
    const me = await fetch(`${s.httpUrl}/api/v1/me`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { role: string } }).user.role, "editor");
    assert.equal(await reviewer.getByRole("table").count(), 0, "only admins see the key list");
    assert.equal(await reviewer.getByRole("button", { name: "Disable" }).count(), 0);
    noConsoleErrors();
    // Outside a secure context the browser has no navigator.clipboard.
    await reviewer.evaluate(
      'Object.defineProperty(navigator, "clipboard", { value: undefined, configurable: true })',
    );
    await reviewer.getByRole("button", { name: "Copy" }).click();
    await reviewer.getByText("Copy failed: select the text and copy it by hand.").waitFor();
    noConsoleErrors();
    await reviewer.getByRole("button", { name: "I have stored it" }).click();
    assert.equal(await reviewer.getByTestId("secret").count(), 0, "the key is gone from the page");
  });

  it("a malformed deployment path shows Not found instead of a blank page", async () => {
    // The server answers 400 to such a URL itself, but an in-app link or Back can still put
    // one in the address bar: navigate to it inside the page.
    await reviewer.goto(`${s.httpUrl}/applications`);
    await reviewer.evaluate(
      'history.pushState(null, "", "/deployments/%E0%A4%A"); dispatchEvent(new PopStateEvent("popstate"))',
    );
    await reviewer.getByRole("heading", { name: "Not found" }).waitFor();
    await reviewer.getByTestId("who").filter({ hasText: "reviewer" }).waitFor();
    noConsoleErrors();
  });

  it("Cancel asks for confirmation, then the deployment is cancelled and rolled back", async () => {
    const waiting = await bumpUntilWaiting("v0.4.0");
    await reviewer.goto(`${s.httpUrl}/deployments/${waiting.id}`);
    await reviewer
      .locator('li[data-stage="WAIT_APPROVAL"][data-status="STAGE_RUNNING"]')
      .waitFor({ timeout: 30_000 });
    await reviewer.getByRole("button", { name: "Cancel with rollback" }).click();
    const dialog = reviewer.getByRole("dialog");
    await dialog.getByText("roll back to the last good state").waitFor();
    // Backing out of the dialog sends nothing.
    await dialog.getByRole("button", { name: "Back", exact: true }).click();
    await dialog.waitFor({ state: "hidden" });
    noConsoleErrors();
    const meanwhile = (await s.admin.call("getDeployment", { params: { id: waiting.id } }))
      .deployment;
    assert.equal(meanwhile.status, "DEPLOYMENT_RUNNING", "Back cancelled nothing");
    await reviewer.getByRole("button", { name: "Cancel with rollback" }).click();
    await dialog.getByRole("button", { name: "Cancel with rollback" }).click();
    await dialog.waitFor({ state: "hidden" });
    noConsoleErrors();
    await reviewer.locator('h1 [data-status="DEPLOYMENT_CANCELLED"]').waitFor({ timeout: 90_000 });
    await reviewer.locator('li[data-stage="ROLLBACK"][data-status="STAGE_SUCCESS"]').waitFor();
    assert.equal(
      await reviewer.getByRole("button", { name: "Cancel with rollback" }).count(),
      0,
      "a finished deployment offers no Cancel",
    );
    noConsoleErrors();
  });

  it("the details page fits a narrow window (no horizontal scrolling)", async () => {
    const page = await newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page, "reviewer", "reviewer-secret");
    const d = (await s.deployments(appId))[0];
    await page.goto(`${s.httpUrl}/deployments/${d?.id ?? ""}`);
    await page.locator("ol.pipeline > li").first().waitFor();
    await eventually(
      async () =>
        page.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth + 1"),
      5_000,
      "the page to fit 390 px",
    );
    noConsoleErrors();
  });

  it("named approvals: the piped's log lines stream in, Approve gives way to 'waiting for 1 more'; live updates survive a control-plane restart (a signed-out page goes to login); Skip with confirmation", async () => {
    await s.repo.commit(waitAppFiles("v1"), `${WAIT_APP} v1`);
    const waitAppId = await s.addApp(WAIT_APP, WAIT_APP);
    await s.waitDeployment(
      waitAppId,
      (x) => x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      `${WAIT_APP} first (quick sync) deployment`,
    );
    await s.repo.commit(waitAppFiles("v2"), `${WAIT_APP} v2`);
    const d = await s.waitDeployment(
      waitAppId,
      waitingForApproval(`${WAIT_APP} v2`),
      60_000,
      `${WAIT_APP} v2 waiting for approval`,
    );
    const id = d.id ?? "";
    const stageId = d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.id ?? "";

    const page = reviewer;
    await page.goto(`${s.httpUrl}/deployments/${id}`);
    await page.evaluate('window.uiMark = "same-document"');
    const approval = page.locator('li[data-stage="WAIT_APPROVAL"]');
    await approval.and(page.locator('[data-status="STAGE_RUNNING"]')).waitFor({ timeout: 30_000 });
    const log = page.getByTestId("stage-log");
    await log.getByText("Waiting for approval from at least 2 user(s)").waitFor();
    assert.equal(await log.getByText("Approved by reviewer").count(), 0);
    noConsoleErrors();

    await approval.getByRole("button", { name: "Approve" }).click();
    // A line the piped logs into the running stage after the page loaded shows up by itself.
    await log.getByText("Approved by reviewer (1/2)").waitFor({ timeout: 15_000 });
    await approval
      .getByTestId("you-approved")
      .filter({ hasText: "You approved; waiting for 1 more approver(s)." })
      .waitFor();
    assert.equal(await approval.getByRole("button", { name: "Approve" }).count(), 0);
    assert.equal(await approval.getByTestId("approved-by").textContent(), "reviewer");
    noConsoleErrors();

    // A second page whose session ends: the applications list, which fetches only when the
    // stream says so, so only the stream's refused reconnect (401) can tell it.
    const viewer = await newPage();
    await signIn(viewer, "watcher", "watcher-secret");
    await viewer.locator(`tr[data-app="${WAIT_APP}"]`).waitFor();
    await viewer.evaluate('window.uiMark = "viewer-document"');
    const cookie = (await viewer.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");

    outage = true;
    const out = await fetch(`${s.httpUrl}/api/v1/logout`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(out.status, 200, "the viewer's session is signed out");
    const t0 = Date.now();
    await s.stopControlPlane();
    await page.getByTestId("live-paused").waitFor({ timeout: 15_000 });
    assert.match(
      (await page.getByTestId("live-paused").textContent()) ?? "",
      /Live updates paused – reconnecting/,
    );
    await s.startControlPlane();
    await page.getByTestId("live-paused").waitFor({ state: "hidden", timeout: 60_000 });
    console.log(`# live updates resumed ${Date.now() - t0} ms after the control plane stopped`);
    // The viewer's stream is refused (401): the page shows the login form by itself.
    await viewer.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 60_000 });
    assert.equal(await viewer.evaluate("window.uiMark"), "viewer-document", "no reload");
    outage = false;

    // A change after the restart reaches the open page over the new stream.
    const boss = await s.as("boss");
    await boss.call("approveStage", { params: { id, stageId } });
    await approval.getByTestId("approved-by").filter({ hasText: "reviewer, boss" }).waitFor({
      timeout: 30_000,
    });
    const wait = page.locator('li[data-stage="WAIT"][data-status="STAGE_RUNNING"]');
    await wait.waitFor({ timeout: 30_000 });
    await log.getByText("Waiting for 5m...").waitFor({ timeout: 15_000 });
    noConsoleErrors();

    // Skip the running WAIT: a confirmation first, then the pipeline finishes.
    await page.getByRole("button", { name: "Skip WAIT" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Skip the running stage WAIT?").waitFor();
    await dialog.getByRole("button", { name: "Skip WAIT" }).click();
    await dialog.waitFor({ state: "hidden" });
    noConsoleErrors();
    await page.locator('li[data-stage="WAIT"][data-status="STAGE_SKIPPED"]').waitFor({
      timeout: 30_000,
    });
    await page.locator('h1 [data-status="DEPLOYMENT_SUCCESS"]').waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate("window.uiMark"), "same-document", "no reload");
    noConsoleErrors();
  });
});
