#!/usr/bin/env bash
# Builds every csrc/fuzz/fuzz_*.c with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (linking the whole core) and runs each for a short
# time from its seed corpus.  A crash, a sanitizer report or a hang fails the run.
#   bash csrc/fuzz/run.sh [SECONDS_PER_TARGET]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
CLANG=$(command -v clang-14 || command -v clang || true)
if [ -z "$CLANG" ]; then
    echo "clang with libFuzzer is not installed (Debian: clang-14 libclang-rt-14-dev)" >&2
    exit 1
fi
OUT=../build/fuzz
mkdir -p "$OUT"
FLAGS="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I."
for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    "$CLANG" $FLAGS -o "$OUT/$name" "$src" lr_*.c -lm
    mkdir -p "$OUT/corpus/$name"
    echo "== $name (${SECONDS_PER_TARGET}s)"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$OUT/$name" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$OUT/$name-" "$OUT/corpus/$name" \
        > "$OUT/$name.log" 2>&1 || { tail -n 40 "$OUT/$name.log"; echo "FAIL $name" >&2; exit 1; }
    grep -E "stat::number_of_executed_units|Done" "$OUT/$name.log" || true
done
