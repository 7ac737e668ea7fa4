#!/usr/bin/env bash
# Regenerates packages/proto/src/gen from proto/ and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # protoc-gen-es is a local plugin
node_modules/.bin/buf lint proto
node_modules/.bin/buf generate proto --template proto/buf.gen.yaml
if ! git diff --quiet --exit-code -- packages/proto/src/gen || [ -n "$(git ls-files --others --exclude-standard packages/proto/src/gen)" ]; then
  echo "proto drift: packages/proto/src/gen differs from 'buf generate' output; run 'pnpm gen' and commit." >&2
  git --no-pager diff --stat -- packages/proto/src/gen >&2
  exit 1
fi
echo "proto drift check: ok"
