#!/usr/bin/env bash
# Builds every csrc/fuzz/fuzz_*.c with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (linking the whole core, compiled once), replays the
# inputs in regressions/ that once failed a target, then runs each target from its
# committed seed corpus (corpus/<target>/, made by make_corpus.py), JOBS targets at
# a time.  A crash, a sanitizer report, a failed property check or a hang fails the
# run.  New inputs a run finds go to build/fuzz/corpus/<target>/, never into the
# committed corpus.
#   bash csrc/fuzz/run.sh [SECONDS_PER_TARGET]          (default 10; what CI runs)
#   bash csrc/fuzz/run.sh --runs N [TARGET...]          a campaign: N executions per
#                                                       target, then a table of
#                                                       executions, rate and crashes
#   LUNARELAY_FUZZ_JOBS=N                               targets run at once (default 2)
#   LUNARELAY_FUZZ_OUT=DIR                              build and work directory, relative
#                                                       to csrc/ (default ../build/fuzz)
# With 18 targets, 10 s each and 2 jobs the short run takes about a minute and a half.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=""
SECONDS_PER_TARGET=10
if [ "${1:-}" = "--runs" ]; then
    RUNS=${2:?--runs needs a number of executions per target}
    shift 2
elif [ $# -gt 0 ]; then
    SECONDS_PER_TARGET=$1
    shift
fi
ONLY=("$@")
JOBS=${LUNARELAY_FUZZ_JOBS:-2}
CLANG=$(command -v clang-14 || command -v clang || true)
if [ -z "$CLANG" ]; then
    echo "clang with libFuzzer is not installed (Debian: clang-14 libclang-rt-14-dev)" >&2
    exit 1
fi
OUT=${LUNARELAY_FUZZ_OUT:-../build/fuzz}
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
    if [ ! -d "fuzz/corpus/${name#fuzz_}" ]; then
        echo "FAIL $name has no seed corpus in csrc/fuzz/corpus/${name#fuzz_} (python csrc/fuzz/make_corpus.py)" >&2
        exit 1
    fi
    if [ "${#ONLY[@]}" -eq 0 ] || [[ " ${ONLY[*]} " == *" ${name#fuzz_} "* ]]; then
        names+=("$name")
    fi
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

# Longest input per target: a codes input is a list of independent 10-octet generator calls, so a
# longer one only repeats work (and runs a hundred times slower); the others read frames and streams.
declare -A MAX_LEN=([fuzz_codes]=200)
run_target() {
    local name=$1 limit
    mkdir -p "$OUT/corpus/$name"
    rm -f "$OUT/$name"-crash-* "$OUT/$name"-leak-* "$OUT/$name"-timeout-* "$OUT/$name"-oom-*
    if [ -n "$RUNS" ]; then limit="-runs=$RUNS"; else limit="-max_total_time=$SECONDS_PER_TARGET"; fi
    # the first directory receives what the run finds; the committed seeds are only read
    "$OUT/$name" "$limit" -timeout=5 -rss_limit_mb=2048 -max_len="${MAX_LEN[$name]:-8192}" -print_final_stats=1 \
        -artifact_prefix="$OUT/$name-" "$OUT/corpus/$name" "fuzz/corpus/${name#fuzz_}" \
        > "$OUT/$name.log" 2>&1
}

stat() {  # stat NAME KEY: a final statistic of the target's last run
    grep -E "stat::$2:" "$OUT/$1.log" | tail -n 1 | awk '{print $2}'
}

# JOBS targets at a time, the next one starting as soon as any ends; report each as it ends,
# fail after all have ended.
failed=()
declare -A pid_name started
report() {
    local name=$1 status=$2 crashes
    crashes=$(find "$OUT" -maxdepth 1 -name "$name-*" -type f | wc -l)
    printf '%-13s %12s executions %8s/s %6ss  %3s new units  %s crash(es)  %s\n' "${name#fuzz_}" \
        "$(stat "$name" number_of_executed_units)" "$(stat "$name" average_exec_per_sec)" \
        "$(( $(date +%s) - started[$name] ))" "$(stat "$name" new_units_added)" "$crashes" "$status"
}
finish_any() {
    local pid status=0
    wait -n -p pid || status=$?
    local name=${pid_name[$pid]}
    unset "pid_name[$pid]"
    if [ "$status" -eq 0 ]; then
        report "$name" ok
    else
        tail -n 40 "$OUT/$name.log"
        report "$name" FAIL
        failed+=("$name")
    fi
}
if [ -n "$RUNS" ]; then
    echo "== campaign: $RUNS executions per target, $JOBS at a time"
else
    echo "== ${SECONDS_PER_TARGET}s per target, $JOBS at a time"
fi
for name in "${names[@]}"; do
    started[$name]=$(date +%s)
    run_target "$name" &
    pid_name[$!]=$name
    if [ "${#pid_name[@]}" -ge "$JOBS" ]; then
        finish_any
    fi
done
while [ "${#pid_name[@]}" -gt 0 ]; do
    finish_any
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAIL: ${failed[*]}" >&2
    exit 1
fi
