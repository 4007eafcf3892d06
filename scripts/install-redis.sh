#!/usr/bin/env bash
# Installs Debian's redis-server for the integration tests (the test setup starts its own
# instances on free loopback ports; the system service is not used). Runs when redis-server
# is missing; needs root or sudo.
exec bash "$(dirname "$0")/apt-install.sh" redis-server 'install redis-server (Redis >= 6.2) yourself' redis-server
