// The test-time budget (every test file within 90 s on an idle 2-core machine, half the
// per-file timeout; `make test` within 10 min), made visible after every run.
//
// As a node:test reporter (scripts/run-tests.sh passes `--test-reporter=./scripts/test-times.mjs`):
// prints node's own TAP output unchanged, records each test file's wall time, and writes
// test-artifacts/test-times.json. Just before TAP's closing summary (which stays the last thing
// printed, as CI reads it) it adds the slowest files as TAP comments, marking any over budget.
//
// As a script (`node scripts/test-times.mjs`): prints that table again from the last run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { tap } from "node:test/reporters";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = `${ROOT}test-artifacts/test-times.json`;
/** Per test file, in seconds: half of run-tests.sh's --test-timeout. */
export const FILE_BUDGET_S = 90;
const SHOWN = 10;

/** The table of the slowest files, as lines. */
export function slowestLines(files, wallS) {
  const sorted = [...files].sort((a, b) => b.seconds - a.seconds);
  const over = sorted.filter((f) => f.seconds > FILE_BUDGET_S);
  const lines = [
    `test files: ${files.length} in ${wallS.toFixed(0)} s wall; the ${Math.min(SHOWN, files.length)} slowest (budget ${FILE_BUDGET_S} s per file):`,
    ...sorted
      .slice(0, SHOWN)
      .map(
        (f) =>
          `${f.seconds.toFixed(1).padStart(6)} s  ${f.file}${f.ok ? "" : "  (failed)"}${f.seconds > FILE_BUDGET_S ? "  OVER BUDGET" : ""}`,
      ),
  ];
  lines.push(
    over.length
      ? `${over.length} file(s) over the ${FILE_BUDGET_S} s budget: share their set-up (do not raise timeouts)`
      : `every file within the ${FILE_BUDGET_S} s budget`,
  );
  return lines;
}

/**
 * The result of the ESLint that `make test` left running beside the tests
 * (`PIPECD_LINT_RESULT`, see scripts/check.sh), as lines; waits for it (10 min at most).
 */
async function lintLines() {
  const file = process.env.PIPECD_LINT_RESULT;
  if (!file) return [];
  const deadline = Date.now() + 600_000;
  while (!existsSync(`${file}.rc`) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 500));
  const rc = existsSync(`${file}.rc`) ? readFileSync(`${file}.rc`, "utf8").trim() : "timeout";
  const output = existsSync(file) ? readFileSync(file, "utf8").trimEnd() : "";
  if (rc === "0") return ["eslint: ok (ran beside the tests)"];
  return [...output.split("\n"), `eslint: FAILED (exit ${rc}): the run fails`];
}

/** node:test reporter: TAP, plus the times (see the header). */
export default async function* testTimes(source) {
  const started = Date.now();
  const files = [];
  async function* observed() {
    for await (const ev of source) {
      const d = ev.data ?? {};
      // A file's own completion: the test node:test makes for it is named by its path.
      if (ev.type === "test:complete" && d.nesting === 0 && d.file && d.name === d.file)
        files.push({
          file: relative(ROOT, d.file),
          seconds: (d.details?.duration_ms ?? 0) / 1000,
          ok: d.details?.passed !== false && !d.details?.error,
        });
      // The run's closing plan comes right before the summary diagnostics.
      if (ev.type === "test:plan" && d.nesting === 0 && d.file === undefined) {
        yield ev;
        const wallS = (Date.now() - started) / 1000;
        try {
          mkdirSync(`${ROOT}test-artifacts`, { recursive: true });
          writeFileSync(RESULTS, JSON.stringify({ wallS, files }, null, 2) + "\n");
        } catch {
          // The table below still shows the times.
        }
        for (const message of [...(await lintLines()), ...slowestLines(files, wallS)])
          yield { type: "test:diagnostic", data: { nesting: 0, message } };
        continue;
      }
      yield ev;
    }
  }
  yield* tap(observed());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let last;
  try {
    last = JSON.parse(readFileSync(RESULTS, "utf8"));
  } catch {
    process.stderr.write(`test-times: no results yet (${RESULTS}); run make test first\n`);
    process.exit(1);
  }
  process.stdout.write(slowestLines(last.files, last.wallS).join("\n") + "\n");
}
