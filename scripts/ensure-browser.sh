#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser tests when it is missing.
# Never downloads a browser of its own; where apt is unavailable the browser tests
# skip with a loud reason instead.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: chromium missing and cannot apt-get install it here; browser tests will be skipped" >&2
  exit 0
fi
echo "ensure-browser: installing Debian's chromium for the report tests" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
  || echo "ensure-browser: apt-get install chromium failed; browser tests will be skipped" >&2
