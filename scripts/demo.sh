#!/usr/bin/env bash
# `make demo`: starts the control plane on embedded defaults (SQLite in ./.pipecd-data) and prints
# how to reach it. (The full canary demo with kube-sim and a piped lands with the piped issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
data=./.pipecd-data
http=${PIPECD_HTTP_PORT:-8080}
grpc=${PIPECD_GRPC_PORT:-9080}
echo "demo: starting the control plane (SQLite at $data/pipecd.db, http :$http, grpc :$grpc)..."
log=$(mktemp)
bin/pipecd-server --data-dir "$data" --http-port "$http" --grpc-port "$grpc" --listen-host 127.0.0.1 >"$log" 2>&1 &
pid=$!
cleanup() {
  trap - EXIT INT TERM
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  rm -f "$log"
  echo
  echo "demo: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do
  grep -q "pipecd-server ready" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; echo "demo: the control plane failed to start" >&2; exit 1; }
  sleep 0.1
done
grep -q "pipecd-server ready" "$log" || { cat "$log" >&2; echo "demo: the control plane did not become ready in 10 s" >&2; exit 1; }
key=$(cat "$data/admin-api-key")
curl -fsS -H "authorization: Bearer $key" "http://127.0.0.1:$http/api/v1/me" >/dev/null
cat <<MSG

  pipecd-ts control plane is running.
    REST API:        http://127.0.0.1:$http/api/v1   (OpenAPI: /api/v1/openapi.json)
    gRPC (pipeds):   127.0.0.1:$grpc
    admin API key:   $data/admin-api-key  (mode 0600; shown nowhere else)
    try:             curl -H "authorization: Bearer \$(cat $data/admin-api-key)" http://127.0.0.1:$http/api/v1/pipeds
                     curl -H "authorization: Bearer \$(cat $data/admin-api-key)" -X POST \\
                          -H 'content-type: application/json' -d '{"name":"my-piped"}' http://127.0.0.1:$http/api/v1/pipeds

  Ctrl-C stops it; state stays in $data for the next run.
MSG
# Warnings and errors of the server are shown as they happen. `wait` (unlike a foreground
# pipeline) lets the trap run as soon as a signal arrives, so the server is always stopped.
tail -n 0 -f "$log" --pid=$pid | grep --line-buffered -E '"level":(40|50|60)' &
wait $pid
