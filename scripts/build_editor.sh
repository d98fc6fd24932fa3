#!/bin/sh
# Rebuild the playground's rule editor bundle (src/ruleengine/playground/static/vendor/codemirror.js) from the
# npm packages pinned in scripts/editor/package-lock.json. Needs node and npm (and the npm registry) only here:
# the bundle is committed and shipped in the Python package, so the service and its page never fetch anything.
set -eu
cd "$(dirname "$0")/editor"
npm ci --no-audit --no-fund
node build.mjs
