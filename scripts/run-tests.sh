#!/usr/bin/env bash
# Runs every node:test file of the repo (unit tests beside the code, package suites, e2e).
# Node 20 does not expand globs itself (G13), so the file list is built here. The reporter is
# node's TAP plus the slowest files against the 90 s per-file budget (scripts/test-times.mjs),
# printed just before TAP's summary, which stays the last thing printed (CI reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find packages apps test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-timeout=180000 --test-concurrency=2 \
  --test-reporter=./scripts/test-times.mjs --test-reporter-destination=stdout "$@" "${files[@]}"
