#!/usr/bin/env bash
# fixtures: synth_small
# kvlm template: the prompt printed byte for byte, from the shared
# tokenizer_config.json (--template-file), a raw Jinja file, stdin, --date,
# --chat-format, --no-generation-prompt, and the errors.
set -u
BIN=${KVLM_BIN:?KVLM_BIN is not set}
SHARED=${KVLM_SHARED_DIR:-../shared}
DATA=${KVLM_TEST_DATA:-tests/data}
CFG=$SHARED/llama-3.2-1b-instruct/tokenizer_config.json
JINJA=$SHARED/llama-3.2-1b-instruct/chat_template.jinja
if [ ! -f "$CFG" ]; then
    echo "SKIP: $CFG is absent (the shared reference data is not beside the checkout)"
    exit 77
fi
W=$(mktemp -d "${KVLM_BUILD_DIR:-/tmp}/template.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
fails=0
pass=0

# expect NAME EXPECTED_FILE -- kvlm template args...: stdout must equal the file, exit 0.
expect() {
    local name=$1 want=$2
    shift 3
    if "$BIN" template "$@" >"$W/out" 2>"$W/err" && cmp -s "$W/out" "$want"; then
        pass=$((pass + 1))
    else
        fails=$((fails + 1))
        echo "FAIL: $name: kvlm template $*"
        echo "  got:  $(od -c "$W/out" | head -5)"
        echo "  want: $(od -c "$want" | head -5)"
        sed 's/^/  stderr: /' "$W/err"
    fi
}

# expect_fail NAME CODE PATTERN -- args...: exits with CODE and stderr matches PATTERN, nothing on stdout.
expect_fail() {
    local name=$1 code=$2 pattern=$3
    shift 4
    "$BIN" template "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    if [ "$rc" = "$code" ] && grep -q -- "$pattern" "$W/err" && [ ! -s "$W/out" ]; then
        pass=$((pass + 1))
    else
        fails=$((fails + 1))
        echo "FAIL: $name: exit $rc (want $code), stderr must match '$pattern': kvlm template $*"
        sed 's/^/  stderr: /' "$W/err"
    fi
}

cat >"$W/msgs.json" <<'JSON'
[
  {"role": "system", "content": "You are a French translator. Translate the user message to French. Output only the translation."},
  {"role": "user", "content": "  leading and trailing spaces are trimmed by the template  \n"}
]
JSON
SYS='<|start_header_id|>system<|end_header_id|>\n\n'
USER='<|start_header_id|>user<|end_header_id|>\n\n'
ASSIST='<|start_header_id|>assistant<|end_header_id|>\n\n'
BODY='You are a French translator. Translate the user message to French. Output only the translation.<|eot_id|>'
BODY+="${USER}leading and trailing spaces are trimmed by the template<|eot_id|>"
printf "<|begin_of_text|>${SYS}Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n${BODY}${ASSIST}" >"$W/want"
printf "<|begin_of_text|>${SYS}Cutting Knowledge Date: December 2023\nToday Date: 02 Feb 2025\n\n${BODY}" >"$W/want-date-nogen"

expect "tokenizer_config.json" "$W/want" -- --template-file "$CFG" "$W/msgs.json"
expect "stdin" "$W/want" -- --template-file "$CFG" - <"$W/msgs.json"
expect "raw jinja file" "$W/want" -- --template-file "$JINJA" "$W/msgs.json"
expect "named format" "$W/want" -- --chat-format llama3.2 "$W/msgs.json"
expect "date, no generation prompt" "$W/want-date-nogen" -- -t "$CFG" --date "02 Feb 2025" --no-generation-prompt "$W/msgs.json"

# A {"messages": [...]} object, no system message.
printf '{"messages": [{"role": "user", "content": "Hi\\u00a0"}]}' >"$W/obj.json"
printf "<|begin_of_text|>${SYS}Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>${USER}Hi<|eot_id|>${ASSIST}" >"$W/want-obj"
expect "messages object" "$W/want-obj" -- -t "$CFG" "$W/obj.json"

# --chat-format wins over the template's own; the other templates are recognized from their files.
printf '<|im_start|>system\nYou are a French translator. Translate the user message to French. Output only the translation.<|im_end|>\n<|im_start|>user\n  leading and trailing spaces are trimmed by the template  \n<|im_end|>\n<|im_start|>assistant\n' >"$W/want-chatml"
expect "chatml override" "$W/want-chatml" -- -t "$CFG" --chat-format chatml "$W/msgs.json"
expect "chatml file" "$W/want-chatml" -- -t "$DATA/chat/chatml.jinja" "$W/msgs.json"
printf "<|begin_of_text|>${SYS}${BODY}${ASSIST}" >"$W/want-llama3"
expect "llama3 file" "$W/want-llama3" -- -t "$DATA/chat/llama3.jinja" "$W/msgs.json"
printf '[]' >"$W/none.json"
printf "${ASSIST}" >"$W/want-none"
expect "no messages" "$W/want-none" -- --chat-format llama3 "$W/none.json"

# From a model (-m): the synthetic model carries the shared tokenizer_config.json.
MODEL=${KVLM_BUILD_DIR:-.}/synth-small
if [ -f "$MODEL/tokenizer_config.json" ]; then
    expect "model" "$W/want" -- -m "$MODEL" "$W/msgs.json"
    expect "model, named format" "$W/want-chatml" -- -m "$MODEL" -f chatml "$W/msgs.json"
else
    echo "note: $MODEL is absent (the synth_small fixture did not run); -m is not tested"
fi

# Errors.
printf '{%% for m in messages %%}[INST] {{ m.content }}{%% endfor %%}' >"$W/other.jinja"
expect_fail "unrecognized template" 1 "--chat-format" -- -t "$W/other.jinja" "$W/msgs.json"
printf '{"bos_token": "<s>"}' >"$W/notemplate.json"
expect_fail "no chat_template" 1 "chat-format" -- -t "$W/notemplate.json" "$W/msgs.json"
expect_fail "unknown format" 2 "vicuna" -- --chat-format vicuna "$W/msgs.json"
printf '[{"role": "user"}]' >"$W/nocontent.json"
expect_fail "no content" 1 "message 0" -- -t "$CFG" "$W/nocontent.json"
printf '[{"role": "user", "content": "x"}, {"content": "y"}]' >"$W/norole.json"
expect_fail "no role" 1 "message 1" -- -t "$CFG" "$W/norole.json"
printf '[{"role": "user", "content": ' >"$W/bad.json"
expect_fail "bad JSON" 1 "bad.json" -- -t "$CFG" "$W/bad.json"
expect_fail "missing messages file" 1 "nothere.json" -- -t "$CFG" "$W/nothere.json"
expect_fail "missing template file" 1 "nothere.json" -- -t "$W/nothere.json" "$W/msgs.json"
expect_fail "no template source" 2 "chat-format" -- "$W/msgs.json"
expect_fail "no messages argument" 2 "MESSAGES" -- -t "$CFG"
expect_fail "missing model" 1 "nothere" -- -m "$W/nothere" "$W/msgs.json"
expect_fail "model and template file" 2 "not both" -- -m "$W/nothere" -t "$CFG" "$W/msgs.json"

echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
