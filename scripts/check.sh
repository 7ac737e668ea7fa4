#!/usr/bin/env bash
# `make check`: the proto drift check, lint (ESLint, Prettier, dependency direction) and the
# typecheck (tsc -b). The proto check runs first: buf regenerates packages/proto/src/gen, which
# the others read. Then ESLint (about a minute, type-aware) runs beside tsc and Prettier, which
# saves about 30 s on 2 cores. Each part's output is printed under its heading once all are done;
# the exit status is non-zero if any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== proto (buf lint + drift check)"
bash scripts/check-proto-drift.sh || exit 1

node_modules/.bin/eslint --max-warnings=0 --cache --cache-location node_modules/.cache/eslint . \
  >"$out/eslint" 2>&1 &
eslint=$!
node_modules/.bin/tsc -b >"$out/tsc" 2>&1
tsc_rc=$?
node_modules/.bin/prettier --log-level warn --check . >"$out/prettier" 2>&1
prettier_rc=$?
node scripts/check-deps.mjs >"$out/deps" 2>&1
deps_rc=$?
wait "$eslint"
eslint_rc=$?

echo "== lint (eslint, prettier, dependency direction)"
cat "$out/eslint" "$out/prettier" "$out/deps"
echo "== typecheck (tsc -b)"
cat "$out/tsc"
for rc in $eslint_rc $prettier_rc $deps_rc $tsc_rc; do
  if [ "$rc" != 0 ]; then
    echo "check failed: eslint=$eslint_rc prettier=$prettier_rc deps=$deps_rc tsc=$tsc_rc" >&2
    exit 1
  fi
done
