#!/usr/bin/env bash
# Put MathJax 3 (from the npm registry) into DEST, so that the website serves it
# itself instead of loading it from a CDN. Idempotent: does nothing when DEST
# already holds VERSION.
#   tools/vendor_mathjax.sh VERSION DEST
set -euo pipefail
version=${1:?usage: vendor_mathjax.sh VERSION DEST}
dest=${2:?usage: vendor_mathjax.sh VERSION DEST}
if [[ -f "$dest/tex-mml-chtml.js" && "$(cat "$dest/.version" 2>/dev/null)" == "$version" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "vendor_mathjax: npm not found; install Node.js and npm (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock \
  --loglevel=error "mathjax@$version" >/dev/null
pkg="$tmp/node_modules/mathjax"
es5="$pkg/es5"
rm -rf "$dest"
mkdir -p "$dest/output"
# The combined TeX+MathML -> CommonHTML component, what it loads on demand
# (TeX extensions, the menu, accessibility, speech), and its fonts.
cp -r "$es5/tex-mml-chtml.js" "$es5/input" "$es5/ui" "$es5/a11y" "$es5/sre" "$dest/"
cp -r "$es5/output/chtml" "$dest/output/"
cp "$pkg/LICENSE" "$dest/LICENSE"
echo "$version" > "$dest/.version"
echo "vendor_mathjax: MathJax $version in $dest ($(du -sh "$dest" | cut -f1))"
