#!/usr/bin/env bash
# The README's quickstart: installs what is needed, builds, imports the example contacts and
# purchase events, and runs the example campaigns once into the maildir outbox (no server needed).
# Then the daemon runs for a moment so people can "respond" through the real tracking links
# (scripts/simulate-responses.py), and the campaign report shows the figures.
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

echo
echo "--- responses: the daemon serves the tracking links; people open, click and buy ---"
export CAMPAIGND_ADMIN_TOKEN="${CAMPAIGND_ADMIN_TOKEN:-quickstart-admin-token}"
../build/campaignd run >var/daemon.log 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs http://127.0.0.1:8025/healthz >/dev/null 2>&1 && break; sleep 0.1; done
# Hits within tracking.scanner_window (10 s) of the send count as machine (link scanners, prefetch).
sleep 10
python3 ../scripts/simulate-responses.py var/outbox spring-sale http://127.0.0.1:8025 "$CAMPAIGND_ADMIN_TOKEN"
kill -TERM "$daemon"
wait "$daemon" || true
trap - EXIT
echo
../build/campaignd report spring-sale
