#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs each one for SECONDS (default 300), one after the other.
# Usage: fuzz/run.sh [SECONDS [HARNESS...]]   (HARNESS: request, path, cond, form, cookie, accept,
# autoindex_names; default all of them). A harness uses fuzz/<harness>.dict when there is one, else fuzz/http.dict.
#
# Each run starts from a fresh copy of fuzz/corpus/<harness>/ in build-fuzz/run/<harness>/, so
# what it adds never dirties the committed seeds. Runs are polite to a shared 2-core machine:
# nice 19, one job, one worker. Any crash, sanitizer report, leak or hang (over 25 s for one
# input) fails the run: the input is saved under build-fuzz/crashes/ and the exit status is 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-300}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(request path cond form cookie accept autoindex_names)

fuzz/build.sh build-fuzz
# llvm-14 installs its symbolizer off PATH; without it, crash reports have no file:line.
sym=/usr/lib/llvm-14/bin/llvm-symbolizer
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null && [ -x "$sym" ]; then
  export ASAN_SYMBOLIZER_PATH=$sym
fi
mkdir -p build-fuzz/crashes build-fuzz/logs

failed=()
for h in "${harnesses[@]}"; do
  bin=$root/build-fuzz/fuzz_$h
  run=$root/build-fuzz/run/$h
  log=$root/build-fuzz/logs/$h.log
  dict=$root/fuzz/$h.dict
  [ -f "$dict" ] || dict=$root/fuzz/http.dict
  rm -rf "$run"
  mkdir -p "$run/corpus"
  cp "fuzz/corpus/$h/"* "$run/corpus/"
  echo "fuzz: $h for ${secs} s (log: build-fuzz/logs/$h.log)"
  # -jobs=1 -workers=1 runs the fuzzer in one child process whose output goes to fuzz-0.log in
  # the working directory; the parent copies it to its own output when the child ends.
  rc=0
  (cd "$run" && nice -n 19 "$bin" corpus -jobs=1 -workers=1 -dict="$dict" \
    -max_len=8192 -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$root/build-fuzz/crashes/$h-") >"$log" 2>&1 || rc=$?
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | tr -s ' \t' ' ' || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $h passed: ${runs:-?} runs; $stats"
  else
    failed+=("$h")
    echo "fuzz: $h FAILED (exit $rc); the end of its log:" >&2
    grep -vE '^#[0-9]+|NEW_FUNC|^\s*$' "$log" | tail -40 >&2
    saved=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | sort -u)
    for f in $saved; do
      echo "fuzz: the failing input is saved as ${f#"$root"/}" >&2
      echo "fuzz: reproduce it with: build-fuzz/fuzz_$h ${f#"$root"/}" >&2
    done
    echo "fuzz: once it is fixed, add the input to fuzz/corpus/$h/ as a regression input" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
