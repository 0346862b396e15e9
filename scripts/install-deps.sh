#!/usr/bin/env bash
# Installs every Debian package campaignd needs to build, test and run. Idempotent; run as root
# (or with sudo) on Debian 12. Nothing is downloaded from anywhere but Debian's archive.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates
  # libraries (see CMakeLists.txt / cmake/Dependencies.cmake)
  libcurl4-openssl-dev libkainjow-mustache-dev libcpp-httplib-dev libsqlite3-dev libspdlog-dev
  doctest-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev libpq-dev
  # tests: a real SMTP server, an independent DKIM verifier, the sqlite3 shell, curl, a headless
  # browser (status page screenshot), wrk (tests/load), a PostgreSQL server (scripts/pg-test-cluster.sh)
  python3 python3-aiosmtpd python3-dkim python3-nacl openssl sqlite3 curl chromium wrk postgresql
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
