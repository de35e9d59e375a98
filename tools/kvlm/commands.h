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
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_translate(int argc, char **argv);
int cmd_copyedit(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_quality(int argc, char **argv);

#endif
