#!/usr/bin/env bash
# fixtures: synth_small
# llama.cpp reads kvlm's GGUF files: each model is loaded by llama.cpp (through
# its public C API, tests/interop/llamacpp_greedy_ids.c, compiled here against
# an existing llama.cpp build) and by kvlm (kvlm_greedy_ids); the prompt's
# token ids (each side's own tokenizer, read from the file) and the greedy
# tokens of STEPS decode steps must be equal.
#
# A free-running greedy path can split at a near-tie: llama.cpp multiplies
# quantized weights with activations it rounds to 8 bits (Q8_0/Q8_K), which
# moves logits as much as Q8_0 rounding of the weights does, and a random
# synthetic model has top-2 margins below 0.05. So when the paths split, both
# are run again teacher-forced on kvlm's tokens and compared step by step: the
# model still passes when llama.cpp's argmax equals kvlm's at >= 80% of the
# steps and the mean KL(kvlm || llama.cpp) of the next-token distributions is
# <= 0.05 nats (a wrong block layout or RoPE order gives several nats).
# STRICT=1 demands identical free-running paths.
#
# usage: llamacpp_greedy.sh [MODEL.gguf ...]
#   no models: converts the synthetic small model ($KVLM_BUILD_DIR/synth-small)
#   to bf16, f16, q8_0 and q4_0 with `kvlm convert` and checks each.
# environment:
#   LLAMA_CPP_BIN      a llama.cpp build's bin folder (libllama.so); unset: the test is skipped
#   LLAMA_CPP_INCLUDE  folder(s) with llama.h and ggml.h, ':'-separated (default: the source
#                      tree above LLAMA_CPP_BIN: ../../include and ../../ggml/include)
#   KVLM_GREEDY_IDS    kvlm's side (built by CMake as kvlm_greedy_ids)
#   STEPS (32), PROMPT, THREADS (2), CC (cc)
# Never builds llama.cpp itself.
set -u
if [ -z "${LLAMA_CPP_BIN:-}" ]; then
    echo "SKIP: LLAMA_CPP_BIN is not set; point it at a llama.cpp build's bin folder (with libllama.so)"
    echo "      to check that llama.cpp reads kvlm's GGUF files, e.g. LLAMA_CPP_BIN=/path/to/llama.cpp/build/bin"
    exit 77
fi
LIBDIR=""
for d in "$LLAMA_CPP_BIN" "$LLAMA_CPP_BIN/../lib" "$LLAMA_CPP_BIN/../lib64"; do
    if [ -e "$d/libllama.so" ] || [ -e "$d/libllama.dylib" ]; then LIBDIR=$(cd "$d" && pwd); break; fi
done
if [ -z "$LIBDIR" ]; then
    echo "SKIP: no libllama.so in $LLAMA_CPP_BIN (or ../lib): not a llama.cpp build with shared libraries"
    exit 77
fi
ROOT=$(cd "$LLAMA_CPP_BIN/../.." 2>/dev/null && pwd)
INCS=${LLAMA_CPP_INCLUDE:-$ROOT/include:$ROOT/ggml/include:$LLAMA_CPP_BIN/../include}
IFLAGS=()
have_header=0
IFS=: read -r -a inc_dirs <<< "$INCS"
for d in "${inc_dirs[@]}"; do
    [ -d "$d" ] && IFLAGS+=("-I$d")
    [ -f "$d/llama.h" ] && have_header=1
done
if [ $have_header = 0 ]; then
    echo "SKIP: llama.h not found in $INCS; set LLAMA_CPP_INCLUDE to the folders with llama.h and ggml.h"
    exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${KVLM_BUILD_DIR:-.}/interop
mkdir -p "$WORK"
KVLM_SIDE=${KVLM_GREEDY_IDS:-}
if [ -z "$KVLM_SIDE" ] || [ ! -x "$KVLM_SIDE" ]; then
    echo "FAIL: KVLM_GREEDY_IDS does not name kvlm's side (the kvlm_greedy_ids program of the build)"
    exit 1
fi
LC_SIDE=$WORK/llamacpp_greedy_ids
if ! ${CC:-cc} -std=c11 -O2 -Wall -Wextra "${IFLAGS[@]}" "$HERE/llamacpp_greedy_ids.c" -L"$LIBDIR" -lllama \
        -Wl,-rpath,"$LIBDIR" -o "$LC_SIDE" 2> "$WORK/cc.log"; then
    echo "FAIL: cannot compile llamacpp_greedy_ids.c against $LIBDIR:"
    cat "$WORK/cc.log"
    exit 1
fi
STEPS=${STEPS:-32}
THREADS=${THREADS:-2}
PROMPT=${PROMPT:-The capital of France is}

models=("$@")
if [ ${#models[@]} = 0 ]; then
    BIN=${KVLM_BIN:?KVLM_BIN is not set}
    SRC=${KVLM_BUILD_DIR:-.}/synth-small
    if [ ! -f "$SRC/config.json" ]; then
        echo "FAIL: $SRC is missing (the synth_small fixture)"
        exit 1
    fi
    for t in bf16 f16 q8_0 q4_0; do
        out=$WORK/synth-small-$t.gguf
        if ! "$BIN" convert "$SRC" -o "$out" --type $t > "$WORK/convert-$t.log" 2>&1; then
            echo "FAIL: kvlm convert --type $t:"
            cat "$WORK/convert-$t.log"
            exit 1
        fi
        models+=("$out")
    done
fi

fails=0
for m in "${models[@]}"; do
    name=$(basename "$m")
    if ! "$KVLM_SIDE" "$m" "$PROMPT" "$STEPS" "$THREADS" > "$WORK/kvlm.out" 2> "$WORK/kvlm.err"; then
        echo "FAIL: $name: kvlm: $(cat "$WORK/kvlm.err")"
        fails=$((fails + 1))
        continue
    fi
    if ! "$LC_SIDE" "$m" "$PROMPT" "$STEPS" "$THREADS" > "$WORK/llamacpp.out" 2> "$WORK/llamacpp.err"; then
        echo "FAIL: $name: llama.cpp: $(tail -5 "$WORK/llamacpp.err")"
        fails=$((fails + 1))
        continue
    fi
    line() { grep "^$1:" "$2" | cut -d: -f2; }
    kp=$(line prompt "$WORK/kvlm.out"); lp=$(line prompt "$WORK/llamacpp.out")
    read -r -a kg <<< "$(line greedy "$WORK/kvlm.out")"
    read -r -a lg <<< "$(line greedy "$WORK/llamacpp.out")"
    read -r -a km <<< "$(line margin "$WORK/kvlm.out")"
    read -r -a lm <<< "$(line margin "$WORK/llamacpp.out")"
    same=0
    while [ $same -lt "$STEPS" ] && [ "${kg[$same]:-x}" = "${lg[$same]:-y}" ]; do same=$((same + 1)); done
    if [ "$kp" != "$lp" ]; then
        echo "FAIL: $name: prompt ids differ: kvlm [$kp], llama.cpp [$lp]"
        fails=$((fails + 1))
        continue
    fi
    if [ $same = "$STEPS" ]; then
        min=$(printf '%s\n' "${km[@]}" | sort -g | head -1)
        echo "ok: $name: prompt ids [$kp] equal; greedy tokens equal for $same/$STEPS steps (smallest kvlm top-2 margin $min)"
        continue
    fi
    echo "$name: greedy paths split after $same of $STEPS equal steps: at step $same kvlm picks ${kg[$same]:-?}" \
         "(top-2 margin ${km[$same]:-?}), llama.cpp ${lg[$same]:-?} (margin ${lm[$same]:-?})"
    echo "  kvlm:      ${kg[*]}"
    echo "  llama.cpp: ${lg[*]}"
    # teacher-forced on kvlm's tokens: llama.cpp writes its logits, kvlm compares
    cmp=""
    if "$LC_SIDE" "$m" "$PROMPT" "$STEPS" "$THREADS" "$WORK/kvlm.out" "$WORK/llamacpp.logits" > /dev/null 2> "$WORK/llamacpp.err" &&
       "$KVLM_SIDE" "$m" "$PROMPT" "$STEPS" "$THREADS" "$WORK/kvlm.out" "$WORK/llamacpp.logits" > "$WORK/forced.out" 2> "$WORK/kvlm.err"; then
        cmp=$(grep '^compare:' "$WORK/forced.out")
    fi
    rm -f "$WORK/llamacpp.logits"
    agree=$(sed -n 's/.*argmax \([0-9]*\)\/.*/\1/p' <<< "$cmp")
    kl=$(sed -n 's/.*mean_kl \([^ ]*\).*/\1/p' <<< "$cmp")
    echo "  teacher-forced on kvlm's tokens:${cmp#compare:}"
    if [ "${STRICT:-0}" = 1 ] || [ -z "$agree" ] ||
       ! awk -v a="$agree" -v n="$STEPS" -v kl="$kl" 'BEGIN { exit !(a >= 0.8 * n && kl <= 0.05) }'; then
        echo "FAIL: $name: llama.cpp and kvlm disagree"
        fails=$((fails + 1))
    else
        echo "ok: $name: the paths split at a near-tie; teacher-forced, llama.cpp's argmax equals kvlm's at $agree/$STEPS steps, mean KL $kl nats"
    fi
done
if [ $fails != 0 ]; then
    echo "$fails of ${#models[@]} models differ"
    exit 1
fi
echo "llama.cpp ($LIBDIR) and kvlm agree on ${#models[@]} models"
exit 0
