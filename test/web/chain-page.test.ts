import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { startStack, type DeploymentJson, type Stack } from "@pipecd-ts/testkit";
import { ARTIFACTS, browserSession, buildWebUi, type BrowserSession } from "./browser.js";

// Deployment chains (PipeCD's postSync.chain) in the web UI, in real Chromium against the real
// product: bin/kube-sim, bin/pipecd-server, bin/piped and a Git repository. chain-a's deployment
// starts a chain whose block 1 deploys chain-b; the deployment page must show the blocks in
// order and follow the chain to SUCCESS over the event stream, without a reload.
// Given / when / then.

/** A ConfigMap-only app: `extra` is appended to the app config's spec. */
const app = (name: string, extra: string): Record<string, string> => ({
  [`${name}/configmap.yaml`]: `apiVersion: v1
kind: ConfigMap
metadata: { name: ${name} }
data: { app: ${name} }
`,
  [`${name}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: ${name}
${extra}`,
});

/** Deployed by chains (PipeCD's default is not to). */
const chainB = app("chain-b", "  trigger: { onChain: { disabled: false } }\n");
/**
 * Starts a chain of one block, chain-b. Its pipeline (used from the first deployment on, by
 * alwaysUsePipeline) waits for an approval, so the page is open while block 0 still runs and the
 * test controls when the chain moves on; the approval is given on the page.
 */
const chainA = app(
  "chain-a",
  `  planner: { alwaysUsePipeline: true }
  pipeline:
    stages:
      - name: WAIT_APPROVAL
      - name: K8S_PRIMARY_ROLLOUT
  postSync:
    chain:
      applications:
        - name: chain-b
`,
);

const approvalRunning = (d: DeploymentJson): boolean =>
  d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.status === "STAGE_RUNNING";

describe("the deployment chain in Chromium", () => {
  let s: Stack;
  let chrome: BrowserSession;
  let page: Page;
  let aId = "";
  let bId = "";
  /** chain-a's deployment, block 0 of the chain. */
  let first: DeploymentJson;
  /** chain-b's deployment the chain started (block 1). */
  let chained: DeploymentJson;

  before(async () => {
    chrome = browserSession({ httpUrl: () => s.httpUrl });
    await buildWebUi();
    s = await startStack({
      syncInterval: "1s",
      readyDelayMs: 0,
      users: [{ username: "admin", role: "admin" }],
    });
    await s.startPiped();
    // Given chain-b, deployed once on its own.
    await s.repo.commit(chainB, "add chain-b");
    bId = await s.addApp("chain-b", "chain-b");
    await s.waitDeployment(bId, (d) => d.status === "DEPLOYMENT_SUCCESS", 20_000, "chain-b");
    await chrome.ready();
  });
  after(async () => {
    await chrome?.close();
    await s?.close();
  });

  it("the deployment page shows block 0 = chain-a and block 1 = chain-b, and follows the chain live to SUCCESS with a link to chain-b's ON_CHAIN deployment", async () => {
    // When chain-a is added: its first deployment starts the chain and waits for approval.
    await s.repo.commit(chainA, "add chain-a");
    aId = await s.addApp("chain-a", "chain-a");
    first = await s.waitDeployment(
      aId,
      (d) => !!d.deploymentChainId && approvalRunning(d),
      20_000,
      "chain-a's deployment in a chain, waiting for approval",
    );
    const chainId = first.deploymentChainId ?? "";

    page = await chrome.newPage();
    await chrome.signIn(page, "admin", "admin-secret");
    await page.goto(`${s.httpUrl}/deployments/${first.id ?? ""}`);
    // Marks this document: a reload or a full navigation would lose the mark.
    await page.evaluate('window.uiMark = "same-document"');

    // Then the chain runs: block 0 is this deployment (highlighted), block 1 not started.
    const section = page.getByRole("region", { name: "Deployment chain", exact: true });
    const chainStatus = section.getByTestId("chain-status");
    await chainStatus.locator('[data-status="DEPLOYMENT_CHAIN_RUNNING"]').waitFor();
    const list = section.getByRole("list", { name: "deployment chain", exact: true });
    const blocks = list.locator(":scope > li");
    await blocks.first().waitFor();
    assert.deepEqual(
      await blocks.evaluateAll((els: { getAttribute(n: string): string | null }[]) =>
        els.map((e) => e.getAttribute("aria-label")),
      ),
      ["block 0", "block 1"],
      "two blocks, in order",
    );
    const block0 = list.getByRole("listitem", { name: "block 0", exact: true });
    const block1 = list.getByRole("listitem", { name: "block 1", exact: true });
    const nodeA = block0.locator('li[data-app="chain-a"]');
    const nodeB = block1.locator('li[data-app="chain-b"]');
    assert.equal(await block0.getAttribute("data-status"), "DEPLOYMENT_CHAIN_RUNNING");
    assert.equal(await block0.locator("li[data-app]").count(), 1, "block 0: chain-a only");
    assert.equal(await nodeA.getAttribute("aria-current"), "true", "this deployment highlighted");
    assert.equal(
      await nodeA.getByRole("link", { name: "chain-a" }).getAttribute("href"),
      `/deployments/${first.id ?? ""}`,
    );
    assert.equal(await block1.getAttribute("data-status"), "DEPLOYMENT_CHAIN_PENDING");
    assert.equal(await block1.locator("li[data-app]").count(), 1, "block 1: chain-b only");
    await nodeB.getByText("not started").waitFor();
    assert.equal(await nodeB.getByRole("link").count(), 0, "no deployment to link to yet");
    chrome.noConsoleErrors();

    // When the approval is given on this page: chain-a completes and the chain deploys chain-b.
    await page
      .locator('li[data-stage="WAIT_APPROVAL"]')
      .getByRole("button", { name: "Approve" })
      .click();

    // Then, without a reload, the chain reaches SUCCESS and chain-b links to its deployment.
    await chainStatus
      .locator('[data-status="DEPLOYMENT_CHAIN_SUCCESS"]')
      .waitFor({ timeout: 25_000 });
    await section.getByTestId("chain-reason").getByText("every block succeeded").waitFor();
    chained = await s.waitDeployment(
      bId,
      (d) => d.deploymentChainId === chainId,
      5_000,
      "chain-b's deployment in the chain",
    );
    assert.equal(chained.trigger?.kind, "ON_CHAIN");
    assert.equal(chained.deploymentChainBlockIndex, 1);
    assert.equal(chained.status, "DEPLOYMENT_SUCCESS");
    await block0.and(page.locator('[data-status="DEPLOYMENT_CHAIN_SUCCESS"]')).waitFor();
    await block1.and(page.locator('[data-status="DEPLOYMENT_CHAIN_SUCCESS"]')).waitFor();
    await nodeA.and(page.locator('[data-status="DEPLOYMENT_SUCCESS"]')).waitFor();
    await nodeB.and(page.locator('[data-status="DEPLOYMENT_SUCCESS"]')).waitFor();
    const linkB = nodeB.getByRole("link", { name: "chain-b" });
    assert.equal(await linkB.getAttribute("href"), `/deployments/${chained.id ?? ""}`);
    assert.equal(await nodeB.getByText("not started").count(), 0);
    assert.equal(
      await page.evaluate("window.uiMark"),
      "same-document",
      "the page was never reloaded",
    );
    await page.screenshot({ path: join(ARTIFACTS, "chain.png"), fullPage: true });
    // Side by side on a desktop, one under the other on a narrow screen.
    const boxes = async () => [await block0.boundingBox(), await block1.boundingBox()];
    const [wide0, wide1] = await boxes();
    assert.ok(wide0 && wide1 && wide1.x > wide0.x + wide0.width, "block 1 right of block 0");
    await page.setViewportSize({ width: 400, height: 800 });
    const [narrow0, narrow1] = await boxes();
    assert.ok(narrow0 && narrow1 && narrow1.y > narrow0.y + narrow0.height, "block 1 below");
    await page.screenshot({ path: join(ARTIFACTS, "chain-narrow.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });

    // And the link leads to chain-b's deployment, which shows the same chain, itself highlighted.
    await linkB.click();
    await page.getByRole("heading", { name: /^chain-b/ }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/deployments/${chained.id ?? ""}`);
    await page.locator("dl.facts").getByText("deployment chain", { exact: true }).waitFor();
    await section
      .getByRole("listitem", { name: "block 1", exact: true })
      .locator('li[data-app="chain-b"][aria-current="true"]')
      .waitFor();
    assert.equal(await section.locator('li[aria-current="true"]').count(), 1);
    chrome.noConsoleErrors();
  });

  it("the application page marks chain-b's chained deployment with a badge linking to the deployment that started the chain", async () => {
    assert.ok(chained, "the test before found chain-b's deployment in the chain");
    await page.goto(`${s.httpUrl}/applications/${bId}`);
    const row = page
      .getByRole("region", { name: "deployment history" })
      .locator(`tr[data-deployment="${chained.id ?? ""}"]`);
    await row.getByText("ON_CHAIN").waitFor();
    const badge = row.getByRole("link", { name: "chain: block 1" });
    await badge.waitFor();
    assert.equal(await badge.getAttribute("href"), `/deployments/${first.id ?? ""}`);
    chrome.noConsoleErrors();
  });
});
