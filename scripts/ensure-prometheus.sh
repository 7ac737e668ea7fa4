#!/usr/bin/env bash
# Installs Debian's prometheus for the analysis provider tests (packages/plugin-analysis) when it
# is missing (idempotent, quiet when it is there). Needs root or sudo, as apt-get does.
set -euo pipefail
if [ -x /usr/bin/prometheus ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-prometheus: /usr/bin/prometheus is missing and apt-get is not available; install prometheus by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
echo "ensure-prometheus: installing prometheus with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# The package's postinst starts a system service where an init system runs; the tests start
# their own server on a free port, so that one is neither needed nor in the way. The package
# lists are refreshed only when the install cannot find the package (saves ~15 s).
install() { $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }
if ! install; then
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
[ -x /usr/bin/prometheus ]
