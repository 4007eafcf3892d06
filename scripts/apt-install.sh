#!/usr/bin/env bash
# Installs Debian packages for the test setup, as root or with sudo, when a command is missing.
#   apt-install.sh <command> <hint if apt-get is missing> <package>...
# Used by install-browser.sh (chromium) and install-redis.sh (redis-server).
set -euo pipefail
cmd=$1 hint=$2
shift 2
if command -v "$cmd" >/dev/null 2>&1; then
  echo "$cmd: $("$cmd" --version 2>/dev/null || echo present)"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  echo "apt-install: installing $* needs root or sudo, and neither is available" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-install: no apt-get here; $hint" >&2
  exit 1
fi
# Wait for a running apt/dpkg (e.g. unattended upgrades) instead of failing at once; the
# frontend variable goes through `env` because sudo drops the caller's environment.
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
echo "apt-install: ${SUDO:+sudo }apt-get update"
apt_get update -qq
echo "apt-install: ${SUDO:+sudo }apt-get install $* (a few minutes on a fresh machine)"
apt_get install -y -qq --no-install-recommends "$@" >/dev/null
echo "$cmd: $("$cmd" --version)"
