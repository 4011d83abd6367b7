#!/usr/bin/env bash
# Debian's chromium, which the report tests drive through playwright (/usr/bin/chromium; no
# `playwright install`). Installs it only when missing, through sudo when not root.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
