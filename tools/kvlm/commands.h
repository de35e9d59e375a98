/* The kvlm command's subcommands: each lives in its own cmd_*.c and takes the
 * arguments after its name (argv[0] is the subcommand's name). */
#ifndef KVLM_COMMANDS_H
#define KVLM_COMMANDS_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} kvlm_command;

int cmd_synth(int argc, char **argv);

#endif
