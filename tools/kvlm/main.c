/* kvlm: the command-line front end. Every subcommand sits on the public API
 * (kvlm.h); developer tools (synth, convert) also use the format modules. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "kvlm.h"

static const kvlm_command commands[] = {
    {"convert", cmd_convert, "compile a model into one GGUF package (bf16, f16, q8_0, q4_0)"},
    {"bench", cmd_bench, "prefill and decode speed, open time, memory and the bandwidth limit"},
    {"verify", cmd_verify, "check every fast kernel path against the scalar reference"},
    {"synth", cmd_synth, "write a synthetic Hugging Face model folder of any Llama config"},
    {"template", cmd_template, "print the prompt a chat template makes of a conversation (JSON messages)"},
    {"tokenize", cmd_tokenize, "print the token ids of a text as a JSON array"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server: parallel sessions, batched decoding, prefix cache"},
    {"run", cmd_run, "complete a prompt, streamed to stdout (greedy or sampled), with the timing table"},
    {"chat", cmd_chat, "multi-turn chat in one stateful KV cache (reads turns from stdin when not a terminal)"},
    {"translate", cmd_translate, "translate a text (or one text per stdin line) with a prefix-cached system prompt"},
    {"copyedit", cmd_copyedit, "light-touch copy-edit of a transcript (misheard words; wording kept)"},
    {"eval", cmd_eval, "run an evaluation pack (JSONL) and print the Core ML port's table"},
    {"quality", cmd_quality, "top-1 agreement and KL divergence of a quantized model against a reference"},
};

static void usage(FILE *out) {
    fprintf(out, "kvlm %s — run Llama-family models on the CPU with a stateful KV cache\n\n"
                 "usage: kvlm COMMAND [options]   (kvlm COMMAND --help for its options)\n\ncommands:\n",
            KVLM_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kvlm %s\n", KVLM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "kvlm: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
