#!/usr/bin/env bash
# fixtures: synth_small
# kvlm serve over loopback, talked to with curl: health, models, the API key,
# chat / completions / translate streamed and not, usage and the prefix cache,
# stop strings, greedy text of the real stories260K model (also batched), every
# error reply (400 with an OpenAI error object, context_length_exceeded, 413,
# 404, 405, 401, 503 with Retry-After when the queue is full), a client that
# hangs up mid-stream, and SIGTERM draining a stream before a clean exit 0.
set -u
BIN=${KVLM_BIN:?KVLM_BIN is not set}
SHARED=${KVLM_SHARED_DIR:-../shared}
SYNTH=${KVLM_BUILD_DIR:?KVLM_BUILD_DIR is not set}/synth-small
STORIES=$SHARED/models/stories260K
if ! command -v curl >/dev/null; then
    echo "SKIP: curl is not installed (scripts/install-deps.sh installs it)"
    exit 77
fi
if [ ! -f "$SYNTH/config.json" ]; then
    echo "SKIP: $SYNTH is absent (the synth_small fixture needs $SHARED/llama-3.2-1b-instruct)"
    exit 77
fi
W=$(mktemp -d "${KVLM_BUILD_DIR:-/tmp}/serve.XXXXXX") || exit 1
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); }
fail() {
    fails=$((fails + 1))
    echo "FAIL: $*"
    [ -f "$W/body" ] && echo "  body: $(head -c 800 "$W/body")"
}
# check NAME COMMAND...: the command must succeed
check() {
    local name=$1
    shift
    if "$@"; then ok; else fail "$name"; fi
}
has() { grep -q -- "$1" "$W/body"; }
hasE() { grep -qE -- "$1" "$W/body"; }

# start_server NAME ARGS...: the server on a free port (PORT, SPID); log in $W/NAME.log
start_server() {
    local name=$1
    shift
    LOG=$W/$name.log
    "$BIN" serve --host 127.0.0.1 --port 0 "$@" 2>"$LOG" &
    SPID=$!
    PIDS+=("$SPID")
    PORT=
    for _ in $(seq 1 900); do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$LOG")
        [ -n "$PORT" ] && return 0
        if ! kill -0 "$SPID" 2>/dev/null; then
            echo "server $name exited at start:"
            cat "$LOG"
            return 1
        fi
        sleep 0.1
    done
    echo "server $name did not start in 90 s"
    return 1
}

# stop_server: SIGTERM, then it must exit 0 within 90 s with no sanitizer report.
stop_server() {
    kill -TERM "$SPID"
    for _ in $(seq 1 900); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SPID" 2>/dev/null; then
        fail "the server did not exit within 90 s of SIGTERM"
        kill -KILL "$SPID"
    fi
    wait "$SPID"
    local rc=$?
    if [ "$rc" = 0 ] && ! grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$LOG"; then
        ok
    else
        fail "the server exited $rc after SIGTERM (want 0, no sanitizer report)"
        tail -40 "$LOG"
    fi
}

# req METHOD PATH [BODY [CURL ARGS...]]: body to $W/body, headers to $W/headers, status to CODE
req() {
    local m=$1 p=$2 b=${3-}
    shift 2
    [ $# -gt 0 ] && shift
    local data=()
    [ -n "$b" ] && data=(-H 'Content-Type: application/json' --data-binary "$b")
    CODE=$(curl -s -o "$W/body" -D "$W/headers" -w '%{http_code}' --max-time 120 -X "$m" "${data[@]}" "$@" \
        "http://127.0.0.1:$PORT$p")
}
KEY=(-H 'Authorization: Bearer k3y')
# expect_error NAME STATUS CODE_PATTERN BODY [PATH]: an OpenAI error object
expect_error() {
    local name=$1 status=$2 code=$3 body=$4 path=${5:-/v1/chat/completions}
    req POST "$path" "$body" "${KEY[@]}"
    if [ "$CODE" = "$status" ] && hasE '^\{"error":\{"message":"([^"\\]|\\.)+","type":"[a-z_]+","param":[^,]+,"code":' &&
        hasE "\"code\":$code"; then
        ok
    else
        fail "$name: HTTP $CODE (want $status, code $code)"
    fi
}
# the text of a non-streamed response, JSON-escaped
chat_text() { sed -n 's/.*"message":{"role":"assistant","content":"\(.*\)"},"logprobs".*/\1/p' "$1"; }
completion_text() { sed -n 's/.*"choices":\[{"index":0,"text":"\(.*\)","logprobs".*/\1/p' "$1"; }
# the text of a stream: its deltas joined
stream_text() {
    sed -n -e 's/^data: .*"delta":{[^}]*"content":"\(.*\)"},"logprobs".*/\1/p' \
        -e 's/^data: .*"choices":\[{"index":0,"text":"\(.*\)","logprobs".*/\1/p' "$1" | tr -d '\n'
}
# a well-formed stream: only data lines, a finish_reason, [DONE] last
check_stream() {
    local name=$1 file=$2 finish=$3
    if ! grep -v '^$' "$file" | grep -qv '^data: '; then ok; else fail "$name: a line that is not 'data: ...'"; fi
    if grep -qE "\"finish_reason\":\"$finish\"" "$file"; then ok; else fail "$name: no finish_reason $finish"; fi
    if [ "$(grep -v '^$' "$file" | tail -1)" = "data: [DONE]" ]; then ok; else fail "$name: [DONE] is not last"; fi
}

# ---------------------------------------------------------------- synthetic model
start_server synth -m "$SYNTH" --alias synth --api-key k3y --parallel 2 --queue 2 --ctx 4096 --max-body 65536 || exit 1

req GET /health
check "health needs no key" [ "$CODE" = 200 ]
check "health body" has '"status":"ok","slots_idle":2'
req GET /v1/models
check "models without a key: 401" [ "$CODE" = 401 ]
check "401 names the key" has '"code":"invalid_api_key"'
req GET /v1/models "" -H 'Authorization: Bearer wrong'
check "models with a wrong key: 401" [ "$CODE" = 401 ]
req GET /v1/models "" "${KEY[@]}"
check "models: 200" [ "$CODE" = 200 ]
check "models lists the alias" has '"data":\[{"id":"synth","object":"model"'

CHAT='{"model":"synth","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Name a colour."}],"max_tokens":6,"temperature":0'
req POST /v1/chat/completions "$CHAT}" "${KEY[@]}"
cp "$W/body" "$W/chat1.json"
check "chat: 200" [ "$CODE" = 200 ]
check "chat object" has '"object":"chat.completion"'
check "chat finish_reason" hasE '"finish_reason":"(stop|length)"'
p=$(sed -n 's/.*"prompt_tokens":\([0-9]*\).*/\1/p' "$W/body")
c=$(sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p' "$W/body")
t=$(sed -n 's/.*"total_tokens":\([0-9]*\).*/\1/p' "$W/body")
check "chat usage: prompt tokens ($p)" [ "${p:-0}" -gt 10 ]
check "chat usage: completion <= 6 ($c)" [ "${c:-99}" -le 6 ]
check "chat usage adds up ($p + $c = $t)" [ $((${p:-0} + ${c:-0})) = "${t:-x}" ]
req POST /v1/chat/completions "$CHAT}" "${KEY[@]}"
check "chat again: same greedy text" [ "$(chat_text "$W/body")" = "$(chat_text "$W/chat1.json")" ]
cached=$(sed -n 's/.*"cached_tokens":\([0-9]*\).*/\1/p' "$W/body")
check "chat again: the prompt comes from the prefix cache ($cached of $p)" [ "${cached:-0}" -ge $((p - 1)) ]
req POST /v1/chat/completions "$CHAT,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" "${KEY[@]}"
cp "$W/body" "$W/chat1.sse"
check "chat stream: 200" [ "$CODE" = 200 ]
check "chat stream: event-stream" grep -qi '^content-type: text/event-stream' "$W/headers"
check "chat stream: first chunk has the role" [ -n "$(head -1 "$W/chat1.sse" | grep '"delta":{"role":"assistant","content":""}')" ]
check_stream "chat stream" "$W/chat1.sse" '(stop|length)'
check "chat stream: usage chunk" grep -q '"choices":\[\],"usage":{"prompt_tokens":' "$W/chat1.sse"
check "chat stream: same text as unstreamed" [ "$(stream_text "$W/chat1.sse")" = "$(chat_text "$W/chat1.json")" ]
req POST /v1/chat/completions '{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":3,"seed":7}' "${KEY[@]}"
check "chat with content parts: 200" [ "$CODE" = 200 ]

req POST /v1/completions '{"prompt":"The sky is","max_tokens":5,"temperature":0.7,"top_p":0.9,"seed":1,"stop":["\n\n"]}' "${KEY[@]}"
check "completions: 200" [ "$CODE" = 200 ]
check "completions object" has '"object":"text_completion"'
cp "$W/body" "$W/cmpl1.json"
req POST /v1/completions '{"prompt":"The sky is","max_tokens":5,"temperature":0.7,"top_p":0.9,"seed":1,"stop":["\n\n"]}' "${KEY[@]}"
check "completions: the same seed gives the same text" [ "$(completion_text "$W/body")" = "$(completion_text "$W/cmpl1.json")" ]
req POST /v1/completions '{"prompt":"The sky is","max_tokens":5,"stream":true}' "${KEY[@]}"
check_stream "completions stream" "$W/body" '(stop|length)'

req POST /v1/translate '{"text":"The cat is on the table.","source":"en","target":"French","max_tokens":4}' "${KEY[@]}"
check "translate: 200" [ "$CODE" = 200 ]
check "translate body" hasE '"translation":"[^"]*".*"target":"French"'
expect_error "translate without target" 400 '"missing_required_parameter"' '{"text":"hi"}' /v1/translate
expect_error "translate with a bad target" 400 '"invalid_value"' '{"text":"hi","target":"a\nb"}' /v1/translate

# every bad request
expect_error "malformed JSON" 400 '"invalid_json"' '{"messages": ['
expect_error "body not an object" 400 '"invalid_type"' '[1,2]'
expect_error "messages missing" 400 '"missing_required_parameter"' '{"max_tokens":3}'
expect_error "messages not an array" 400 '"invalid_type"' '{"messages":"hi"}'
expect_error "messages empty" 400 '"invalid_value"' '{"messages":[]}'
expect_error "message not an object" 400 '"invalid_type"' '{"messages":[3]}'
expect_error "role missing" 400 '"missing_required_parameter"' '{"messages":[{"content":"hi"}]}'
expect_error "unknown role" 400 '"invalid_value"' '{"messages":[{"role":"wizard","content":"hi"}]}'
expect_error "content a number" 400 '"invalid_type"' '{"messages":[{"role":"user","content":5}]}'
expect_error "temperature a string" 400 '"invalid_type"' '{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}'
expect_error "temperature out of range" 400 '"invalid_value"' '{"messages":[{"role":"user","content":"hi"}],"temperature":9}'
expect_error "max_tokens a string" 400 '"invalid_type"' '{"messages":[{"role":"user","content":"hi"}],"max_tokens":"5"}'
expect_error "max_tokens zero" 400 '"invalid_value"' '{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}'
expect_error "stop a number" 400 '"invalid_type"' '{"messages":[{"role":"user","content":"hi"}],"stop":3}'
expect_error "too many stops" 400 '"invalid_value"' '{"messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}'
expect_error "stream not a boolean" 400 '"invalid_type"' '{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}'
expect_error "n = 2" 400 '"invalid_value"' '{"messages":[{"role":"user","content":"hi"}],"n":2}'
expect_error "unknown model" 400 '"model_not_found"' '{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}'
expect_error "prompt missing" 400 '"missing_required_parameter"' '{"max_tokens":3}' /v1/completions
expect_error "prompt a number" 400 '"invalid_type"' '{"prompt":7}' /v1/completions
expect_error "token id out of range" 400 '"invalid_value"' '{"prompt":[1,999999999]}' /v1/completions
LONG=$(printf 'hello %.0s' $(seq 1 4200))
expect_error "prompt over the context" 400 '"context_length_exceeded"' "{\"prompt\":\"$LONG\"}" /v1/completions
expect_error "chat over the context" 400 '"context_length_exceeded"' "{\"messages\":[{\"role\":\"user\",\"content\":\"$LONG\"}]}"
BIG=$(printf 'x%.0s' $(seq 1 70000))
expect_error "body over --max-body" 413 '"request_too_large"' "{\"prompt\":\"$BIG\"}" /v1/completions
printf '{"prompt":"%s"}' "$BIG" >"$W/big.json"
CODE=$(curl -s -o "$W/body" -w '%{http_code}' --max-time 60 "${KEY[@]}" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$W/big.json" "http://127.0.0.1:$PORT/v1/completions")
check "chunked body over --max-body: 413" [ "$CODE" = 413 ]
req GET /v1/nothing "" "${KEY[@]}"
check "unknown route: 404" [ "$CODE" = 404 ]
check "404 body" has '"error":{"message":"Invalid URL'
req DELETE /v1/models "" "${KEY[@]}"
check "wrong method: 405" [ "$CODE" = 405 ]
check "405 has Allow" grep -qi '^allow: GET' "$W/headers"
req POST /v1/completions '{"prompt":"hi"}'
check "completions without a key: 401" [ "$CODE" = 401 ]

# concurrency: as many requests as slots + queue, all answered
CURLS=()
for i in 1 2 3 4; do
    curl -s -o "$W/par$i.json" -w '%{http_code}' --max-time 120 "${KEY[@]}" \
        --data-binary "{\"messages\":[{\"role\":\"user\",\"content\":\"Count to $i.\"}],\"max_tokens\":12,\"seed\":$i,\"stream\":$([ $i -gt 2 ] && echo true || echo false)}" \
        "http://127.0.0.1:$PORT/v1/chat/completions" >"$W/par$i.code" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
for i in 1 2 3 4; do check "concurrent request $i: 200" [ "$(cat "$W/par$i.code")" = 200 ]; done
for i in 3 4; do check "concurrent stream $i ends with [DONE]" [ "$(grep -v '^$' "$W/par$i.json" | tail -1)" = "data: [DONE]" ]; done

# the prefix cache across slots: while one slot is busy with a prompt, a request
# that starts the same way goes to the other slot and copies the prefix's KV
SP='{"prompt":"A common preamble that both of these requests share, word for word, before they part ways:'
curl -s -N -o "$W/busy.sse" --max-time 60 "${KEY[@]}" --data-binary "$SP one\",\"max_tokens\":4000,\"ignore_eos\":true,\"stream\":true}" \
    "http://127.0.0.1:$PORT/v1/completions" &
BUSY=$!
for _ in $(seq 1 300); do
    [ -s "$W/busy.sse" ] && break
    sleep 0.05
done
req POST /v1/completions "$SP two\",\"max_tokens\":8,\"temperature\":0}" "${KEY[@]}"
cp "$W/body" "$W/copy.json"
cached=$(sed -n 's/.*"cached_tokens":\([0-9]*\).*/\1/p' "$W/body")
check "prefix copied from the busy slot ($cached tokens)" [ "${cached:-0}" -ge 15 ]
kill "$BUSY" 2>/dev/null
wait "$BUSY" 2>/dev/null
req POST /v1/completions "$SP two\",\"max_tokens\":8,\"temperature\":0}" "${KEY[@]}"
check "a copied prefix gives the same greedy text" [ "$(completion_text "$W/body")" = "$(completion_text "$W/copy.json")" ]

# a full queue: 2 running + 2 waiting, the fifth gets 503; clients that hang up free their slots
LONGREQ='{"prompt":"Once","max_tokens":4000,"ignore_eos":true,"stream":true}'
CURLS=()
for i in 1 2 3 4; do
    curl -s -N -o "$W/long$i.sse" --max-time 60 "${KEY[@]}" --data-binary "$LONGREQ" "http://127.0.0.1:$PORT/v1/completions" &
    CURLS+=($!)
done
busy=0
for _ in $(seq 1 300); do
    req GET /health
    if has '"slots_processing":2,"queued":2'; then busy=1; break; fi
    sleep 0.1
done
check "2 slots busy and 2 requests queued" [ $busy = 1 ]
req POST /v1/completions '{"prompt":"hi","max_tokens":2}' "${KEY[@]}"
check "a full queue: 503" [ "$CODE" = 503 ]
check "503 says server_busy" has '"code":"server_busy"'
check "503 has Retry-After" grep -qi '^retry-after: ' "$W/headers"
kill "${CURLS[@]}" 2>/dev/null
wait "${CURLS[@]}" 2>/dev/null
freed=0
for _ in $(seq 1 100); do
    req GET /health
    if has '"slots_processing":0,"queued":0'; then freed=1; break; fi
    sleep 0.1
done
check "clients that hung up freed their slots and queue places" [ $freed = 1 ]
check "the log names the cancelled requests" grep -q 'cancelled' "$LOG"
req POST /v1/completions '{"prompt":"hi","max_tokens":2}' "${KEY[@]}"
check "served again after the hang-ups" [ "$CODE" = 200 ]

# SIGTERM drains: a stream in flight finishes, new requests get 503, exit 0
curl -s -N -o "$W/drain.sse" --max-time 120 "${KEY[@]}" \
    --data-binary '{"prompt":"Once","max_tokens":600,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' \
    "http://127.0.0.1:$PORT/v1/completions" &
DRAIN=$!
for _ in $(seq 1 300); do
    [ -s "$W/drain.sse" ] && break
    sleep 0.05
done
kill -TERM "$SPID"
sleep 0.2
req POST /v1/completions '{"prompt":"hi","max_tokens":2}' "${KEY[@]}"
check "a request while draining: 503" [ "$CODE" = 503 ]
check "503 says server_shutting_down" has '"code":"server_shutting_down"'
wait "$DRAIN"
check_stream "the drained stream" "$W/drain.sse" length
check "the drained stream has all 600 tokens" grep -q '"usage":{"prompt_tokens":[0-9]*,"completion_tokens":600,' "$W/drain.sse"
stop_server

# a second SIGTERM cancels what is still running: the stream ends with an error event and [DONE], exit 0
start_server synth2 -m "$SYNTH" --parallel 1 --ctx 4096 || exit 1
curl -s -N -o "$W/forced.sse" --max-time 120 --data-binary '{"prompt":"Once","max_tokens":4000,"ignore_eos":true,"stream":true}' \
    "http://127.0.0.1:$PORT/v1/completions" &
FORCED=$!
for _ in $(seq 1 300); do
    [ -s "$W/forced.sse" ] && break
    sleep 0.05
done
kill -TERM "$SPID"
sleep 0.3
kill -TERM "$SPID"
wait "$FORCED"
check "a forced stop ends the stream with an error event" grep -q '^data: {"error":{"message":"The request was cancelled' "$W/forced.sse"
check "a forced stop still ends with [DONE]" [ "$(grep -v '^$' "$W/forced.sse" | tail -1)" = "data: [DONE]" ]
stop_server

# ---------------------------------------------------------------- stories260K
if [ ! -f "$STORIES/stories260K.bin" ]; then
    echo "SKIP (part): $STORIES is absent"
else
    start_server stories -m "$STORIES/stories260K.bin" --tokenizer "$STORIES/tok512.bin" --parallel 4 || exit 1
    want=$(head -1 "$SHARED/models/stories260K/expected-greedy.txt")
    req POST /v1/completions '{"prompt":"","max_tokens":30,"temperature":0}'
    got=$(completion_text "$W/body")
    check "stories260K greedy: some text" [ -n "$got" ]
    check "stories260K greedy from BOS is the reference text ('${got:0:60}...')" [ "${want#"${got# }"}" != "$want" ]
    check "stories260K: 30 tokens, length" has '"finish_reason":"length"}\],"usage":{"prompt_tokens":1,"completion_tokens":30,'
    req POST /v1/completions '{"prompt":"","max_tokens":30,"temperature":0,"stream":true}'
    check_stream "stories260K stream" "$W/body" length
    check "stories260K streamed = unstreamed" [ "$(stream_text "$W/body")" = "$got" ]
    # batched decoding gives each stream the same greedy text
    CURLS=()
    for i in 1 2 3 4; do
        curl -s -o "$W/st$i.json" --max-time 60 --data-binary '{"prompt":"","max_tokens":30,"temperature":0}' \
            "http://127.0.0.1:$PORT/v1/completions" &
        CURLS+=($!)
    done
    wait "${CURLS[@]}"
    for i in 1 2 3 4; do check "stories260K batched stream $i = alone" [ "$(completion_text "$W/st$i.json")" = "$got" ]; done
    # stop strings, also across tokens and in streams
    req POST /v1/completions '{"prompt":"","max_tokens":60,"temperature":0,"stop":"Lily"}'
    check "stop string: cut before it" [ "$(completion_text "$W/body")" = " Once upon a time, there was a little girl named " ]
    check "stop string: finish_reason stop" has '"finish_reason":"stop"'
    req POST /v1/completions '{"prompt":"","max_tokens":60,"temperature":0,"stop":["zebra","ittle gi"],"stream":true}'
    check "stop string in a stream: cut before it" [ "$(stream_text "$W/body")" = " Once upon a time, there was a l" ]
    check_stream "stop string stream" "$W/body" stop
    # the prefix cache: the same start is not computed again, and the text is the same
    req POST /v1/completions '{"prompt":"Once upon a time, there was a little dog","max_tokens":20,"temperature":0}'
    first=$(completion_text "$W/body")
    req POST /v1/completions '{"prompt":"Once upon a time, there was a little dog","max_tokens":20,"temperature":0}'
    check "prefix cache: same text" [ "$(completion_text "$W/body")" = "$first" ]
    check "prefix cache: cached_tokens counted" hasE '"cached_tokens":[1-9]'
    req POST /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}]}'
    check "stories260K has no chat template: 400" [ "$CODE" = 400 ]
    check "400 says unsupported_model" has '"code":"unsupported_model"'
    stop_server
fi

echo "serve: $pass passed, $fails failed"
[ "$fails" = 0 ]
