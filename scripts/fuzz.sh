#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang into build-fuzz/ and runs each one for
# SECONDS (default 30), one after the other, from a scratch copy of its seed corpus. Saved
# reproducers in tests/fuzz/regressions/<target>/ are replayed first. Exits non-zero when any
# target crashes, leaks, times out or runs out of memory, printing the reproducer's path.
#   scripts/fuzz.sh [SECONDS]
# Environment: FUZZ_TARGETS="fuzz_csv fuzz_segment" runs only those; FUZZ_JOBS (default 2) is
# the build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-30}
jobs=${FUZZ_JOBS:-2}

# clang-19 is the oldest Debian 12 clang whose C++23 mode accepts libstdc++ 12's <expected>
# (it needs __cpp_concepts >= 202002L); libclang-rt-19-dev has libFuzzer and the sanitizers.
clang_version=19
packages=(clang-${clang_version} libclang-rt-${clang_version}-dev)

bash scripts/install-deps.sh
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=$root/build-fuzz
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-${clang_version} -DCAMPAIGND_FUZZ=ON -DCAMPAIGND_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target fuzz_targets -j "$jobs"

# Symbolized stack traces in crash reports.
symbolizer=/usr/lib/llvm-${clang_version}/bin/llvm-symbolizer
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

targets=${FUZZ_TARGETS:-"fuzz_campaign_yaml fuzz_automation_yaml fuzz_segment fuzz_template fuzz_csv fuzz_webhook_json fuzz_inbound_mail"}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/campaignd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failed=()

for t in $targets; do
  bin=$build/tests/fuzz/$t
  artifacts=$build/artifacts/$t
  mkdir -p "$artifacts" "$scratch/$t"
  log=$build/$t.log
  common=(-rss_limit_mb=2048 -timeout=25 -artifact_prefix="$artifacts/")

  # Reproducers of crashes found before must stay fixed.
  regressions=("$root/tests/fuzz/regressions/$t"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "fuzz: $t: replaying ${#regressions[@]} saved reproducer(s)"
    if ! "$bin" "${common[@]}" "${regressions[@]}" >"$log.regressions" 2>&1; then
      tail -n 40 "$log.regressions"
      echo "fuzz: $t: a saved reproducer in tests/fuzz/regressions/$t/ fails again (log: $log.regressions)"
      failed+=("$t")
      continue
    fi
  fi

  cp -r "$root/tests/fuzz/corpus/$t/." "$scratch/$t/"
  dict=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  echo "fuzz: $t for ${seconds}s"
  if "$bin" "${common[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 "$scratch/$t" >"$log" 2>&1; then
    stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" | tr '\n' ' ')
    echo "fuzz: $t ok: $stats"
  else
    tail -n 60 "$log"
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "fuzz: $t FAILED (log: $log)"
    echo "fuzz: reproducer: ${reproducer:-none written; see the log}"
    [ -n "$reproducer" ] && echo "fuzz: replay with: $bin $reproducer"
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
