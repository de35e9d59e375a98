#!/usr/bin/env bash
# fixtures: synth_small
# kvlm translate and kvlm copyedit on the synthetic model: the system prompts,
# deterministic outputs, the same with and without prefix reuse, one text per
# stdin line (each from a clean state: the same as one request at a time),
# the timing table with the prefill time the prefix cache saves, and bad input.
set -u
. "$(dirname "$0")/lib.sh"
need_synth
scratch translate
M=(-m "$SYNTH" -t 2)

# 1. The system prompts
if [ "$("$BIN" translate --to French --print-prompt)" = \
    "You are a French translator. Translate the user message to French. Output only the translation." ]; then ok; else
    fail "the Core ML port's translation prompt"
fi
if [ "$("$BIN" translate --to German --from English --print-prompt)" = \
    "You are a German translator. Translate the user message from English to German. Output only the translation." ]; then ok
else fail "the translation prompt with a source language"; fi
if "$BIN" copyedit --print-prompt | grep -q "sight"; then ok; else fail "the copy-edit prompt"; fi

# 2. Deterministic; identical without prefix reuse
T1="The cat is on the table."
T2="Bill France Sr. was the founder of NASCAR. And, and, you know, I traveled in that garage for 20 plus weekends."
T3="we need to make sure the sight is stable before launch"
"$BIN" translate "${M[@]}" --to French "$T1" >"$W/a" 2>"$W/err"
rc=$?
"$BIN" translate "${M[@]}" --to French "$T1" >"$W/b" 2>/dev/null
"$BIN" translate "${M[@]}" --to French --no-prefix-reuse "$T1" >"$W/c" 2>"$W/err-noreuse"
if [ $rc = 0 ] && [ -s "$W/a" ] && cmp -s "$W/a" "$W/b" && cmp -s "$W/a" "$W/c"; then ok; else
    fail "translate must be deterministic and the same without prefix reuse"
fi
for field in "open " "prompt tokens" "prefill " "decode tokens" "ms/token" "stop "; do
    if grep -q -- "$field" "$W/err"; then ok; else fail "the timing table has no '$field'"; fi
done
if grep -q "reused .*prefilled in .* ms for this request and cached" "$W/err" && ! grep -q "reused" "$W/err-noreuse"; then ok
else fail "the first request prefills and caches the prefix; without reuse nothing is reused"; fi
"$BIN" copyedit "${M[@]}" "$T3" >"$W/ce1" 2>/dev/null
"$BIN" copyedit "${M[@]}" --no-prefix-reuse "$T3" >"$W/ce2" 2>/dev/null
if [ -s "$W/ce1" ] && cmp -s "$W/ce1" "$W/ce2"; then ok; else fail "copyedit with and without reuse"; fi

# 3. One text per stdin line: each request from a clean state, so each line's output is
#    the output of that text alone (newlines inside an output become spaces).
for t in "$T1" "$T2" "$T3"; do
    "$BIN" translate "${M[@]}" --to French --from English -q "$t" | tr '\n\r' '  ' | sed 's/ $//'
    echo
done >"$W/each"
printf '%s\n%s\n%s\n' "$T1" "$T2" "$T3" | "$BIN" translate "${M[@]}" --to French --from English >"$W/lines" 2>"$W/err"
rc=$?
if [ $rc = 0 ] && cmp -s "$W/each" "$W/lines" && [ "$(wc -l <"$W/lines")" = 3 ]; then ok; else
    fail "stdin lines must give the outputs of the texts one at a time (rc $rc)"
    diff "$W/each" "$W/lines" | head
fi
# the later requests copy the prefix and save its prefill
if [ "$(grep -c 'saved' "$W/err")" = 2 ] && [ "$(grep -c '^kvlm timing' "$W/err")" = 3 ]; then ok; else
    fail "requests 2 and 3 must show the prefill time saved"
fi
saved=$(sed -n 's/.*prefilling them took \([0-9.]*\) ms.*/\1/p' "$W/err" | head -1)
if [ -n "$saved" ] && awk -v s="$saved" 'BEGIN { exit !(s > 0) }'; then ok; else fail "saved prefill time '$saved'"; fi
# a bad line is reported and skipped (an empty output line keeps the lines aligned); rc 1
printf '%s\n\n%s\n' "$T1" "$T3" | "$BIN" copyedit "${M[@]}" -q >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 1 ] && [ "$(wc -l <"$W/out")" = 3 ] && [ "$(sed -n 2p "$W/out")" = "" ] &&
    grep -q "the text is empty (this line is skipped)" "$W/err"; then ok; else fail "an empty stdin line (rc $rc)"; fi
# "-" reads stdin too
printf '%s\n' "$T1" | "$BIN" translate "${M[@]}" --to French -q - >"$W/dash" 2>/dev/null
if cmp -s "$W/dash" "$W/a"; then ok; else fail "'-' must read stdin"; fi

# 4. Bad input
expect_fail() {
    local cmd=$1 name=$2 code=$3 needle=$4
    shift 5
    "$BIN" "$cmd" "$@" >"$W/out" 2>"$W/err" </dev/null
    local rc=$?
    if [ "$rc" = "$code" ] && grep -qF -- "$needle" "$W/err" && [ ! -s "$W/out" ]; then ok; else
        fail "$name: exit $rc (want $code), stderr must hold '$needle': kvlm $cmd $*"
    fi
}
expect_fail translate "empty text" 1 "the text is empty" -- "${M[@]}" --to French ""
expect_fail copyedit "blank text" 1 "the text is empty (only white space)" -- "${M[@]}" "   "
expect_fail translate "empty target" 2 "the target language name is empty" -- "${M[@]}" --to "" "Hello"
expect_fail translate "blank target" 2 "the target language name is empty" -- "${M[@]}" --to "  " "Hello"
expect_fail translate "empty source" 2 "the source language name is empty" -- "${M[@]}" --to French --from "" "Hello"
expect_fail translate "no target" 2 "no target language" -- "${M[@]}" "Hello"
long=$(printf 'This sentence is rather long. %.0s' $(seq 1 30))
expect_fail translate "longer than the context" 1 "the context holds 64" -- "${M[@]}" --to French --ctx 64 "$long"
"$BIN" translate "${M[@]}" --to French --ctx 64 "$long" >/dev/null 2>"$W/err"
if grep -q "its prompt is [0-9]* tokens ([0-9]* of them the text)" "$W/err"; then ok; else fail "the message names the length"; fi
expect_fail translate "two texts" 2 "expected one TEXT" -- "${M[@]}" --to French a b
expect_fail translate "no model" 2 "no model" -- --to French "Hello"
expect_fail copyedit "sampling is not offered" 2 "unknown option --temp" -- "${M[@]}" --temp 0.7 "Hello"
expect_fail translate "missing model" 1 "nothere" -- -m "$W/nothere" --to French "Hello"
ST=$SHARED/models/stories260K
if [ -f "$ST/stories260K.bin" ]; then
    expect_fail copyedit "no chat template" 1 "chat template" -- -m "$ST/stories260K.bin" --tokenizer "$ST/tok512.bin" "Hello"
fi

finish
