#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS, one at a time and niced, each from
# its corpus (kept between runs) seeded by make_seeds.sh, then prints the
# executions, coverage and findings of each.
#
# usage: fuzz/run.sh SECONDS [TARGET ...]
#   targets: fuzz_gguf fuzz_safetensors fuzz_tokenizer_json fuzz_model (default: all)
# environment: KVLM_FUZZ_BUILD (default: build-fuzz beside this folder; configured
#   and built with clang when it lacks the targets), KVLM_SHARED_DIR (extra seeds).
# Findings (crash-*, leak-*, timeout-*, oom-*) land in $KVLM_FUZZ_BUILD/fuzz/artifacts/;
# reproduce one with: $KVLM_FUZZ_BUILD/fuzz/TARGET ARTIFACT
set -u
SECS=${1:?usage: fuzz/run.sh SECONDS [TARGET ...]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${KVLM_FUZZ_BUILD:-$ROOT/build-fuzz}
TARGETS=("$@")
[ ${#TARGETS[@]} = 0 ] && TARGETS=(fuzz_gguf fuzz_safetensors fuzz_tokenizer_json fuzz_model)
export KVLM_SHARED_DIR=${KVLM_SHARED_DIR:-$ROOT/../shared}

need_build=0
for t in "${TARGETS[@]}"; do [ -x "$BUILD/fuzz/$t" ] || need_build=1; done
if [ $need_build = 1 ]; then
    command -v clang > /dev/null || { echo "fuzz/run.sh: clang is needed (apt-get install clang libclang-rt-dev)"; exit 1; }
    CC=clang cmake -S "$ROOT" -B "$BUILD" -DKVLM_FUZZ=ON -DKVLM_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null || exit 1
    nice -n 10 cmake --build "$BUILD" -j2 --target kvlm "${TARGETS[@]}" > "$BUILD/fuzz-build.log" 2>&1 ||
        { tail -30 "$BUILD/fuzz-build.log"; exit 1; }
fi
SEEDS=$BUILD/fuzz/seeds
if [ ! -d "$SEEDS/gguf" ]; then
    bash "$ROOT/fuzz/make_seeds.sh" "$BUILD/kvlm" "$SEEDS" || exit 1
fi
ART=$BUILD/fuzz/artifacts
mkdir -p "$ART"
printf '%-22s %12s %8s %10s %8s %8s  %s\n' target executions exec/s coverage features corpus findings > "$BUILD/fuzz/summary.txt"
status=0
for t in "${TARGETS[@]}"; do
    corpus=$BUILD/fuzz/corpus/$t
    mkdir -p "$corpus"
    log=$BUILD/fuzz/$t.log
    before=$(ls "$ART" | grep -c "^$t-" || true)
    echo "fuzz/run.sh: $t for $SECS s (log: $log)"
    nice -n 10 "$BUILD/fuzz/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=131072 \
        -print_final_stats=1 -artifact_prefix="$ART/$t-" "$corpus" "$SEEDS/${t#fuzz_}" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
    after=$(ls "$ART" | grep -c "^$t-" || true)
    found=$((after - before))
    what="none"
    if [ $rc != 0 ] || [ $found != 0 ]; then
        what="$found new artifact(s), exit $rc: $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log")"
        status=1
    fi
    printf '%-22s %12s %8s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$what" \
        >> "$BUILD/fuzz/summary.txt"
done
cat "$BUILD/fuzz/summary.txt"
exit $status
