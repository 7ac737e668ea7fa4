import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  AppError,
  DeadlineExceededError,
  InvalidArgumentError,
  UnavailableError,
  type Logger,
} from "@pipecd-ts/runtime";

/** A commit as the trigger and planner need it. */
export interface CommitInfo {
  hash: string;
  author: string;
  message: string;
  /** Commit time. */
  createdAt: Date;
}

/** Options of {@link git}. */
interface GitOptions {
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Written to git's stdin (`cat-file --batch`). */
  input?: string;
}

/** Runs git with a timeout; rejects with a typed error carrying git's stderr. */
export async function git(args: string[], opts: GitOptions = {}): Promise<string> {
  return (await gitBytes(args, opts)).toString("utf8");
}

/** {@link git}, with stdout as bytes (for output that carries byte counts). */
export function gitBytes(args: string[], opts: GitOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      args,
      {
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 << 20,
        signal: opts.signal,
        encoding: "buffer",
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
      },
      (err, stdout, stderrBytes) => {
        const stderr = stderrBytes.toString("utf8");
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string };
        // Never the command line (nor execFile's error, whose message holds it): a remote may
        // carry a token. git itself strips credentials from what it prints.
        const what = `git ${args.slice(0, 2).join(" ")}`;
        if (e.killed || e.signal === "SIGTERM")
          reject(new DeadlineExceededError(`${what} timed out`));
        else if (e.code === "ENOENT") reject(new UnavailableError("the git CLI is not installed"));
        else
          reject(
            new AppError(
              "FAILED_PRECONDITION",
              `${what} failed: ${stderr.trim() || `exit code ${String(e.code)}`}`,
            ),
          );
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * One configured repository: a bare mirror (fetched every sync interval) and detached worktrees
 * per commit for planners and stages (PipeCD `pkg/git`).
 */
export class GitRepo {
  private readonly mirror: string;

  constructor(
    readonly repoId: string,
    readonly remote: string,
    readonly branch: string,
    private readonly cacheDir: string,
    private readonly logger: Logger,
  ) {
    if (!/^[A-Za-z0-9._-]+$/.test(repoId))
      throw new InvalidArgumentError(`repository id "${repoId}" must be [A-Za-z0-9._-]+`);
    this.mirror = join(cacheDir, `${repoId}.git`);
  }

  /** Clones the mirror if needed, then fetches. */
  async sync(): Promise<void> {
    if (!existsSync(join(this.mirror, "HEAD"))) {
      await mkdir(this.cacheDir, { recursive: true });
      this.logger.info({ repoId: this.repoId }, "cloning repository mirror");
      await git(["clone", "--mirror", "--quiet", this.remote, this.mirror], { timeoutMs: 300_000 });
      return;
    }
    await git(["remote", "update", "--prune"], { cwd: this.mirror, timeoutMs: 120_000 });
  }

  /** The commit the branch points to. */
  async head(): Promise<string> {
    return (await git(["rev-parse", `refs/heads/${this.branch}`], { cwd: this.mirror })).trim();
  }

  /** Author, message and time of a commit. */
  async commit(hash: string): Promise<CommitInfo> {
    const out = await git(["log", "-1", "--format=%H%x00%an%x00%ct%x00%B", hash], {
      cwd: this.mirror,
    });
    const [h = hash, author = "", ct = "0", message = ""] = out.split("\0");
    return { hash: h, author, message: message.trim(), createdAt: new Date(Number(ct) * 1000) };
  }

  /** Files changed between two commits. */
  async changedFiles(from: string, to: string): Promise<string[]> {
    const out = await git(["diff", "--name-only", `${from}`, `${to}`], { cwd: this.mirror });
    return out.split("\n").filter(Boolean);
  }

  /** Every file of a commit's tree: path → blob id (one `git ls-tree`). */
  async tree(commit: string): Promise<Map<string, string>> {
    const out = await git(["ls-tree", "-r", "-z", "--full-tree", commit], { cwd: this.mirror });
    const files = new Map<string, string>();
    for (const entry of out.split("\0")) {
      // "<mode> SP <type> SP <object> TAB <path>"
      const tab = entry.indexOf("\t");
      if (tab < 0) continue;
      const [, type, id] = entry.slice(0, tab).split(" ");
      if (type === "blob" && id) files.set(entry.slice(tab + 1), id);
    }
    return files;
  }

  /** The contents of blobs by id, all in one `git cat-file --batch`. */
  async readBlobs(ids: readonly string[]): Promise<Map<string, string>> {
    const contents = new Map<string, string>();
    if (ids.length === 0) return contents;
    const out = await gitBytes(["cat-file", "--batch"], {
      cwd: this.mirror,
      input: `${ids.join("\n")}\n`,
    });
    // Per object: "<id> <type> <size>\n<contents>\n" (or "<id> missing\n").
    let pos = 0;
    while (pos < out.length) {
      const nl = out.indexOf(0x0a, pos);
      if (nl < 0) break;
      const [id = "", type, size] = out.subarray(pos, nl).toString("utf8").split(" ");
      pos = nl + 1;
      if (type === "missing" || size === undefined) continue;
      const n = Number(size);
      contents.set(id, out.subarray(pos, pos + n).toString("utf8"));
      pos += n + 1;
    }
    return contents;
  }

  /** Checks out `commit` into a new temporary worktree; `remove()` deletes it. */
  async checkout(
    commit: string,
    workDir: string,
  ): Promise<{ dir: string; remove(): Promise<void> }> {
    await mkdir(workDir, { recursive: true });
    const dir = await mkdtemp(join(workDir, `${this.repoId}-`));
    await git(["worktree", "add", "--detach", "--force", dir, commit], {
      cwd: this.mirror,
      timeoutMs: 120_000,
    });
    return {
      dir,
      remove: async () => {
        await git(["worktree", "remove", "--force", dir], { cwd: this.mirror }).catch(
          () => undefined,
        );
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
