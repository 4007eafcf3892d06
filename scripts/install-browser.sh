#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (playwright-core drives it with
# executablePath; Playwright's own browser download cannot work on these machines).
# The integration test setup runs this when /usr/bin/chromium is missing; .ci/run too.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null || echo present)"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  echo "install-browser: installing chromium needs root or sudo, and neither is available" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get here; install Chromium yourself and set CHROMIUM_PATH" >&2
  exit 1
fi
# Wait for a running apt/dpkg (e.g. unattended upgrades) instead of failing at once; the
# frontend variable goes through `env` because sudo drops the caller's environment.
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
echo "install-browser: ${SUDO:+sudo }apt-get update"
apt_get update -qq
echo "install-browser: ${SUDO:+sudo }apt-get install chromium fonts-liberation (a few minutes on a fresh machine)"
apt_get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "chromium: $(chromium --version)"
