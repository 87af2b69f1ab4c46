/* main.c — dispatches `dlenergy VERB ...` to src/cli/cmd_VERB.c. Nothing else. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "verbs_table.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy VERB [OPTIONS] [ARGS]\n"
          "Measure, project and predict the energy of deep-learning training.\n\n"
          "Verbs:\n");
  for (size_t i = 0; dle_verbs[i]; i++)
    fprintf(out, "  %-11s %s\n", dle_verbs[i]->name, dle_verbs[i]->summary);
  fprintf(out,
          "\nRun 'dlenergy VERB --help' for a verb's options.\n"
          "The run store is ./dlenergy.db unless --db or DLENERGY_DB says otherwise.\n");
}

int main(int argc, char **argv) {
  /* The process's memory policy, the CLI's to set. glibc's defaults map every block over
   * 128 KiB fresh and give freed memory at the heap's top back above 128 KiB, so work that
   * allocates and frees a few hundred KiB per step (PRE's folds: design matrix, solver
   * workspace) took page faults on the same memory at every step. Fixed at glibc's own
   * dynamic ceilings (32 MiB, twice that to trim), freed memory is reused instead. */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  if (argc < 2) {
    usage(stderr);
    return DLE_EXIT_USAGE;
  }
  const char *verb = argv[1];
  if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
    if (argc > 2 && strcmp(verb, "help") == 0) {
      for (size_t i = 0; dle_verbs[i]; i++)
        if (strcmp(dle_verbs[i]->name, argv[2]) == 0) {
          char *hargv[] = {argv[2], "--help", NULL};
          return dle_verbs[i]->main(2, hargv);
        }
    }
    usage(stdout);
    return DLE_EXIT_OK;
  }
  if (strcmp(verb, "--version") == 0 || strcmp(verb, "version") == 0) {
    printf("dlenergy %s\n", DLE_VERSION);
    return DLE_EXIT_OK;
  }
  for (size_t i = 0; dle_verbs[i]; i++)
    if (strcmp(dle_verbs[i]->name, verb) == 0) return dle_verbs[i]->main(argc - 1, argv + 1);
  fprintf(stderr, "dlenergy: unknown verb '%s'\n\n", verb);
  usage(stderr);
  return DLE_EXIT_USAGE;
}
