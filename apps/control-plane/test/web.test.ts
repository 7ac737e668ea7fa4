import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@pipecd-ts/runtime";
import { startControlPlane, type ControlPlane } from "@pipecd-ts/control-plane";

// The control plane serves the built web UI at "/" (issue 7): files from memory, index.html for
// client routes, long caching for hashed assets, revalidation for index.html, a strict CSP.

const INDEX = `<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="root"></div></body></html>`;

describe("web UI serving", () => {
  let dir: string;
  let cp: ControlPlane;
  let bare: ControlPlane;
  let adminKey = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pipecd-web-"));
    await mkdir(join(dir, "dist", "assets"), { recursive: true });
    await writeFile(join(dir, "dist", "index.html"), INDEX);
    await writeFile(join(dir, "dist", "assets", "index-AbC123.js"), "console.log('ui');\n");
    await writeFile(join(dir, "secret.txt"), "outside the web dir\n");
    // What a type-check writing into the build directory would leave there.
    await mkdir(join(dir, "dist", "src", "pages"), { recursive: true });
    await mkdir(join(dir, "dist", ".cache"), { recursive: true });
    await writeFile(join(dir, "dist", ".tsbuildinfo"), '{"root":["./src/main.tsx"]}');
    await writeFile(join(dir, "dist", ".cache", "x.js"), "hidden\n");
    await writeFile(join(dir, "dist", "src", "App.d.ts"), "export declare function App(): void;\n");
    await writeFile(join(dir, "dist", "src", "pages", "Login.D.TS"), "export {};\n");
    await writeFile(join(dir, "dist", "src", "pages", "real.js"), "console.log('kept');\n");
    const opts = { httpPort: 0, grpcPort: 0, listenHost: "127.0.0.1", logger: silentLogger() };
    cp = await startControlPlane({
      ...opts,
      dataDir: join(dir, "data"),
      webDir: join(dir, "dist"),
    });
    bare = await startControlPlane({ ...opts, dataDir: join(dir, "data2") });
    adminKey = (await readFile(join(dir, "data", "admin-api-key"), "utf8")).trim();
  });
  after(async () => {
    await cp?.close(500);
    await bare?.close(500);
    await rm(dir, { recursive: true, force: true });
  });

  it("index.html is served at / with no-cache, an ETag and a strict CSP", async () => {
    const res = await fetch(`${cp.httpUrl}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), INDEX);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, "no inline or eval scripts");
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const etag = res.headers.get("etag") ?? "";
    assert.ok(etag, "has an ETag");
    const again = await fetch(`${cp.httpUrl}/`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304, "revalidation answers 304");
  });

  it("hashed assets are cached for a year as immutable", async () => {
    const res = await fetch(`${cp.httpUrl}/assets/index-AbC123.js`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "console.log('ui');\n");
    assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  });

  it("client routes get index.html (deep links work), missing files and API paths get JSON 404", async () => {
    for (const path of ["/deployments/abc", "/login", "/applications?pipedId=x"]) {
      const res = await fetch(`${cp.httpUrl}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), INDEX, path);
      assert.equal(res.headers.get("cache-control"), "no-cache", path);
    }
    for (const path of ["/assets/index-old.js", "/api/v1/nope", "/favicon.ico"]) {
      const res = await fetch(`${cp.httpUrl}${path}`);
      assert.equal(res.status, 404, path);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, "NOT_FOUND", path);
    }
  });

  it("dotfiles and *.d.ts in the build directory are not served", async () => {
    for (const path of [
      "/.tsbuildinfo",
      "/.cache/x.js",
      "/src/App.d.ts",
      "/src/pages/Login.D.TS",
      "/%2Etsbuildinfo",
    ]) {
      const res = await fetch(`${cp.httpUrl}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    }
    const kept = await fetch(`${cp.httpUrl}/src/pages/real.js`);
    assert.equal(kept.status, 200, "other files beside them are served");
    assert.equal(await kept.text(), "console.log('kept');\n");
  });

  it("no path reaches files outside the build", async () => {
    for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"]) {
      const res = await fetch(`${cp.httpUrl}${path}`);
      const text = await res.text();
      assert.ok(!text.includes("outside the web dir"), `${path} leaked a file`);
    }
  });

  it("the API keeps working beside the UI and still needs authentication", async () => {
    const anon = await fetch(`${cp.httpUrl}/api/v1/me`);
    assert.equal(anon.status, 401);
    const me = await fetch(`${cp.httpUrl}/api/v1/me`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { role: string } }).user.role, "admin");
  });

  it("without a build, / answers 404 saying how to build the UI", async () => {
    const res = await fetch(`${bare.httpUrl}/`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /web UI is not built/);
  });
});
