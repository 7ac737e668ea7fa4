#!/usr/bin/env bash
# Installs a Debian package the tests need when it is missing (idempotent, quiet when it is
# there). Usage: ensure-debian-package.sh PACKAGE WHY FILE... — nothing happens when any FILE
# exists (an executable, or a module file for a library package). The package lists are refreshed only when the install cannot find the
# package (saves ~15 s). Needs root or sudo, as apt-get does. Used by `make test` for chromium
# (the browser tests) and prometheus (the ANALYSIS tests; its postinst may start a system
# service where an init system runs, which the tests neither need nor meet: they start their own
# server on a free port).
set -euo pipefail
package=$1 why=$2
shift 2
for exe in "$@"; do [ -e "$exe" ] && exit 0; done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure: $package is missing ($why) and apt-get is not available; install it by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
echo "ensure: installing $package with apt-get ($why)" >&2
export DEBIAN_FRONTEND=noninteractive
install() { $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1; }
if ! install; then
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
fi
for exe in "$@"; do [ -e "$exe" ] && exit 0; done
echo "ensure: $package was installed but none of $* exists" >&2
exit 1
