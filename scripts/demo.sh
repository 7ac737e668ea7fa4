#!/usr/bin/env bash
# `make demo`: the seed's Istio canary on embedded defaults (SQLite + kube-sim), as separate
# processes, stopping at "waiting for approval" with the commands to approve and look (see
# test/demo/main.ts). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PIPECD_DEMO_T0_MS=${PIPECD_DEMO_T0_MS:-$(date +%s%3N)} exec node --import tsx test/demo/main.ts
