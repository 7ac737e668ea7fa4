#!/usr/bin/env bash
# `make check`: the proto drift check, lint (ESLint, Prettier, dependency direction) and the
# typecheck (`tsc -b` of TypeScript 7, the native compiler: ~15 s cold where 5.9 takes ~80 s;
# typescript-eslint keeps TypeScript 5.9, whose API it needs). The proto check runs first: buf regenerates packages/proto/src/gen, which
# the others read. Then ESLint (about a minute, type-aware) runs beside tsc and Prettier, which
# saves about 30 s on 2 cores. Each part's output is printed under its heading once all are done;
# the exit status is non-zero if any part failed.
#
# `--eslint-background FILE` (make test): ESLint is left running on its own core while the tests
# start (it takes about 75 s alone, single-threaded); its output goes to FILE and its exit
# status to FILE.rc. The test reporter prints it before TAP's summary and run-tests.sh fails the
# run when it failed (scripts/test-times.mjs, scripts/run-tests.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
background=""
if [ "${1:-}" = "--eslint-background" ]; then background="$2"; fi

echo "== proto (buf lint + drift check)"
bash scripts/check-proto-drift.sh || exit 1

eslint_cmd=(node_modules/.bin/eslint --max-warnings=0 --cache --cache-location node_modules/.cache/eslint .)
if [ -n "$background" ]; then
  mkdir -p "$(dirname "$background")"
  rm -f "$background" "$background.rc"
  # Detached, so it outlives this script; the rc file is written last (readers wait for it).
  setsid bash -c '"$@" >"$0" 2>&1; echo $? >"$0.rc.tmp"; mv "$0.rc.tmp" "$0.rc"' \
    "$background" "${eslint_cmd[@]}" </dev/null >/dev/null 2>&1 &
  echo "== eslint started in the background (reported before the test summary)"
else
  "${eslint_cmd[@]}" >"$out/eslint" 2>&1 &
  eslint=$!
fi
node_modules/typescript7/bin/tsc -b >"$out/tsc" 2>&1
tsc_rc=$?
node_modules/.bin/prettier --log-level warn --check . >"$out/prettier" 2>&1
prettier_rc=$?
node scripts/check-deps.mjs >"$out/deps" 2>&1
deps_rc=$?
eslint_rc=0
if [ -z "$background" ]; then
  wait "$eslint"
  eslint_rc=$?
fi

if [ -n "$background" ]; then
  echo "== lint (prettier, dependency direction; eslint reports before the test summary)"
else
  echo "== lint (eslint, prettier, dependency direction)"
  cat "$out/eslint"
fi
cat "$out/prettier" "$out/deps"
echo "== typecheck (tsc -b)"
cat "$out/tsc"
for rc in $eslint_rc $prettier_rc $deps_rc $tsc_rc; do
  if [ "$rc" != 0 ]; then
    echo "check failed: eslint=$eslint_rc prettier=$prettier_rc deps=$deps_rc tsc=$tsc_rc" >&2
    exit 1
  fi
done
