#!/usr/bin/env bash
# Builds the web UI (apps/web/dist, served by the control plane at /) when its sources or the
# packages it bundles changed since the last build; quiet and ~0 s otherwise. Run by bootstrap.
set -euo pipefail
cd "$(dirname "$0")/../../.."
stamp=node_modules/.cache/web-build-stamp
# Everything the bundle is made of: the app, the workspace packages it bundles (rest-api and
# what it imports: proto, runtime, model) and the lockfile (the versions of React, Vite, …).
want="$(find apps/web/src apps/web/index.html apps/web/vite.config.ts apps/web/package.json \
  packages/rest-api/src packages/proto/src packages/runtime/src packages/model/src \
  pnpm-lock.yaml -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ -f apps/web/dist/index.html ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: building the web UI (vite build, ~1 s)" >&2
apps/web/node_modules/.bin/vite build --logLevel warn apps/web
mkdir -p "$(dirname "$stamp")"
echo "$want" >"$stamp"
