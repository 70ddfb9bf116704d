#!/usr/bin/env bash
# A Chromium or Chrome for the browser test (tests/test_site.py). Uses the machine's
# own when tools/find_chromium.py finds one; otherwise installs Debian's chromium
# package where root and apt-get allow it (once). Never fails the caller: where no
# browser can be had, the test itself skips with how to get one (and fails when CI=true).
#   tools/ensure_chromium.sh [PYTHON]
set -uo pipefail
python=${1:-python3}
find="$(dirname "$0")/find_chromium.py"
"$python" "$find" >/dev/null 2>&1 && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  "$python" "$find" >/dev/null  # prints why and how to get one
  echo "ensure_chromium: Debian's chromium cannot be installed here (needs root and apt-get)" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium (once)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
  echo "ensure_chromium: apt-get could not install chromium" >&2
fi
exit 0
