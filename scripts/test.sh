#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, and runs the whole test suite
# (doctest unit tests and the integration tests that drive the real binary against a real
# SMTP server on loopback). Set CAMPAIGND_SANITIZE=1 for an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=build
flags=(-DCAMPAIGND_TESTS=ON)
if [ "${CAMPAIGND_SANITIZE:-0}" = "1" ]; then
  build=build-asan
  flags+=(-DCAMPAIGND_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"

start=$(date +%s)
ctest --test-dir "$build" --output-on-failure -j2 "$@"
echo "test suite took $(( $(date +%s) - start )) s"
