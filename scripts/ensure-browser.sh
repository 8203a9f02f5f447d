#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser tests (tests/test_report_browser.py)
# when it is missing. Never downloads a browser of its own (no `playwright install`);
# where apt is unavailable the browser tests skip with a loud reason instead
# (or fail, with ARCHBENCH_REQUIRE_BROWSER=1). Always exits 0: a missing browser is
# reported by the tests, not by the install step.
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: chromium missing and cannot apt-get install it here (need root and apt);" \
       "the report's browser tests will be skipped" >&2
  exit 0
fi
echo "ensure-browser: installing Debian's chromium for the report tests" >&2
if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); then
  echo "ensure-browser: installed $(chromium --version 2>/dev/null | head -n1)" >&2
else
  echo "ensure-browser: apt-get install chromium failed; the report's browser tests will be skipped" >&2
fi
exit 0
