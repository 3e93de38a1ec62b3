#!/usr/bin/env bash
# The README's main-job command. Installs what is needed, builds, and runs
# the engine demo (tools/example/tier_demo). Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build tools/example/tier_demo >/dev/null
exec ./build/tools/example/tier_demo
