#!/usr/bin/env bash
# Copy the demo page's browser libraries (lds/static/vendor/) from npm, at the exact versions of
# scripts/vendor/package-lock.json, with their licences: the page at / then needs no network.
# Run after changing scripts/vendor/package.json (`npm install --save-exact <pkg>@<version>` there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../lds/static/vendor"
(cd "$here/vendor" && npm ci --no-audit --no-fund --silent)
nm="$here/vendor/node_modules"
mkdir -p "$out/maplibre-gl" "$out/h3-js"
cp "$nm/maplibre-gl/dist/maplibre-gl.js" "$nm/maplibre-gl/dist/maplibre-gl.css" "$nm/maplibre-gl/LICENSE.txt" \
  "$out/maplibre-gl/"
cp "$nm/h3-js/dist/h3-js.umd.js" "$nm/h3-js/LICENSE" "$out/h3-js/"
for pkg in maplibre-gl h3-js; do
  node -e "const p=require('$nm/$pkg/package.json'); console.log(p.name + ' ' + p.version)" > "$out/$pkg/VERSION"
done
echo "vendored: $(cat "$out"/*/VERSION | tr '\n' ' ')"
