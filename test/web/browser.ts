import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { repoRoot, runCommand } from "@pipecd-ts/testkit";

// What the browser tests of the web UI share: the bundle build, Chromium, fresh profiles whose
// console errors fail the test, and the login form.

/** Where browser tests save screenshots (git-ignored). */
export const ARTIFACTS = join(repoRoot(), "test-artifacts", "web");
const CHROMIUM = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) => existsSync(p));
const DESKTOP = { width: 1280, height: 800 };

/**
 * Builds the web UI the control plane serves from the current sources (and creates
 * {@link ARTIFACTS}): the same step as bootstrap, a no-op when dist/ is up to date (so control
 * planes of tests running beside this one never see a half-written dist/), a vite build (~1 s)
 * when the sources changed. Run it before the stack starts: the control plane reads dist/ once.
 */
export async function buildWebUi(): Promise<void> {
  const built = await runCommand(
    "bash",
    [join(repoRoot(), "apps", "web", "scripts", "build-if-changed.sh")],
    { timeoutMs: 120_000 },
  );
  assert.equal(built.code, 0, `building the web UI failed:\n${built.stdout}\n${built.stderr}`);
  await mkdir(ARTIFACTS, { recursive: true });
}

/** Chromium for one test file: pages whose console errors are collected, and the login form. */
export interface BrowserSession {
  /** Waits until Chromium has started (it starts when the session is made). */
  ready(): Promise<Browser>;
  /** A fresh browser profile at 1280×800 whose console and page errors are collected. */
  newPage(): Promise<Page>;
  /** Signs in through the login form; waits for the signed-in header unless `wrong`. */
  signIn(page: Page, username: string, password: string, wrong?: boolean): Promise<void>;
  /** Fails when any page showed an unexpected console error or threw. */
  noConsoleErrors(): void;
  /** Closes every profile and Chromium. */
  close(): Promise<void>;
}

/**
 * Starts Chromium (in the background: call `ready()` or `newPage()` to wait for it) for the UI
 * at `httpUrl()`. Chromium itself logs every non-2xx fetch as "Failed to load resource"; of
 * those only the two answers the design requires are always expected: 401 from /me before
 * signing in (that is how the UI learns it must show the login page; the session cookie is
 * HttpOnly) and 401 from /login for a wrong password. `expected` may excuse more (a test that
 * stops the control plane on purpose). Any other failed request, console.error or uncaught
 * error fails {@link BrowserSession.noConsoleErrors}.
 */
export function browserSession(o: {
  httpUrl: () => string;
  expected?: (text: string, url: string) => boolean;
}): BrowserSession {
  assert.ok(CHROMIUM, "chromium is installed (scripts/ensure-debian-package.sh, run by make test)");
  const launched = chromium.launch({ executablePath: CHROMIUM, headless: true });
  launched.catch(() => undefined); // awaited by ready(); a failure is reported there
  const contexts: BrowserContext[] = [];
  const consoleErrors: string[] = [];
  const noConsoleErrors = (): void =>
    assert.deepEqual(consoleErrors, [], "the browser console shows no errors");
  return {
    ready: () => launched,
    async newPage() {
      const ctx = await (await launched).newContext({ viewport: DESKTOP });
      contexts.push(ctx);
      const page = await ctx.newPage();
      page.on("console", (m) => {
        if (m.type() !== "error") return;
        const url = m.location().url;
        const base = o.httpUrl();
        const expected401 =
          /status of 401/.test(m.text()) &&
          (url === `${base}/api/v1/me` || url === `${base}/api/v1/login`);
        if (!expected401 && !o.expected?.(m.text(), url))
          consoleErrors.push(`${m.text()} @ ${url}`);
      });
      page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
      return page;
    },
    async signIn(page, username, password, wrong = false) {
      await page.goto(`${o.httpUrl()}/`);
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      if (!wrong) await page.getByTestId("who").filter({ hasText: username }).waitFor();
      noConsoleErrors();
    },
    noConsoleErrors,
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await (await launched.catch(() => undefined))?.close().catch(() => undefined);
    },
  };
}
