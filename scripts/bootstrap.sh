#!/usr/bin/env bash
# Installs what the project needs on a machine with only Node 20 + npm (idempotent, quiet when
# everything is already there): pnpm 12.4.2 exactly (toolchain G1/G2) and the workspace deps.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=${npm_config_nodedir:-/usr}   # better-sqlite3 compiles against local headers (G4)
if [ "$(pnpm --version 2>/dev/null || true)" != "12.4.2" ]; then
  echo "bootstrap: installing pnpm 12.4.2" >&2
  npm i -g -E pnpm@12.4.2 --loglevel=error >/dev/null 2>&1 || npm i -g -E pnpm@12.4.2
fi
stamp=node_modules/.bootstrap-stamp
want="$(cat pnpm-lock.yaml package.json */*/package.json test/package.json 2>/dev/null | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: pnpm install (first run compiles better-sqlite3, ~90 s)" >&2
  pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -v 'better-sqlite3 install:' | tail -n 5 >&2
  echo "$want" >"$stamp"
fi
bash apps/web/scripts/build-if-changed.sh   # the web UI the control plane serves at /
node scripts/build-launchers.mjs --if-changed --quiet   # the bundles bin/* run (~2 s when changed)
