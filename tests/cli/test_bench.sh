#!/usr/bin/env bash
# fixtures: synth_small
# kvlm bench on the small synthetic model: the table and the JSON carry every
# figure (prefill per prompt length, decode, open time, bandwidth, RSS), -d
# starts the runs deep in a context, a run the context cannot hold is an
# error (not a number), --act picks and reports the activation mode, and bad
# options get the usage. Speed itself is not
# tested: the figures only have to exist and be positive.
set -u
. "$(dirname "$0")/lib.sh"
need_synth
scratch bench

# 1. JSON, with a depth.
"$BIN" bench -m "$SYNTH" -p 8,16 -n 4 -d 8 -r 1 -t 2 --json >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 0 ]; then ok; else fail "bench --json (rc $rc)"; fi
if grep -q '"depth": 8,' "$W/out"; then ok; else fail "depth 8 in the JSON"; fi
if grep -q '"n_prompt": 8,' "$W/out" && grep -q '"n_prompt": 16,' "$W/out"; then ok; else fail "both prompt lengths"; fi
for key in tokens_per_s decode_tokens_per_s decode_ms_per_token open_to_first_logits_ms read_bandwidth_gb_s \
    decode_limit_tokens_per_s peak_rss_mb weight_bytes_per_token; do
    if grep -Eq "\"$key\": [0-9]*[1-9][0-9.e+-]*" "$W/out"; then ok; else fail "$key missing or not positive"; fi
done

# 2. The table.
"$BIN" bench -m "$SYNTH" -p 4 -n 2 -d 3 -r 1 -t 1 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 0 ] && grep -q '| pp4 ' "$W/out" && grep -q '| tg2 ' "$W/out" && grep -q 'open → first logits' "$W/out" &&
    grep -q 'after 3 tokens already in the state' "$W/out" && grep -q '^memory   read bandwidth' "$W/out"; then ok
else fail "the table (rc $rc)"; fi

# 3. A context too small for depth + prompt: an error naming the context, no figures.
"$BIN" bench -m "$SYNTH" -p 8 -n 0 -d 8 -c 12 -r 1 -t 1 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 1 ] && grep -qi 'context' "$W/err" && ! grep -q 'prefill' "$W/out"; then ok
else fail "a run past n_ctx must fail (rc $rc)"; fi

# 4. The activation modes: the run says which one it used (the synthetic folder is BF16).
for act in bf16 q8 f32; do
    "$BIN" bench -m "$SYNTH" -p 4 -n 1 -r 1 -t 1 --act "$act" --json >"$W/out" 2>"$W/err"
    rc=$?
    if [ $rc = 0 ] && grep -q "\"activations\": \"$act\"" "$W/out"; then ok; else fail "bench --act $act (rc $rc)"; fi
done
"$BIN" bench -m "$SYNTH" --act int4 >"$W/out" 2>"$W/err"
if grep -q 'expected f32, q8 or bf16' "$W/err"; then ok; else fail "a bad --act names the modes"; fi

# 5. Usage errors.
for args in "-p 8" "-m $SYNTH -d -1" "-m $SYNTH -r 0" "-m $SYNTH --act int4"; do
    # shellcheck disable=SC2086
    "$BIN" bench $args >"$W/out" 2>"$W/err"
    rc=$?
    if [ $rc = 2 ]; then ok; else fail "bench $args: rc 2 expected, got $rc"; fi
done

finish
