#!/usr/bin/env bash
# Installs Debian's redis-server for the integration tests (the test setup starts its own
# instances on free loopback ports; the system service is not used). Runs when redis-server
# is missing; needs root or sudo, like scripts/install-browser.sh.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: $(redis-server --version)"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  echo "install-redis: installing redis-server needs root or sudo, and neither is available" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-redis: no apt-get here; install redis-server (Redis ≥ 6.2) yourself" >&2
  exit 1
fi
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
echo "install-redis: ${SUDO:+sudo }apt-get update"
apt_get update -qq
echo "install-redis: ${SUDO:+sudo }apt-get install redis-server"
apt_get install -y -qq --no-install-recommends redis-server >/dev/null
echo "redis-server: $(redis-server --version)"
