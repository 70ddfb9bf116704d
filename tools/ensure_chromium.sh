#!/usr/bin/env bash
# Install Debian's Chromium for the browser test (tests/test_site.py) when it is
# missing. Idempotent. Never fails the caller: where Chromium cannot be
# installed, the test itself says so (and fails when CI=true).
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium is missing and installing it needs root and apt-get;" \
       "install Debian's chromium package to run the browser test" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium (once)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
  echo "ensure_chromium: apt-get could not install chromium" >&2
fi
exit 0
