import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  DEFAULT_APP_CONFIG_FILE,
  parseApplicationConfig,
  type EventWatcherConfig,
} from "@pipecd-ts/config";
import { makeEventKey } from "@pipecd-ts/model";
import { EventStatus, type Application, type Event } from "@pipecd-ts/proto";
import { AppError, type Clock, type Logger, type Service } from "@pipecd-ts/runtime";
import type { ApiClient } from "../apiclient/client.js";
import { git, type GitRepo } from "../trigger/git.js";
import { untilWoken } from "../livestate/work-set.js";
import { commitMessage, replaceValue } from "./replace.js";

/** An event older than this is not applied (PipeCD: 1 h). */
const MAX_EVENT_AGE_MS = 3_600_000;

/** Options of {@link EventWatcher}. */
export interface EventWatcherOptions {
  api: Pick<ApiClient, "call">;
  repos: ReadonlyMap<string, GitRepo>;
  /** The piped config's `eventWatcher.checkInterval`. */
  checkIntervalMs: number;
  /** The piped config's `git`: who commits. */
  identity: { username: string; email: string };
  workDir: string;
  clock: Clock;
  logger: Logger;
  /** Called after a push to a repository (the trigger fetches it now). */
  onPushed?(repoId: string): void;
}

interface Status {
  id: string;
  status: EventStatus;
  description: string;
}

/**
 * PipeCD's event watcher (features §6): for each application whose config has `eventWatcher`
 * entries, the newest not-handled event with the matcher's name and exactly its labels has its
 * `data` written into the app's files (YAML fields or regex groups), committed (PipeCD's message
 * and the event's contexts as trailers) and pushed; the commit then deploys like any other.
 * Older events of the same key are OUTDATED, events older than an hour too. Runs every
 * `checkInterval`, and at once when the control plane says events were registered. A push
 * rejected because the branch moved is tried again on the next pass.
 */
export class EventWatcher implements Service {
  readonly name = "event-watcher";
  private apps: readonly Application[] = [];
  private wake: (() => void) | undefined;
  private pending = false;

  constructor(private readonly o: EventWatcherOptions) {}

  /** This piped's applications, as the trigger listed them. */
  setApplications(apps: readonly Application[]): void {
    this.apps = apps;
  }

  /** Look now (events were registered). */
  kick(): void {
    this.pending = true;
    this.wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.pending = false;
      try {
        await this.pass(signal);
      } catch (err) {
        if (!signal.aborted)
          this.o.logger.warn({ err: (err as Error).message }, "event watcher pass failed");
      }
      if (this.pending || signal.aborted) continue;
      await untilWoken(signal, (wake) => (this.wake = wake), this.o.checkIntervalMs);
      this.wake = undefined;
    }
  }

  private async pass(signal: AbortSignal): Promise<void> {
    const events = (await this.o.api.call("listEvents", {}, { signal })).events;
    if (events.length === 0) return;
    const byRepo = new Map<string, Application[]>();
    for (const a of this.apps) {
      const id = a.gitPath?.repo?.id ?? "";
      byRepo.set(id, [...(byRepo.get(id) ?? []), a]);
    }
    for (const [repoId, apps] of byRepo) {
      const repo = this.o.repos.get(repoId);
      if (!repo || signal.aborted) continue;
      const statuses = await this.handleRepo(repo, apps, events, signal);
      if (statuses.length) await this.o.api.call("reportEventStatuses", { statuses }, { signal });
    }
  }

  /** One repository: its apps' watchers against the events; one commit and push per event. */
  private async handleRepo(
    repo: GitRepo,
    apps: readonly Application[],
    events: readonly Event[],
    signal: AbortSignal,
  ): Promise<Status[]> {
    await repo.sync();
    const head = await repo.head();
    const checkout = await repo.checkout(head, this.o.workDir);
    const statuses: Status[] = [];
    try {
      const watchers: { app: Application; w: EventWatcherConfig }[] = [];
      for (const app of apps) {
        const file = posix.join(
          app.gitPath?.path ?? "",
          app.gitPath?.configFilename || DEFAULT_APP_CONFIG_FILE,
        );
        let cfg;
        try {
          cfg = parseApplicationConfig(file, await readFile(join(checkout.dir, file), "utf8"));
        } catch {
          continue; // an invalid config is the trigger's to report
        }
        for (const w of cfg.eventWatcher) watchers.push({ app, w });
      }
      // Per event key, the newest event; the rest are outdated by it.
      const byKey = new Map<string, Event[]>();
      for (const e of events) byKey.set(e.eventKey, [...(byKey.get(e.eventKey) ?? []), e]);
      const now = this.o.clock.now().getTime();
      for (const [key, list] of byKey) {
        const mine = watchers.filter(
          (x) => makeEventKey(x.w.matcher.name, x.w.matcher.labels) === key,
        );
        if (mine.length === 0) continue;
        const [latest, ...older] = list; // newest first
        for (const e of older)
          statuses.push({
            id: e.id,
            status: EventStatus.EVENT_OUTDATED,
            description: `The new event "${latest!.id}" has been created`,
          });
        const created = latest!.createdAt ? timestampDate(latest!.createdAt).getTime() : now;
        if (now - created > MAX_EVENT_AGE_MS) {
          statuses.push({
            id: latest!.id,
            status: EventStatus.EVENT_OUTDATED,
            description: `Too much time has passed since the event "${latest!.id}" was created`,
          });
          continue;
        }
        const st = await this.apply(repo, checkout.dir, latest!, mine, signal);
        if (st) statuses.push(st);
        // The next event starts from the branch's head again: one event's commit (pushed to a
        // pull-request branch, or not pushed at all) never rides along with another's.
        await git(["reset", "--quiet", "--hard", head], { cwd: checkout.dir });
      }
    } finally {
      await checkout.remove();
    }
    return statuses;
  }

  /** Writes one event into the files, commits and pushes; undefined: try again next pass. */
  private async apply(
    repo: GitRepo,
    dir: string,
    e: Event,
    watchers: { app: Application; w: EventWatcherConfig }[],
    signal: AbortSignal,
  ): Promise<Status | undefined> {
    const changed = new Set<string>();
    try {
      for (const { app, w } of watchers)
        for (const r of w.handler.replacements) {
          const file = posix.join(app.gitPath?.path ?? "", r.file);
          const path = join(dir, file);
          const text = await readFile(path, "utf8");
          const next = replaceValue(text, r, e.data);
          if (next !== undefined) {
            await writeFile(path, next);
            changed.add(file);
          }
        }
    } catch (err) {
      await git(["checkout", "--", "."], { cwd: dir }).catch(() => undefined);
      return {
        id: e.id,
        status: EventStatus.EVENT_FAILURE,
        description: `Failed to change files: ${(err as Error).message}`,
      };
    }
    if (changed.size === 0)
      return { id: e.id, status: EventStatus.EVENT_SUCCESS, description: "Nothing to commit" };
    const first = watchers[0]!.w.handler;
    const branch = first.makePullRequest ? `${e.name}-${randomUUID()}` : repo.branch;
    const trailers = Object.entries(e.contexts)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([k, v]) => ["--trailer", `${k}: ${v}`]);
    const { username, email } = this.o.identity;
    await git(
      [
        "-c",
        `user.name=${username}`,
        "-c",
        `user.email=${email}`,
        "commit",
        "--quiet",
        "-m",
        commitMessage(first.commitMessage, e.data, e.name),
        ...trailers,
        "--",
        ...changed,
      ],
      { cwd: dir, signal },
    );
    try {
      await git(["push", "--quiet", repo.remote, `HEAD:refs/heads/${branch}`], {
        cwd: dir,
        timeoutMs: 60_000,
        signal,
      });
    } catch (err) {
      const msg = err instanceof AppError ? err.message : String(err);
      // The branch moved since the fetch: the event waits for the next pass, on the new head.
      if (/failed to push some refs|non-fast-forward|fetch first|rejected/i.test(msg)) {
        this.o.logger.info({ event: e.id }, "push rejected (the branch moved); trying again later");
        return undefined;
      }
      return {
        id: e.id,
        status: EventStatus.EVENT_FAILURE,
        description: `Failed to push changed files: ${msg}`,
      };
    }
    this.o.logger.info(
      { event: e.id, name: e.name, branch, files: [...changed] },
      "event written to Git",
    );
    this.o.onPushed?.(repo.repoId);
    return {
      id: e.id,
      status: EventStatus.EVENT_SUCCESS,
      description: `Successfully updated ${changed.size} files in the "${repo.repoId}" repository`,
    };
  }
}
