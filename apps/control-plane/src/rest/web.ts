import { createHash } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { NotFoundError } from "@pipecd-ts/runtime";
import { sendError } from "./http.js";

/**
 * The Content-Security-Policy of the web UI: scripts, styles and API calls from this origin only,
 * no inline scripts or styles, no framing, no plugins (the Vite build emits external files only).
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Cache-Control of content-hashed files under assets/ (Vite names them by their hash). */
export const IMMUTABLE = "public, max-age=31536000, immutable";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

interface WebFile {
  body: Buffer;
  type: string;
  etag: string;
  cache: string;
}

/** The built web UI held in memory (a few hundred KiB), keyed by URL path. */
export type WebFiles = ReadonlyMap<string, WebFile>;

/**
 * Files of a build directory that are never part of the UI: dotfiles and dot-directories (e.g. a
 * `.tsbuildinfo`) and TypeScript declarations (`*.d.ts`) that a type-check may have left there.
 */
function notServed(name: string): boolean {
  return name.startsWith(".") || name.toLowerCase().endsWith(".d.ts");
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (notServed(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * Reads the built UI (`apps/web/dist`) into memory, without dotfiles and `*.d.ts`; undefined
 * when `dir` has no index.html (the UI was not built). Serving from memory means no path from a request ever reaches the disk.
 */
export async function loadWebFiles(dir: string): Promise<WebFiles | undefined> {
  const index = await stat(join(dir, "index.html")).catch(() => undefined);
  if (!index?.isFile()) return undefined;
  // A build running at this moment may delete files under us: then there is no usable UI.
  return readWebFiles(dir).catch(() => undefined);
}

async function readWebFiles(dir: string): Promise<WebFiles> {
  const files = new Map<string, WebFile>();
  for (const full of await walk(dir)) {
    const urlPath = "/" + relative(dir, full).split(sep).join("/");
    const body = await readFile(full);
    files.set(urlPath, {
      body,
      type: TYPES[extname(full).toLowerCase()] ?? "application/octet-stream",
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      cache: urlPath.startsWith("/assets/") ? IMMUTABLE : "no-cache",
    });
  }
  return files;
}

/** Paths that belong to the API or the server itself, never to the single-page app. */
function isServerPath(path: string): boolean {
  return (
    path === "/api" ||
    path.startsWith("/api/") ||
    path === "/healthz" ||
    path === "/metrics" ||
    path.startsWith("/assets/")
  );
}

/**
 * Serves the web UI at "/": files of the build, and index.html for every other page path so the
 * client router can handle deep links (SPA fallback). index.html is revalidated on every load
 * (`no-cache` + ETag), hashed assets are cached for a year. Every response of the server gets
 * nosniff / no-referrer / no-framing headers; HTML also gets {@link WEB_CSP}. Without a build
 * (`files` undefined) "/" answers 404 with how to build it.
 */
export function registerWebUi(app: FastifyInstance, files: WebFiles | undefined): void {
  app.addHook("onSend", async (_req, reply, payload) => {
    void reply.header("x-content-type-options", "nosniff");
    void reply.header("referrer-policy", "no-referrer");
    void reply.header("x-frame-options", "DENY");
    void reply.header("content-security-policy", WEB_CSP);
    return payload;
  });
  const serve = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = decodeURIComponentSafe(req.url.split("?")[0] ?? "/");
    if (!files)
      return sendError(
        reply,
        new NotFoundError(
          path === "/" || !isServerPath(path)
            ? "the web UI is not built on this server: run 'make bootstrap' (builds apps/web/dist) or start with --web-dir"
            : `no route ${req.method} ${path}`,
        ),
      );
    let file = files.get(path);
    if (!file) {
      // Deep links of the client router get index.html; anything that looks like a file or an
      // API path is a real 404 (a missing old asset must not turn into HTML).
      const last = path.slice(path.lastIndexOf("/") + 1);
      if (isServerPath(path) || last.includes("."))
        return sendError(reply, new NotFoundError(`no route ${req.method} ${path}`));
      file = files.get("/index.html");
    }
    if (!file) return sendError(reply, new NotFoundError(`no route ${req.method} ${path}`));
    void reply
      .header("content-type", file.type)
      .header("cache-control", file.cache)
      .header("etag", file.etag);
    if (req.headers["if-none-match"] === file.etag) return void reply.code(304).send();
    return void reply.code(200).send(file.body);
  };
  app.get("/", serve);
  app.get("/*", serve);
}

function decodeURIComponentSafe(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
