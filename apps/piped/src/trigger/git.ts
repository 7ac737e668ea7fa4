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

/** How long a shared checkout nobody uses is kept for the next deployment of its commit. */
const SHARED_LINGER_MS = 60_000;
/** Shared checkouts kept while nobody uses them, at most. */
const MAX_IDLE_SHARED = 4;

interface SharedEntry {
  users: number;
  checkout: Promise<{ dir: string; remove(): Promise<void> }>;
  idleSince: number;
  timer?: NodeJS.Timeout;
}

/** Options of {@link git}. */
interface GitOptions {
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Written to git's stdin (`cat-file --batch`). */
  input?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
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
        env: { ...process.env, ...opts.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
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
  /** Read-only checkouts per commit, shared by the deployments that use them. */
  private readonly shared = new Map<string, SharedEntry>();

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

  /** The fetch under way: concurrent callers share it (two fetches of one mirror fight over its ref locks). */
  private syncing: Promise<void> | undefined;

  /** Clones the mirror if needed, then fetches; callers at the same time share one fetch. */
  sync(): Promise<void> {
    this.syncing ??= this.doSync().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async doSync(): Promise<void> {
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

  /**
   * The commit a branch of the remote or a commit id names (after {@link sync}); NotFound-like
   * InvalidArgument when it names neither.
   */
  async resolve(ref: string): Promise<string> {
    if (!/^[A-Za-z0-9._/@+-]+$/.test(ref) || ref.startsWith("-"))
      throw new InvalidArgumentError(`"${ref}" is not a branch or commit name`);
    for (const name of [`refs/heads/${ref}`, ref]) {
      const out = await git(["rev-parse", "--verify", "--quiet", `${name}^{commit}`], {
        cwd: this.mirror,
      }).catch(() => "");
      if (out.trim()) return out.trim();
    }
    throw new InvalidArgumentError(
      `"${ref}" is neither a branch nor a commit of repository ${this.repoId}`,
    );
  }

  /**
   * A commit of `head` merged into `base`, made without a worktree (`git merge-tree
   * --write-tree`): `head` itself when it already contains `base`, `base` when it contains
   * `head`. A conflict is a FailedPrecondition naming the conflicting files.
   */
  async merge(base: string, head: string, message: string): Promise<string> {
    const isAncestor = (a: string, b: string) =>
      git(["merge-base", "--is-ancestor", a, b], { cwd: this.mirror }).then(
        () => true,
        () => false,
      );
    if (await isAncestor(base, head)) return head;
    if (await isAncestor(head, base)) return base;
    // Exit 1 is a conflict: stdout is the tree, then the conflicting files.
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "git",
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", base, head],
        {
          cwd: this.mirror,
          timeout: 60_000,
          maxBuffer: 16 << 20,
          env: { ...process.env, LC_ALL: "C" },
        },
        (err, stdout, stderr) =>
          resolve({
            code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0,
            stdout: String(stdout),
            stderr: String(stderr),
          }),
      );
    });
    const [tree = "", ...conflicts] = out.stdout.split("\n").filter(Boolean);
    if (out.code !== 0)
      throw new AppError(
        "FAILED_PRECONDITION",
        out.code === 1 && conflicts.length
          ? `cannot merge ${head.slice(0, 8)} into ${base.slice(0, 8)}: conflicting changes in ${conflicts.join(", ")}`
          : `cannot merge ${head.slice(0, 8)} into ${base.slice(0, 8)}: ${out.stderr.trim() || `git merge-tree exit code ${out.code}`}`,
      );
    const ident = { name: "piped", email: "piped@pipecd.local" };
    return (
      await git(["commit-tree", tree, "-p", base, "-p", head, "-m", message], {
        cwd: this.mirror,
        env: {
          GIT_AUTHOR_NAME: ident.name,
          GIT_AUTHOR_EMAIL: ident.email,
          GIT_COMMITTER_NAME: ident.name,
          GIT_COMMITTER_EMAIL: ident.email,
        },
      })
    ).trim();
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

  /**
   * A checkout of `commit` shared by every caller until the last releases it, then kept
   * {@link SHARED_LINGER_MS} for the next deployment of the same commit (at most
   * {@link MAX_IDLE_SHARED} idle ones). One checkout serves the first deployments of a thousand
   * apps at one commit. Callers must not write into it: see {@link checkout} for a private one.
   */
  async sharedCheckout(commit: string, workDir: string): Promise<{ dir: string; release(): void }> {
    let entry = this.shared.get(commit);
    if (!entry) {
      const created: SharedEntry = {
        users: 0,
        checkout: this.checkout(commit, workDir),
        idleSince: 0,
      };
      entry = created;
      this.shared.set(commit, created);
      // A failed checkout is forgotten, so the next caller tries again.
      created.checkout.catch(() => {
        if (this.shared.get(commit) === created) this.shared.delete(commit);
      });
    }
    const e = entry;
    e.users++;
    clearTimeout(e.timer);
    let co;
    try {
      co = await e.checkout;
    } catch (err) {
      e.users--;
      throw err;
    }
    let released = false;
    return {
      dir: co.dir,
      release: () => {
        if (released) return;
        released = true;
        if (--e.users > 0) return;
        e.idleSince = Date.now();
        e.timer = setTimeout(() => this.dropShared(commit, e), SHARED_LINGER_MS);
        e.timer.unref();
        const idle = [...this.shared.entries()]
          .filter(([, x]) => x.users === 0)
          .sort(([, a], [, b]) => a.idleSince - b.idleSince);
        for (const [c, x] of idle.slice(0, Math.max(0, idle.length - MAX_IDLE_SHARED)))
          this.dropShared(c, x);
      },
    };
  }

  private dropShared(commit: string, e: SharedEntry): void {
    if (e.users > 0 || this.shared.get(commit) !== e) return;
    clearTimeout(e.timer);
    this.shared.delete(commit);
    void e.checkout.then((co) => co.remove()).catch(() => undefined);
  }

  /** Removes every shared checkout nobody uses (the piped is stopping). */
  async dropIdleShared(): Promise<void> {
    const idle = [...this.shared.entries()].filter(([, e]) => e.users === 0);
    for (const [commit, e] of idle) {
      clearTimeout(e.timer);
      this.shared.delete(commit);
      await e.checkout.then((co) => co.remove()).catch(() => undefined);
    }
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
