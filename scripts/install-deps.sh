#!/usr/bin/env bash
# Installs what kvlm needs to build and test on Debian/Ubuntu.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libpcre2-dev libjansson-dev libmicrohttpd-dev curl)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}"
fi
