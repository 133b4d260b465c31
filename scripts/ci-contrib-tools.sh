#!/usr/bin/env bash
# Installs what tests/contrib.rs uses when it is present: logrotate (`logrotate -d` on the
# stanza in contrib/logrotate). systemd-analyze comes with systemd on Debian.
set -euo pipefail
if ! command -v logrotate >/dev/null; then
  apt-get update -qq && apt-get install -y -qq logrotate > /dev/null
fi
