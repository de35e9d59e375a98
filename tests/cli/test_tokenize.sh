#!/usr/bin/env bash
# fixtures: synth_small
# kvlm tokenize: ids as a JSON array from a tokenizer file (tokenizer.json, its
# folder, tok512.bin) or a model (-m), BOS by default, --no-bos, --special,
# stdin, and the errors.
set -u
BIN=${KVLM_BIN:?KVLM_BIN is not set}
SHARED=${KVLM_SHARED_DIR:-../shared}
WORK=${KVLM_BUILD_DIR:-.}
TOKDIR=$SHARED/llama-3.2-1b-instruct
TOK512=$SHARED/models/stories260K/tok512.bin
if [ ! -f "$TOKDIR/tokenizer.json" ] || [ ! -f "$TOK512" ]; then
    echo "SKIP: $SHARED is absent (the shared reference data is not beside the checkout)"
    exit 77
fi
pass=0
fails=0

# expect NAME WANT -- args...: stdout must be WANT, exit 0.
expect() {
    local name=$1 want=$2
    shift 3
    local got
    got=$("$BIN" tokenize "$@" 2>&1)
    if [ $? = 0 ] && [ "$got" = "$want" ]; then
        pass=$((pass + 1))
    else
        fails=$((fails + 1))
        echo "FAIL: $name: kvlm tokenize $*"
        echo "  got:  $got"
        echo "  want: $want"
    fi
}

# expect_fail NAME CODE NEEDLE -- args...: exit CODE, stderr mentions NEEDLE.
expect_fail() {
    local name=$1 code=$2 needle=$3
    shift 4
    local err rc
    err=$("$BIN" tokenize "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" = "$code" ] && [[ "$err" == *"$needle"* ]]; then
        pass=$((pass + 1))
    else
        fails=$((fails + 1))
        echo "FAIL: $name: kvlm tokenize $* exited $rc (want $code): $err"
    fi
}

expect "json" "[128000, 9906, 1917]" -- --tokenizer "$TOKDIR/tokenizer.json" "Hello world"
expect "folder" "[128000, 9906, 1917]" -- -t "$TOKDIR" "Hello world"
expect "no bos" "[9906, 1917]" -- -t "$TOKDIR" --no-bos "Hello world"
expect "special" "[128000, 128006, 882, 128007, 271, 13347, 128009]" -- -t "$TOKDIR" --special \
    $'<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>'
expect "special as text" "[27, 91, 68, 354, 851, 91, 29]" -- -t "$TOKDIR" --no-bos "<|eot_id|>"
expect "empty" "[128000]" -- -t "$TOKDIR" ""
expect "empty, no bos" "[]" -- -t "$TOKDIR" -n ""
expect "stdin" "[128000, 9906, 1917]" -- -t "$TOKDIR" - < <(printf 'Hello world')
expect "invalid utf-8" "$("$BIN" tokenize -t "$TOKDIR" $'a\xef\xbf\xbdb')" -- -t "$TOKDIR" $'a\xffb'
expect "llama2.c tokenizer" "[1, 403, 407, 261, 378]" -- -t "$TOK512" "Once upon a time"
expect "llama2.c model" "[1, 403, 407, 261, 378]" -- -m "$SHARED/models/stories260K/stories260K.bin" -t "$TOK512" \
    "Once upon a time"
if [ -d "$WORK/synth-small" ]; then
    expect "hf model" "[128000, 9906, 1917]" -- -m "$WORK/synth-small" "Hello world"
fi

expect_fail "no tokenizer" 2 "usage" -- "Hello"
expect_fail "no text" 2 "usage" -- -t "$TOKDIR"
expect_fail "two texts" 2 "usage" -- -t "$TOKDIR" a b
expect_fail "bad option" 2 "usage" -- --frobnicate -t "$TOKDIR" a
expect_fail "missing tokenizer" 1 "nothere.json" -- -t "$WORK/nothere.json" a
expect_fail "missing model" 1 "nothere" -- -m "$WORK/nothere" a

echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
