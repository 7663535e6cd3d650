#!/usr/bin/env bash
# The .deb and .rpm, offline, with the npm package @tauri-apps/cli (it ships
# its own binary). The CLI is built in the same cargo run as the app, so one
# release compile serves both (and /usr/bin/haid-models in the package).
# ui/dist must be built first (`make bundle` does it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f ui/dist/index.html ] || { echo "ui/dist is missing: run 'make ui' (or 'make bundle')" >&2; exit 1; }
exec ui/node_modules/.bin/tauri build --ci --bundles deb rpm -- -p haid-models -p haid-models-desktop
