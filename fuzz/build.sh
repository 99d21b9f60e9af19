#!/usr/bin/env bash
# Builds the libFuzzer harnesses fuzz/fuzz_*.c into build-fuzz/ (or $1), each compiled directly
# with the sources it tests, under AddressSanitizer and UndefinedBehaviorSanitizer.
# Usage: fuzz/build.sh [OUT_DIR]    FUZZ_CC: the compiler (default clang-14, else clang).
# The compiler comes from `scripts/deps.sh fuzz`; `make fuzz` and `make fuzz-smoke` run both.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-fuzz}

cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
  for c in clang-14 clang; do
    if command -v "$c" >/dev/null; then cc=$c; break; fi
  done
fi
if [ -z "$cc" ]; then
  echo "fuzz: no clang found; run scripts/deps.sh fuzz (as root) first" >&2
  exit 1
fi

# -fno-sanitize-recover makes UBSan abort like ASan does: otherwise undefined behaviour would only
# be printed, and libFuzzer would neither stop nor save the input.
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -Isrc
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

mkdir -p "$out"
probe="$out/.probe"
if ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' |
    "$cc" -x c -fsanitize=fuzzer,address,undefined -o "$probe" - 2>/dev/null; then
  echo "fuzz: $cc cannot link -fsanitize=fuzzer; run scripts/deps.sh fuzz (libclang-rt-14-dev)" >&2
  exit 1
fi
rm -f "$probe"

build() {
  local name=$1; shift
  echo "fuzz: building $out/$name" >&2
  nice -n 19 "$cc" "${flags[@]}" "fuzz/$name.c" "$@" -o "$out/$name"
}
build fuzz_request src/http/http_parser.c
build fuzz_path src/http/http_path.c
build fuzz_cond src/http/http_cond.c
build fuzz_form src/app/form.c
build fuzz_cookie src/app/cookie.c
build fuzz_accept src/http/http_encoding.c
build fuzz_autoindex_names src/http/autoindex.c
