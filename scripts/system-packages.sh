#!/usr/bin/env bash
# Debian packages the project needs: the Traditional Chinese font for PDFs, poppler-utils
# (tests read PDFs back with pdftotext), Chromium for browser tests, Node.js for the JS
# verifier test.  Installs only what is missing; needs root (or skips with a warning).
set -euo pipefail
need=()
[ -f /usr/share/fonts/truetype/arphic/uming.ttc ] || need+=(fonts-arphic-uming)
if [ "${1:-}" != "--runtime" ]; then
  command -v pdftotext >/dev/null || need+=(poppler-utils)
  [ -x /usr/bin/chromium ] || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: please install: ${need[*]} (apt-get)" >&2
  fi
fi
