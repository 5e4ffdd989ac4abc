#!/usr/bin/env bash
# Installs the system packages the tests drive, when missing: Debian's Chromium (browser tests, with
# a Korean font for readable screenshots), nginx with its JavaScript module (gateway tests) and wrk
# (REST benchmark). PostgreSQL and Redis are expected to run on the machine already.
set -euo pipefail
packages=(chromium fonts-nanum nginx libnginx-mod-http-js wrk)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
