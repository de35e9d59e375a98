#!/usr/bin/env bash
# fixtures: synth_small
# kvlm run: stories260K greedy from BOS prints llama2.c's published story byte
# for byte; prompted runs encode the prompt as llama2.c's encode() does and
# continue it as the numpy re-implementation of run.c does (the expected texts
# of packs/stories-completion.jsonl); the timing table and the stop reasons;
# sampling flags and the model's generation_config defaults; empty and
# over-long prompts; bad flags.
set -u
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ST=$SHARED/models/stories260K
if [ ! -f "$ST/stories260K.bin" ] || [ ! -f "$ST/tok512.bin" ]; then
    echo "SKIP: $ST is absent (the shared reference data is not beside the checkout)"
    exit 77
fi
scratch run
STORIES=(-m "$ST/stories260K.bin" --tokenizer "$ST/tok512.bin" -t 1)

# expect_fail NAME CODE NEEDLE -- args...: exit CODE, stderr holds NEEDLE, stdout empty.
expect_fail() {
    local name=$1 code=$2 needle=$3
    shift 4
    "$BIN" run "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    if [ "$rc" = "$code" ] && grep -qF -- "$needle" "$W/err" && [ ! -s "$W/out" ]; then ok; else
        fail "$name: exit $rc (want $code), stderr must hold '$needle': kvlm run $*"
    fi
}

# 1. The published greedy story: -n 256 as llama2.c's -n 256 (BOS + 255 fed tokens = 256
#    positions; the 256th token is sampled from position 255 and printed, not fed).
if "$BIN" run "${STORIES[@]}" -p "" -n 256 >"$W/out" 2>"$W/err" && cmp -s "$W/out" "$ST/expected-greedy.txt"; then ok; else
    fail "stories260K greedy -n 256 differs from expected-greedy.txt"
    cmp "$W/out" "$ST/expected-greedy.txt"
fi
# the same with a 256-position context and no limit: the context ends it
if "$BIN" run "${STORIES[@]}" -p "" -n 0 --ctx 256 >"$W/out" 2>"$W/err" && cmp -s "$W/out" "$ST/expected-greedy.txt" &&
    grep -q "stop  *context full (256 positions)" "$W/err"; then ok; else fail "--ctx 256 -n 0 must give the same story"; fi
# the timing table
for field in "open " "prompt tokens  *1$" "prefill " "decode tokens  *256$" "ms/token" "context  *256 of 257 positions" \
    "sampling  *greedy" "stop  *max tokens (256)"; do
    "$BIN" run "${STORIES[@]}" -p "" -n 256 >/dev/null 2>"$W/err"
    if grep -q -- "$field" "$W/err"; then ok; else fail "the timing table has no '$field'"; fi
done
# -q: no table
if "$BIN" run "${STORIES[@]}" -p "" -n 4 -q >"$W/out" 2>"$W/err" && [ ! -s "$W/err" ] && [ -s "$W/out" ]; then ok; else
    fail "-q must silence the table"
fi
# a story that ends: llama2.c stops when the model picks BOS (id 1), the model's stop id
"$BIN" run "${STORIES[@]}" -p "They were happy." -n 0 >"$W/out" 2>"$W/err"
if grep -q "stop  *eos id 1$" "$W/err"; then ok; else fail "a finished story must stop on eos id 1"; fi

# 2. Prompted runs: kvlm's ids are llama2.c's (tests/reference/llama2c_tokenizer.py), and
#    the continuation is the reference's (packs/stories-completion.jsonl "expected").
if command -v python3 >/dev/null; then
    for prompt in "Once upon a time" "Lily and Ben were playing" "Sue said, \"Let's go!\"" "The sun was hot and the" \
        "Café au lait" "  two  spaces" "line one
line two"; do
        want=$(python3 "$ROOT/tests/reference/llama2c_tokenizer.py" "$ST/tok512.bin" "$prompt" |
            sed -E 's/^\{[0-9]+, \{(.*)\}\},$/[\1]/')
        got=$("$BIN" tokenize -m "$ST/stories260K.bin" --tokenizer "$ST/tok512.bin" "$prompt" 2>&1)
        if [ "$got" = "$want" ]; then ok; else fail "encoding of '$prompt': kvlm $got, llama2.c $want"; fi
    done
    python3 - "$ROOT/packs/stories-completion.jsonl" "$W" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip():
        c = json.loads(line)
        open("%s/case%d.prompt" % (sys.argv[2], n), "w", encoding="utf-8").write(c["input"])
        open("%s/case%d.n" % (sys.argv[2], n), "w").write(str(c["max_tokens"]))
        open("%s/case%d.want" % (sys.argv[2], n), "w", encoding="utf-8").write(c["expected"] + "\n")
        n += 1
EOF
    for f in "$W"/case*.prompt; do
        base=${f%.prompt}
        if "$BIN" run "${STORIES[@]}" -q -p "$(cat "$f")" -n "$(cat "$base.n")" >"$W/out" 2>"$W/err" &&
            cmp -s "$W/out" "$base.want"; then ok; else
            fail "kvlm run -p '$(cat "$f")' differs from the reference: got '$(cat "$W/out")', want '$(cat "$base.want")'"
        fi
    done
else
    echo "note: python3 is absent: the llama2.c encoding and the reference continuations are not compared"
fi
# --echo prints the prompt first; -p - reads it from stdin
"$BIN" run "${STORIES[@]}" -q -p "Once upon a time" -n 8 >"$W/plain" 2>/dev/null
"$BIN" run "${STORIES[@]}" -q -p "Once upon a time" -n 8 --echo >"$W/echo" 2>/dev/null
if [ "$(cat "$W/echo")" = "Once upon a time$(cat "$W/plain")" ]; then ok; else fail "--echo: '$(cat "$W/echo")'"; fi
printf 'Once upon a time' | "$BIN" run "${STORIES[@]}" -q -p - -n 8 >"$W/stdin" 2>/dev/null
if cmp -s "$W/stdin" "$W/plain"; then ok; else fail "-p - must read the prompt from stdin"; fi

# 3. Sampling: reproducible with a seed; --sample / --temp alone take the model's
#    generation_config.json defaults (synth-small: temperature 0.6, top-p 0.9).
"$BIN" run "${STORIES[@]}" -p "Once upon a time" -n 40 --temp 1.0 --seed 7 >"$W/s1" 2>"$W/err"
"$BIN" run "${STORIES[@]}" -p "Once upon a time" -n 40 --temp 1.0 --seed 7 >"$W/s2" 2>/dev/null
"$BIN" run "${STORIES[@]}" -p "Once upon a time" -n 40 --temp 1.0 --seed 8 >"$W/s3" 2>/dev/null
if cmp -s "$W/s1" "$W/s2" && ! cmp -s "$W/s1" "$W/s3" && grep -q "sampling  *temperature 1, top-p 1, seed 7" "$W/err"; then ok; else
    fail "sampling with a seed must be reproducible (and another seed differ)"
fi
"$BIN" run "${STORIES[@]}" -p "Once" -n 4 --temp 0.5 --top-k 20 --top-p 0.95 --min-p 0.05 --seed 1 >/dev/null 2>"$W/err"
if grep -q "temperature 0.5, top-p 0.95, top-k 20, min-p 0.05, seed 1" "$W/err"; then ok; else fail "sampling flags in the table"; fi
if [ -d "$SYNTH" ]; then
    for flag in --sample --temp --top-p; do
        "$BIN" run -m "$SYNTH" -t 2 -p "Hello" -n 2 $flag --seed 3 >/dev/null 2>"$W/err"
        if grep -q "sampling  *temperature 0.6, top-p 0.9, seed 3" "$W/err"; then ok; else
            fail "$flag alone must take generation_config's temperature 0.6 and top-p 0.9"
        fi
    done
    "$BIN" run -m "$SYNTH" -t 2 -p "Hello" -n 2 --temp 0.9 >/dev/null 2>"$W/err"
    if grep -q "temperature 0.9, top-p 0.9" "$W/err"; then ok; else fail "--temp 0.9: top-p from generation_config"; fi
    # greedy is deterministic on the HF model too; the stop ids come from generation_config
    "$BIN" run -m "$SYNTH" -t 2 -p "The capital of France is" -n 8 >"$W/g1" 2>"$W/err"
    "$BIN" run -m "$SYNTH" -t 2 -p "The capital of France is" -n 8 >"$W/g2" 2>/dev/null
    if cmp -s "$W/g1" "$W/g2" && [ -s "$W/g1" ] && grep -q "prompt tokens  *6$" "$W/err"; then ok; else
        fail "greedy on synth-small must be deterministic (prompt: BOS + 5 tokens)"
    fi
    # 4. An empty prompt starts from BOS alone
    if "$BIN" run -m "$SYNTH" -t 2 -p "" -n 3 >"$W/out" 2>"$W/err" && grep -q "prompt tokens  *1$" "$W/err"; then ok; else
        fail "an empty prompt must start from BOS"
    fi
else
    echo "note: $SYNTH is absent (the synth_small fixture did not run): the HF-model checks are skipped"
fi

# 5. An over-long prompt: a clear error before any compute, naming both lengths
long=$(printf 'the cat sat on the mat and %.0s' $(seq 1 40))
expect_fail "prompt longer than --ctx" 1 "the context holds 16 (--ctx 16)" -- "${STORIES[@]}" --ctx 16 -p "$long"
"$BIN" run "${STORIES[@]}" --ctx 16 -p "$long" >/dev/null 2>"$W/err"
n_long=$("$BIN" tokenize -m "$ST/stories260K.bin" --tokenizer "$ST/tok512.bin" "$long" | tr -cd ',' | wc -c)
if grep -qF "the prompt is $((n_long + 1)) tokens" "$W/err"; then ok; else fail "the message must name the prompt's length"; fi
long=$(printf 'the cat sat on the mat and %.0s' $(seq 1 120))
expect_fail "prompt longer than the model" 1 "more than the model's 512 positions" -- "${STORIES[@]}" -p "$long"

# 6. Bad flags and inputs
expect_fail "no model" 2 "no model" -- -p "x"
expect_fail "no prompt" 2 "no prompt" -- "${STORIES[@]}"
expect_fail "bad -n" 2 "--max-tokens: 'abc' is not an integer" -- "${STORIES[@]}" -p x -n abc
expect_fail "negative -n" 2 "out of range" -- "${STORIES[@]}" -p x -n -3
expect_fail "bad top-p" 2 "--top-p: 2 is out of range" -- "${STORIES[@]}" -p x --top-p 2
expect_fail "bad temp" 2 "--temp: 'hot' is not a number" -- "${STORIES[@]}" -p x --temp=hot
expect_fail "bad seed" 2 "--seed" -- "${STORIES[@]}" -p x --seed -1
expect_fail "bad kernels" 2 "unknown kernel set" -- "${STORIES[@]}" -p x --kernels mmx
expect_fail "unknown option" 2 "unknown option --frobnicate" -- "${STORIES[@]}" -p x --frobnicate
expect_fail "two prompts" 2 "unexpected argument" -- "${STORIES[@]}" -p x y
expect_fail "missing model" 1 "nothere" -- -m "$W/nothere.bin" -p x
expect_fail "no tokenizer" 1 "--tokenizer" -- -m "$ST/stories260K.bin" -p x
expect_fail "bad ctx" 1 "n_ctx 100000 is out of range" -- "${STORIES[@]}" -p x --ctx 100000

finish
