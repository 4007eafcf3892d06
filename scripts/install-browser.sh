#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (playwright-core drives it with
# executablePath; Playwright's own browser download cannot work on these machines).
# The integration test setup runs this when /usr/bin/chromium is missing.
exec bash "$(dirname "$0")/apt-install.sh" chromium 'install Chromium yourself and set CHROMIUM_PATH' chromium fonts-liberation
