#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made from small valid files:
#   OUT/gguf             GGUF packages of two tiny models (every type kvlm writes;
#                        byte-level BPE and SentencePiece-style tokenizers embedded)
#   OUT/safetensors      their model.safetensors (BF16, F16, F32)
#   OUT/tokenizer_json   the two tiny tokenizer.json files
#   OUT/model            the GGUF seeds and a tiny llama2.c checkpoint
# usage: make_seeds.sh KVLM_BIN OUT_DIR   (KVLM_SHARED_DIR: adds a GGUF with stories260K's tok512.bin)
set -eu
BIN=$1
OUT=$2
W=$OUT/.work
rm -rf "$OUT"
mkdir -p "$W" "$OUT/gguf" "$OUT/safetensors" "$OUT/tokenizer_json" "$OUT/model"

# ---------------------------------------------------------- tokenizers
# A: byte-level BPE (Llama 3 style): printable ASCII, Ġ, Ċ, a few merges, added special tokens.
json_char() { # the JSON string for byte $1 (33..126)
    local c
    c=$(printf "\\$(printf '%03o' "$1")")
    case $c in '"') printf '"\\""' ;; '\') printf '"\\\\"' ;; *) printf '"%s"' "$c" ;; esac
}
{
    printf '{"version": "1.0", "truncation": null, "padding": null, "added_tokens": ['
    sp=0
    for t in '<|begin_of_text|>' '<|end_of_text|>' '<|start_header_id|>' '<|end_header_id|>' '<|eot_id|>'; do
        [ $sp -gt 0 ] && printf ', '
        printf '{"id": %d, "content": "%s", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}' $((101 + sp)) "$t"
        sp=$((sp + 1))
    done
    printf '], "normalizer": null,\n'
    cat <<'JSON'
"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
JSON
    printf '"post_processor": null, "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},\n'
    printf '"model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true, "vocab": {'
    id=0
    for b in $(seq 33 126); do
        printf '%s: %d, ' "$(json_char "$b")" $id
        id=$((id + 1))
    done
    printf '"\xc4\xa0": 94, "\xc4\x8a": 95, "\xc4\xa0t": 96, "he": 97, "\xc4\xa0the": 98, "in": 99, "\xc4\xa0a": 100},\n'
    printf '"merges": ["\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "\xc4\xa0 a"]}}\n'
} > "$W/tok-a.json"

# B: SentencePiece-style BPE with byte fallback (Llama 2 style).
{
    printf '{"version": "1.0", "added_tokens": ['
    printf '{"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}, '
    printf '{"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}, '
    printf '{"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],\n'
    printf '"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\xe2\x96\x81"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\xe2\x96\x81"}]},\n'
    printf '"pre_tokenizer": null, "post_processor": null,\n'
    printf '"decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\xe2\x96\x81"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},\n'
    printf '"model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, '
    for b in $(seq 0 255); do printf '"<0x%02X>": %d, ' "$b" $((b + 3)); done
    id=260
    printf '"\xe2\x96\x81": 259, '
    for c in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
        printf '"%s": %d, ' $c $id
        id=$((id + 1))
    done
    printf '"\xe2\x96\x81t": 286, "he": 287, "\xe2\x96\x81the": 288, "in": 289},\n'
    printf '"merges": ["\xe2\x96\x81 t", "h e", "\xe2\x96\x81t he", "i n"]}}\n'
} > "$W/tok-b.json"
cp "$W/tok-a.json" "$OUT/tokenizer_json/byte-level.json"
cp "$W/tok-b.json" "$OUT/tokenizer_json/sentencepiece.json"

# ------------------------------------------------------------- models
config() { # name tied vocab scaling
    local scaling='null'
    [ "$4" = 1 ] && scaling='{"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 64, "rope_type": "llama3"}'
    cat > "$W/$1.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
 "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "num_hidden_layers": 1, "rms_norm_eps": 1e-05,
 "rope_theta": 500000.0, "rope_scaling": $scaling, "tie_word_embeddings": $2, "vocab_size": $3,
 "max_position_embeddings": 256, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
EOF
}
mkdir -p "$W/tokdir-a" "$W/tokdir-b"
cp "$W/tok-a.json" "$W/tokdir-a/tokenizer.json"
cp "$W/tok-b.json" "$W/tokdir-b/tokenizer.json"
printf '{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": "{%% for m in messages %%}<|start_header_id|>{{ m.role }}<|end_header_id|>\\n\\n{{ m.content }}<|eot_id|>{%% endfor %%}"}\n' > "$W/tokdir-a/tokenizer_config.json"
printf '{"bos_token_id": 101, "eos_token_id": [102, 105], "temperature": 0.6, "top_p": 0.9}\n' > "$W/tokdir-a/generation_config.json"
printf '{"bos_token": "<s>", "eos_token": "</s>"}\n' > "$W/tokdir-b/tokenizer_config.json"
printf '{"bos_token_id": 1, "eos_token_id": 2}\n' > "$W/tokdir-b/generation_config.json"
config cfg-a true 106 1
config cfg-b false 290 0
for m in a b; do
    for dt in bf16 f16 f32; do
        "$BIN" synth --config "$W/cfg-$m.json" --tokenizer-dir "$W/tokdir-$m" --dtype $dt --seed 3 -o "$W/model-$m-$dt" > /dev/null
        cp "$W/model-$m-$dt/model.safetensors" "$OUT/safetensors/$m-$dt.safetensors"
    done
    types="f32 bf16 f16 q8_0 q4_0"
    [ $m = b ] && types="q8_0 q4_0" # keep the seeds small: b's byte-fallback vocabulary is large
    for t in $types; do
        "$BIN" convert "$W/model-$m-bf16" -o "$OUT/gguf/$m-$t.gguf" --type $t > /dev/null 2>&1
        cp "$OUT/gguf/$m-$t.gguf" "$OUT/model/"
    done
done

# A tiny llama2.c checkpoint (zero weights): 7 int32 then the floats its header implies.
l2c() { # path dim hidden layers heads kv vocab seq
    local dim=$2 hid=$3 L=$4 H=$5 KV=$6 V=$7 S=$8
    local hs=$((dim / H)) kvd=$(((dim / H) * KV))
    local nf=$((V * dim + L * dim + L * dim * dim + 2 * L * dim * kvd + L * dim * dim + L * dim + 3 * L * dim * hid + dim + S * hs))
    le32() { printf "\\x$(printf '%02x' $(($1 & 255)))\\x$(printf '%02x' $((($1 >> 8) & 255)))\\x$(printf '%02x' $((($1 >> 16) & 255)))\\x$(printf '%02x' $((($1 >> 24) & 255)))"; }
    { le32 "$dim"; le32 "$hid"; le32 "$L"; le32 "$H"; le32 "$KV"; le32 "$V"; le32 "$S"; head -c $((4 * nf)) /dev/zero; } > "$1"
}
l2c "$OUT/model/tiny-llama2c.bin" 16 24 1 2 1 32 8

# With the shared data: a GGUF whose tokenizer is llama2.c's tok512.bin ("llama" model in GGUF).
TOK512=${KVLM_SHARED_DIR:-../shared}/models/stories260K/tok512.bin
if [ -f "$TOK512" ]; then
    l2c "$W/tiny512.bin" 32 32 1 2 1 512 16
    if "$BIN" convert "$W/tiny512.bin" --tokenizer "$TOK512" -o "$OUT/gguf/spm-q8_0.gguf" --type q8_0 > /dev/null 2>&1; then
        cp "$OUT/gguf/spm-q8_0.gguf" "$OUT/model/"
    fi
fi
rm -rf "$W"
for d in gguf safetensors tokenizer_json model; do
    echo "$d: $(ls "$OUT/$d" | wc -l) seeds, $(du -sk "$OUT/$d" | cut -f1) KiB"
done
