#!/usr/bin/env bash
# Builds every csrc/fuzz/fuzz_*.c with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (linking the whole core, compiled once), replays the
# inputs in regressions/ that once failed a target, then runs each target for a
# short time from its corpus, JOBS targets at a time.  A crash, a sanitizer
# report, a failed property check or a hang fails the run.
#   bash csrc/fuzz/run.sh [SECONDS_PER_TARGET]     (default 20)
#   LUNARELAY_FUZZ_JOBS=N                          targets run at once (default 2)
# With 15 targets, 20 s each and 2 jobs the run takes about three minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
JOBS=${LUNARELAY_FUZZ_JOBS:-2}
CLANG=$(command -v clang-14 || command -v clang || true)
if [ -z "$CLANG" ]; then
    echo "clang with libFuzzer is not installed (Debian: clang-14 libclang-rt-14-dev)" >&2
    exit 1
fi
OUT=../build/fuzz
mkdir -p "$OUT/obj"
COMMON="-std=gnu11 -g -O1 -fno-sanitize-recover=all -I."
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1

# The core once, instrumented for the fuzzer but without its main().
objs=()
for src in lr_*.c; do
    obj="$OUT/obj/$(basename "$src" .c).o"
    "$CLANG" $COMMON -fsanitize=fuzzer-no-link,address,undefined -c -o "$obj" "$src"
    objs+=("$obj")
done
names=()
for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    "$CLANG" $COMMON -fsanitize=fuzzer,address,undefined -o "$OUT/$name" "$src" "${objs[@]}" -lm
    names+=("$name")
done

# Every input that once failed a target must now pass it.
for case in fuzz/regressions/*.bin; do
    [ -e "$case" ] || continue
    name=$(basename "$case" .bin)
    name=${name%%-*}
    if [ ! -x "$OUT/$name" ]; then
        echo "FAIL regression $case: no target $name" >&2
        exit 1
    fi
    "$OUT/$name" "$case" > "$OUT/regression.log" 2>&1 ||
        { tail -n 40 "$OUT/regression.log"; echo "FAIL regression $case" >&2; exit 1; }
done
echo "== regressions replayed"

run_target() {
    local name=$1
    mkdir -p "$OUT/corpus/$name"
    "$OUT/$name" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$OUT/$name-" "$OUT/corpus/$name" \
        > "$OUT/$name.log" 2>&1
}

# JOBS targets at a time; report each as it ends, fail after all have ended.
failed=()
pids=()
pid_name=()
finish_one() {
    local pid=$1 name=$2
    if wait "$pid"; then
        echo "== $name (${SECONDS_PER_TARGET}s): $(grep -E 'stat::number_of_executed_units' "$OUT/$name.log" |
            tr -s ' ')"
    else
        tail -n 40 "$OUT/$name.log"
        echo "FAIL $name" >&2
        failed+=("$name")
    fi
}
for name in "${names[@]}"; do
    run_target "$name" &
    pids+=($!)
    pid_name+=("$name")
    if [ "${#pids[@]}" -ge "$JOBS" ]; then
        finish_one "${pids[0]}" "${pid_name[0]}"
        pids=("${pids[@]:1}")
        pid_name=("${pid_name[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    finish_one "${pids[$i]}" "${pid_name[$i]}"
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAIL: ${failed[*]}" >&2
    exit 1
fi
