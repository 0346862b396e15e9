#!/usr/bin/env bash
# The README's quickstart: installs what is needed, builds, imports the example contacts and
# purchase events, and runs the example campaigns once into the maildir outbox (no server needed).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCAMPAIGND_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"

cd examples
rm -rf var
../build/campaignd import contacts contacts.csv
../build/campaignd import events events.csv
../build/campaignd validate campaigns/*.yaml
../build/campaignd run --once
echo
../build/campaignd status --offline
echo
echo "messages in the outbox: $(ls var/outbox/new | wc -l)  (examples/var/outbox/new)"
first=$(ls var/outbox/new | head -n 1)
echo "--- the first one, headers ---"
sed -n '1,/^\r\?$/p' "var/outbox/new/$first"
