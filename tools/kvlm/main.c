/* kvlm: the command-line front end. Every subcommand sits on the public API
 * (kvlm.h); developer tools (synth, convert) also use the format modules. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "kvlm.h"

static const kvlm_command commands[] = {
    {"synth", cmd_synth, "write a synthetic Hugging Face model folder of any Llama config"},
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
