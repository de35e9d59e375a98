# What the tests/cli scripts share; each sources it after `set -u`:
#   BIN, WORK, SHARED, SYNTH   the command and folders the CTest environment names
#   need_synth                 skips (exit 77) unless the synth_small fixture ran
#   scratch NAME               W = a fresh folder under WORK, removed on exit
#   ok / fail MESSAGE          count a check; fail prints MESSAGE and the head of $W/err
#   finish                     prints the counts; succeeds when nothing failed
BIN=${KVLM_BIN:?KVLM_BIN is not set}
WORK=${KVLM_BUILD_DIR:-.}
SHARED=${KVLM_SHARED_DIR:-../shared}
SYNTH=$WORK/synth-small
W=
pass=0
fails=0

need_synth() {
    if [ ! -f "$SYNTH/config.json" ]; then
        echo "SKIP: $SYNTH is absent (the synth_small fixture did not run; it needs the shared reference data)"
        exit 77
    fi
}

scratch() {
    W=$(mktemp -d "$WORK/$1.XXXXXX") || exit 1
    trap 'rm -rf "$W"' EXIT
}

ok() { pass=$((pass + 1)); }

fail() {
    fails=$((fails + 1))
    echo "FAIL: $*"
    [ -n "$W" ] && [ -s "$W/err" ] && sed 's/^/  stderr: /' "$W/err" | head -30
    return 0
}

finish() {
    echo "$pass passed, $fails failed"
    [ "$fails" = 0 ]
}
