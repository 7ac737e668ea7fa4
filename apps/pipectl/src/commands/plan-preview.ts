import { writeFile } from "node:fs/promises";
import type { PlanPreviewResult } from "@pipecd-ts/rest-api";
import { longTimeoutSignal } from "@pipecd-ts/runtime";
import { list, parseDuration, required, str } from "../args.js";
import type { GroupSpec } from "../command.js";
import { CliError, ExitCode } from "../errors.js";
import { elapsed } from "../output.js";
import { readableResult, renderReadableResult } from "../plan-preview.js";
import { openEventStream, type EventStream } from "../sse.js";

/** How often the answers are read again when no event says that one arrived. */
const POLL_MS = 2_000;

/** `pipectl plan-preview` (PipeCD's spelling; `plan-preview run` is the same command). */
export const planPreviewGroup: GroupSpec = {
  name: "plan-preview",
  summary: "what merging a branch or commit would deploy (PipeCD's plan preview)",
  single: true,
  commands: [
    {
      group: "plan-preview",
      verb: "run",
      summary:
        "ask the pipeds that deploy from a repository what merging HEAD into its branch would deploy; nothing is deployed",
      flags: {
        repo: {
          type: "string",
          arg: "REPO_ID",
          help: "the repository id in the pipeds' configs (required)",
        },
        head: {
          type: "string",
          arg: "BRANCH|COMMIT",
          help: "the branch or commit to preview (required)",
        },
        base: {
          type: "string",
          arg: "BRANCH",
          help: "the branch deployed from (default: each piped's branch of the repository)",
        },
        timeout: {
          type: "string",
          arg: "DURATION",
          help: "how long to wait for every answer (default 10m)",
        },
        "piped-handle-timeout": {
          type: "string",
          arg: "DURATION",
          help: "how long each piped may take (default 5m)",
        },
        out: {
          type: "string",
          arg: "FILE",
          help: "also write the result as JSON (PipeCD's ReadableResult) to FILE",
        },
        "sort-label-keys": {
          type: "string",
          multiple: true,
          arg: "KEY",
          help: "sort applications by these labels, then by name",
        },
      },
      details: `Prints PipeCD's plan-preview text (for a pull-request comment): per application the sync strategy (QUICK_SYNC or PIPELINE), a summary and the manifest diff against its last deployment. Exit 0 when every piped answered, even if some applications failed (they are listed); exit ${ExitCode.WAIT_TIMEOUT} when the answers did not all arrive within --timeout.
JSON (-o json, and --out): {"Applications": [{"ApplicationID", "ApplicationName", "ApplicationURL", "ApplicationKind", "ApplicationDirectory", "Env", "SyncStrategy", "StrategyReason", "PlanSummary", "PlanDetails", "NoChange", "Stages"}], "FailureApplications": [{…, "Reason", "PlanDetails"}], "FailurePipeds": [{"PipedID", "PipedName", "PipedURL", "Reason"}]}`,
      async run(ctx, v) {
        const repoId = required(v, "repo", ctx.helpHint);
        const head = required(v, "head", ctx.helpHint);
        const base = str(v, "base");
        const timeoutMs = parseDuration("--timeout", str(v, "timeout") ?? "10m");
        const handleMs = parseDuration(
          "--piped-handle-timeout",
          str(v, "piped-handle-timeout") ?? "5m",
        );
        const client = await ctx.client();
        const { commands } = await client.call("requestPlanPreview", {
          body: {
            repoId,
            head,
            ...(base ? { baseBranch: base } : {}),
            timeoutSeconds: Math.max(1, Math.min(3600, Math.round(handleMs / 1000))),
          },
        });
        if (commands.length === 0) {
          ctx.io.stdout("There is no piped that is handling the given Git repository\n");
          return ExitCode.OK;
        }
        const ids = new Set(commands.map((c) => c.commandId));
        const deadline = longTimeoutSignal(timeoutMs);
        const start = Date.now();
        let stream: EventStream | undefined;
        let wake: (() => void) | undefined;
        let dirty = false;
        // Ends the stream when the answers are in, even while it is still connecting.
        const listening = new AbortController();
        const listen = (async () => {
          try {
            stream = await openEventStream({
              address: ctx.address,
              apiKey: await ctx.apiKey(),
              connectTimeoutMs: ctx.requestTimeoutMs,
              idleTimeoutMs: 45_000,
              signal: AbortSignal.any([deadline, listening.signal]),
            });
            for await (const ev of stream.events)
              if (ev.type === "command" && ids.has(ev.id)) {
                dirty = true;
                wake?.();
              }
          } catch {
            // No stream: the poll below still reads the answers.
          }
        })();
        let results: PlanPreviewResult[] = [];
        try {
          for (;;) {
            dirty = false;
            results = (
              await client.call(
                "getPlanPreviewResults",
                { query: { commandId: [...ids] } },
                deadline,
              )
            ).results;
            if (results.every((r) => r.status !== "WAITING")) break;
            ctx.io.stderr(
              `waiting for ${results.filter((r) => r.status === "WAITING").length} of ${results.length} piped(s) (${elapsed(Date.now() - start)})\n`,
            );
            await new Promise<void>((resolve) => {
              if (dirty || deadline.aborted) return resolve();
              const t = setTimeout(done, POLL_MS);
              function done(): void {
                clearTimeout(t);
                deadline.removeEventListener("abort", done);
                wake = undefined;
                resolve();
              }
              wake = done;
              deadline.addEventListener("abort", done, { once: true });
            });
            if (deadline.aborted) break;
          }
        } catch (err) {
          if (!deadline.aborted) throw err;
        } finally {
          listening.abort();
          stream?.close();
          await listen;
        }
        const waiting = results.filter((r) => r.status === "WAITING");
        const readable = readableResult(results, {
          webUrl: ctx.address,
          sortLabelKeys: list(v, "sort-label-keys"),
        });
        const outFile = str(v, "out");
        if (outFile) await writeFile(outFile, JSON.stringify(readable, null, 2) + "\n");
        ctx.print(readable, () => renderReadableResult(readable));
        if (waiting.length || results.length < ids.size)
          throw new CliError(
            `timed out after ${elapsed(timeoutMs)}: ${waiting.length} piped(s) did not answer (${waiting.map((w) => w.pipedName || w.pipedId).join(", ")})`,
            ExitCode.WAIT_TIMEOUT,
          );
        return ExitCode.OK;
      },
    },
  ],
};
