#!/usr/bin/env bash
# fixtures: synth_small
# kvlm chat scripted over stdin on the synthetic model: two turns in one state
# (the second keeps the first's tokens), deterministic, /reset, /quit, the
# system prompt, a context that fills (between turns and during an answer),
# the timing table, and the errors.
set -u
. "$(dirname "$0")/lib.sh"
need_synth
scratch chat
CHAT=(chat -m "$SYNTH" -t 2)

# 1. Two turns, twice: the same answers; the second turn reuses the first's tokens.
printf 'Hello there\nWhat is two plus two?\n' | "$BIN" "${CHAT[@]}" -n 6 >"$W/a" 2>"$W/err"
rc=$?
printf 'Hello there\nWhat is two plus two?\n' | "$BIN" "${CHAT[@]}" -n 6 >"$W/b" 2>/dev/null
if [ $rc = 0 ] && [ -s "$W/a" ] && cmp -s "$W/a" "$W/b"; then ok; else fail "two scripted turns must be deterministic (rc $rc)"; fi
if [ "$(grep -c '^kvlm timing' "$W/err")" = 2 ]; then ok; else fail "one timing table per turn"; fi
for field in "open " "prompt tokens" "prefill " "decode tokens  *6$" "ms/token" "of 4096 positions" "stop  *max tokens (6)"; do
    if grep -q -- "$field" "$W/err"; then ok; else fail "the timing table has no '$field'"; fi
done
# the first turn feeds the whole prompt; the second keeps what the state holds
if grep -q "reused  *[0-9][0-9]* tokens (already in the state)" "$W/err"; then ok; else fail "turn 2 must reuse the state"; fi
if [ "$(grep -c 'open ' "$W/err")" = 1 ]; then ok; else fail "open is reported once"; fi

# 2. /reset: the same first turn after a reset gives the same answer, and the output is
#    answer + answer; /quit ends (what follows is not read).
printf 'Hello there\n/reset\nHello there\n/quit\nnot read\n' | "$BIN" "${CHAT[@]}" -n 6 -q >"$W/r" 2>"$W/err"
rc=$?
printf 'Hello there\n' | "$BIN" "${CHAT[@]}" -n 6 -q >"$W/one" 2>/dev/null
if [ $rc = 0 ] && [ "$(cat "$W/r")" = "$(cat "$W/one")
$(cat "$W/one")" ] && grep -q "conversation is reset" "$W/err"; then ok; else
    fail "/reset must give the first answer again: got '$(cat "$W/r")', one '$(cat "$W/one")'"
fi
# blank lines are skipped
printf '\n\nHello there\n\n' | "$BIN" "${CHAT[@]}" -n 6 -q >"$W/blank" 2>/dev/null
if cmp -s "$W/blank" "$W/one"; then ok; else fail "blank lines must be skipped"; fi

# 3. The system prompt is part of the prompt (Llama 3.2: the system block grows)
printf 'Hello there\n' | "$BIN" "${CHAT[@]}" -n 2 >/dev/null 2>"$W/nosys"
printf 'Hello there\n' | "$BIN" "${CHAT[@]}" -n 2 --system "You are a helpful assistant." >/dev/null 2>"$W/sys"
n1=$(sed -n 's/^  prompt tokens *//p' "$W/nosys")
n2=$(sed -n 's/^  prompt tokens *//p' "$W/sys")
if [ -n "$n1" ] && [ -n "$n2" ] && [ "$n2" -gt "$n1" ]; then ok; else fail "--system: prompt tokens $n1 -> $n2"; fi
# /reset keeps the system prompt
printf 'Hello there\n/reset\nHello there\n' | "$BIN" "${CHAT[@]}" -n 2 --system "Be brief." >/dev/null 2>"$W/err"
if [ "$(sed -n 's/^  prompt tokens *//p' "$W/err" | sort -u | wc -l)" = 1 ]; then ok; else fail "/reset must keep the system prompt"; fi

# 4. The context fills between turns: a clear message, the turn is dropped, /reset recovers;
#    the exit status says a turn went unanswered.
printf 'Hello there\nTell me a long story about a cat, a dog and a very old tree by the river\n/reset\nHello there\n' |
    "$BIN" "${CHAT[@]}" -n 4 --ctx 50 -q >"$W/full" 2>"$W/err"
rc=$?
printf 'Hello there\n' | "$BIN" "${CHAT[@]}" -n 4 --ctx 50 -q >"$W/one4" 2>/dev/null
if [ $rc = 1 ] && grep -q "the context is full: the conversation would be [0-9]* tokens, the context holds 50" "$W/err" &&
    [ "$(cat "$W/full")" = "$(cat "$W/one4")
$(cat "$W/one4")" ]; then ok; else
    fail "context full between turns (rc $rc): got '$(cat "$W/full")'"
fi
# ... and during an answer: cut short, said so, not a crash
printf 'Hello there\nAgain\n' | "$BIN" "${CHAT[@]}" --ctx 40 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 1 ] && grep -q "stop  *context full (40 positions)" "$W/err" && grep -q "the answer was cut short" "$W/err" &&
    grep -q "context  *40 of 40 positions" "$W/err"; then ok; else fail "context full during an answer (rc $rc)"; fi

# 5. Sampling in chat: reproducible with a seed
printf 'Hello there\nMore\n' | "$BIN" "${CHAT[@]}" -n 6 --temp 0.9 --seed 11 -q >"$W/s1" 2>/dev/null
printf 'Hello there\nMore\n' | "$BIN" "${CHAT[@]}" -n 6 --temp 0.9 --seed 11 -q >"$W/s2" 2>/dev/null
if cmp -s "$W/s1" "$W/s2" && [ -s "$W/s1" ]; then ok; else fail "chat sampling with a seed must be reproducible"; fi
# another chat format by name (the model's tokens still parse)
if printf 'Hello there\n' | "$BIN" "${CHAT[@]}" -n 2 --chat-format llama3 -q >/dev/null 2>"$W/err"; then ok; else
    fail "--chat-format llama3"
fi

# 6. Errors
expect_fail() {
    local name=$1 code=$2 needle=$3
    shift 4
    printf 'Hello\n' | "$BIN" chat "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    if [ "$rc" = "$code" ] && grep -qF -- "$needle" "$W/err" && [ ! -s "$W/out" ]; then ok; else
        fail "$name: exit $rc (want $code), stderr must hold '$needle': kvlm chat $*"
    fi
}
expect_fail "no model" 2 "no model" --
expect_fail "unknown format" 2 "vicuna" -- -m "$SYNTH" --chat-format vicuna
expect_fail "an operand" 2 "unexpected argument" -- -m "$SYNTH" hello
expect_fail "bad ctx" 1 "n_ctx" -- -m "$SYNTH" --ctx 999999999
ST=$SHARED/models/stories260K
if [ -f "$ST/stories260K.bin" ]; then
    expect_fail "no chat template" 1 "has no chat template: choose one with --chat-format" -- -m "$ST/stories260K.bin" \
        --tokenizer "$ST/tok512.bin"
fi

finish
