#!/usr/bin/env bash
# Builds tunnel-server and tunnel-agent for Linux with the Swift standard library, Foundation
# and Dispatch linked in (--static-swift-stdlib), into a scratch build directory of their own,
# and copies the stripped binaries to .build-static/bin. They then need only glibc (and the
# C++ runtime) of the host: copy them to any Linux of the same architecture with glibc 2.36+.
#
#   deploy/build-static.sh            # release build (several minutes the first time)
#   ldd .build-static/bin/tunnel-server
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-static
for product in tunnel-server tunnel-agent; do
  swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product"
done
bin="$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)"
mkdir -p "$scratch/bin"
for product in tunnel-server tunnel-agent; do
  cp "$bin/$product" "$scratch/bin/$product"
  strip "$scratch/bin/$product"
done
ls -l "$scratch/bin"
