#!/usr/bin/env bash
# fixtures: synth_small
# kvlm eval: on stories260K the completion pack runs end to end, its outputs
# are the reference's ("expected", --check) and those of kvlm run on the same
# prompts; on the synthetic model the translation and copy-edit packs run with
# and without prefix reuse to the same outputs, with the table, the smoke case
# and the comparisons; malformed packs are refused before anything runs.
set -u
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PACKS=$ROOT/packs
ST=$SHARED/models/stories260K
if [ ! -f "$ST/stories260K.bin" ]; then
    echo "SKIP: $ST is absent (the shared reference data is not beside the checkout)"
    exit 77
fi
if ! command -v jq >/dev/null; then
    echo "SKIP: jq is absent (needed to read kvlm eval --json)"
    exit 77
fi
scratch eval
STORIES=(-m "$ST/stories260K.bin" --tokenizer "$ST/tok512.bin" -t 1)

# 1. The packs are well-formed JSON Lines with the cases the issue lists
for p in translation-fr copyedit stories-completion; do
    if jq -e . "$PACKS/$p.jsonl" >/dev/null 2>&1; then ok; else fail "$p.jsonl is not JSON Lines"; fi
done
if [ "$(jq -s 'length' "$PACKS/translation-fr.jsonl")" = 10 ] &&
    [ "$(jq -s '[.[] | select(.coreml_output)] | length' "$PACKS/translation-fr.jsonl")" = 8 ] &&
    [ "$(jq -r -s '.[0].coreml_output' "$PACKS/translation-fr.jsonl")" = "Le chat est sur la table." ] &&
    [ "$(jq -s '[.[] | .input | split("\n") | length] | .[8:]' -c "$PACKS/translation-fr.jsonl")" = "[6,12]" ]; then ok
else fail "translation-fr.jsonl: 10 cases, 8 Core ML outputs, the stanzas of 6 and 12 lines"; fi
if [ "$(jq -s 'length' "$PACKS/copyedit.jsonl")" = 8 ] &&
    [ "$(jq -s '[.[] | select(.expected)] | length' "$PACKS/copyedit.jsonl")" = 8 ] &&
    jq -r '.expected' "$PACKS/copyedit.jsonl" | grep -q "the site is stable"; then ok; else
    fail "copyedit.jsonl: 8 cases with expected edits"
fi

# 2. stories260K: end to end, --check against the reference, and the same as kvlm run
"$BIN" eval "${STORIES[@]}" --check --json "$W/st.json" "$PACKS/stories-completion.jsonl" >"$W/table" 2>"$W/err"
rc=$?
n=$(jq -s 'length' "$PACKS/stories-completion.jsonl")
if [ $rc = 0 ] && [ "$(wc -l <"$W/st.json")" = $((n + 1)) ] && grep -q "expected outputs: $n of $n identical" "$W/table"; then ok
else fail "eval on stories260K (rc $rc)"; cat "$W/table"; fi
for col in "input" "output" "prompt" "prefill ms" "ms/token" "out" "stop"; do
    if head -5 "$W/table" | grep -q -- "$col"; then ok; else fail "the table has no '$col' column"; fi
done
if grep -q '^smoke: "The capital of France is" -> ".*" (Core ML port: " Paris.")$' "$W/table" &&
    grep -q "^  -  smoke" "$W/table"; then ok; else fail "the smoke case"; fi
i=0
while [ $i -le "$n" ]; do
    input=$(jq -r -s ".[$i].input" "$W/st.json")
    max=$(jq -r -s ".[$i].max_tokens" "$W/st.json")
    jq -j -s ".[$i].output" "$W/st.json" >"$W/eval-out"
    echo >>"$W/eval-out" # kvlm run ends with a newline
    "$BIN" run "${STORIES[@]}" -q -p "$input" -n "$max" >"$W/run-out" 2>/dev/null
    if cmp -s "$W/eval-out" "$W/run-out"; then ok; else
        fail "case $i ('$input'): eval '$(cat "$W/eval-out")', run '$(cat "$W/run-out")'"
    fi
    # timings are present and plausible
    if jq -e -s ".[$i] | .prompt_tokens >= 1 and .prefill_ms > 0 and .output_tokens >= 1 and .decode_ms_per_token > 0" \
        "$W/st.json" >/dev/null; then ok; else fail "case $i timings"; fi
    i=$((i + 1))
done

# 3. The synthetic model: translation and copy-edit, with and without prefix reuse
if [ -d "$SYNTH" ]; then
    "$BIN" eval -m "$SYNTH" -t 2 --json "$W/r.json" --full "$PACKS/translation-fr.jsonl" "$PACKS/copyedit.jsonl" \
        >"$W/table" 2>"$W/err"
    rc=$?
    "$BIN" eval -m "$SYNTH" -t 2 --json "$W/n.json" --no-prefix-reuse "$PACKS/translation-fr.jsonl" "$PACKS/copyedit.jsonl" \
        >"$W/table-n" 2>>"$W/err"
    rc2=$?
    if [ $rc = 0 ] && [ $rc2 = 0 ] && [ "$(jq -s -c 'map(.output)' "$W/r.json")" = "$(jq -s -c 'map(.output)' "$W/n.json")" ] &&
        [ "$(wc -l <"$W/r.json")" = 19 ]; then ok; else fail "outputs with and without prefix reuse (rc $rc $rc2)"; fi
    # every chat request after the first of its task copies the prefix; without reuse none does
    if jq -e -s '[.[] | select(.task != "complete")] | (map(.reused_tokens > 0) | all) and
        ([.[] | select(.prefix_ms > 0)] | length) == 2' "$W/r.json" >/dev/null &&
        jq -e -s 'map(.reused_tokens == 0) | all' "$W/n.json" >/dev/null; then ok; else fail "prefix reuse counts"; fi
    # the same prompt lengths either way; the reused requests prefill fewer tokens
    if [ "$(jq -s -c 'map(.prompt_tokens)' "$W/r.json")" = "$(jq -s -c 'map(.prompt_tokens)' "$W/n.json")" ]; then ok; else
        fail "prompt tokens must not depend on reuse"
    fi
    if grep -q "^prefix reuse: 2 prefixes prefilled once (.* ms); 18 requests copied one, saving .* ms of prefill" "$W/table" &&
        ! grep -q "^prefix reuse" "$W/table-n" && grep -q "prefix reuse off" "$W/table-n"; then ok; else
        fail "the prefix reuse summary"
    fi
    if grep -q "^Core ML port's outputs: [0-9] of 9 identical" "$W/table" && grep -q "^expected outputs: [0-9] of 8 identical" "$W/table" &&
        grep -q "  Core ML:  Le chat est sur la table." "$W/table" &&
        grep -q "  Core ML:  136 output tokens (text not published)" "$W/table"; then ok; else fail "the comparisons and --full"; fi
    # a translation of the pack is the output of kvlm translate on the same text
    jq -r -s '.[0].input' "$W/r.json" >"$W/in0"
    "$BIN" translate -m "$SYNTH" -t 2 --to French -q "$(cat "$W/in0")" >"$W/tr0" 2>/dev/null
    if [ "$(cat "$W/tr0")" = "$(jq -r -s '.[0].output' "$W/r.json")" ]; then ok; else fail "eval and translate disagree"; fi
    # stop reasons are recorded
    if jq -e -s 'map(.stop | IN("eos", "max_tokens", "context_full")) | all' "$W/r.json" >/dev/null; then ok; else
        fail "stop reasons"
    fi
else
    echo "note: $SYNTH is absent (the synth_small fixture did not run): the synthetic-model checks are skipped"
fi

# 4. Malformed packs: refused before anything runs, with the file and line
expect_fail() {
    local name=$1 needle=$2 content=$3
    printf '%s' "$content" >"$W/bad.jsonl"
    "$BIN" eval "${STORIES[@]}" "$W/bad.jsonl" >"$W/out" 2>"$W/err"
    local rc=$?
    if [ "$rc" = 2 ] && grep -qF -- "$needle" "$W/err" && [ ! -s "$W/out" ]; then ok; else
        fail "$name: exit $rc (want 2), stderr must hold '$needle'"
    fi
}
GOOD='{"task": "complete", "input": "Once"}'
expect_fail "bad JSON" "bad.jsonl:2:" "$GOOD
{\"task\": \"complete\", \"input\": "
expect_fail "unknown key" "bad.jsonl:1: unknown key \"inptu\"" '{"task": "complete", "inptu": "x"}'
expect_fail "no task" "bad.jsonl:1: no \"task\"" '{"input": "x"}'
expect_fail "unknown task" "unknown task \"summarize\"" '{"task": "summarize", "input": "x"}'
expect_fail "no input" "no \"input\"" '{"task": "copyedit"}'
expect_fail "wrong type" "\"input\" must be a string" '{"task": "copyedit", "input": 3}'
expect_fail "bad max_tokens" "\"max_tokens\" must be an integer" '{"task": "complete", "input": "x", "max_tokens": 0}'
expect_fail "no target" "needs \"target\"" '{"task": "translate", "input": "x"}'
expect_fail "empty target" "target language name is empty" '{"task": "translate", "input": "x", "target": ""}'
expect_fail "source on copyedit" "translate cases only" '{"task": "copyedit", "input": "x", "source": "English"}'
expect_fail "empty input" "\"input\" is empty" '{"task": "copyedit", "input": ""}'
expect_fail "not an object" "must be a JSON object" '[1, 2]'
expect_fail "no cases" "has no cases" '

'
"$BIN" eval "${STORIES[@]}" "$W/nothere.jsonl" >"$W/out" 2>"$W/err"
if [ $? = 2 ] && grep -q "nothere.jsonl: cannot open" "$W/err"; then ok; else fail "a missing pack"; fi
"$BIN" eval "${STORIES[@]}" >"$W/out" 2>"$W/err"
if [ $? = 2 ] && grep -q "no pack" "$W/err"; then ok; else fail "no pack given"; fi
# a chat case on a model without a chat template: reported in the table, exit 1
printf '{"id": "x", "task": "copyedit", "input": "hello"}\n' >"$W/ce.jsonl"
"$BIN" eval "${STORIES[@]}" --no-smoke "$W/ce.jsonl" >"$W/out" 2>"$W/err"
if [ $? = 1 ] && grep -q "^error: ce.jsonl:1 (x): .*chat template" "$W/out"; then ok; else fail "a failing case"; fi

finish
