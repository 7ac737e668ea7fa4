#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (test/web) when it is missing (idempotent,
# quiet when it is there; ~25 s on a fresh machine). Needs root or sudo, as apt-get does.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium is missing and apt-get is not available; install chromium by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
echo "ensure-chromium: installing chromium with apt-get (~25 s)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
