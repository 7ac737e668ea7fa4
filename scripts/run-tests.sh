#!/usr/bin/env bash
# Runs every node:test file of the repo (unit tests beside the code, package suites, e2e).
# Node 20 does not expand globs itself (G13), so the file list is built here. The reporter is
# node's TAP plus the slowest files against the 90 s per-file budget (scripts/test-times.mjs),
# printed just before TAP's summary, which stays the last thing printed (CI reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find packages apps test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
rc=0
node --import tsx --test --test-timeout=180000 --test-concurrency=2 \
  --test-reporter=./scripts/test-times.mjs --test-reporter-destination=stdout "$@" "${files[@]}" || rc=$?
# ESLint ran in the background (make test): the reporter printed its result before the summary;
# here a failed lint fails the run without printing anything after the summary.
if [ -n "${PIPECD_LINT_RESULT:-}" ]; then
  for _ in $(seq 1 600); do [ -f "$PIPECD_LINT_RESULT.rc" ] && break; sleep 1; done
  if [ "$(cat "$PIPECD_LINT_RESULT.rc" 2>/dev/null)" != "0" ]; then rc=1; fi
fi
exit "$rc"
