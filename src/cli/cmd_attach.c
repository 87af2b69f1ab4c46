/* cmd_attach.c — `dlenergy attach PID`: record an already running process tree until
 * it exits or Ctrl-C. The loop is the one of `dlenergy run` (monitor.h, cmd_run.c). */
#include <stdio.h>

#include "cli.h"
#include "monitor.h"

static void attach_usage(FILE *out, const char *common_help) {
  fprintf(out,
          "Usage: dlenergy attach [OPTIONS] PID\n"
          "Records the energy of the running process PID and its descendants until it\n"
          "exits, or until Ctrl-C / SIGTERM (which stop the recording, never the process).\n"
          "Its exit status is not known to dlenergy (the run's exit code is -1).\n\n"
          "Options:\n%s"
          "  --marker-fifo PATH    FIFO for epoch markers (default: a new one in $TMPDIR,\n"
          "                        printed). A script started with DLENERGY_MARKER=PATH\n"
          "                        sends its markers there through dlenergy_markers.py;\n"
          "                        lines can also be written by hand:\n"
          "                        echo 'epoch_end 3 loss=0.4' > PATH\n",
          common_help);
}

static int cmd_attach(int argc, char **argv) {
  return monitor_attach_main(argc, argv, attach_usage);
}

const dle_cli_verb dle_verb_attach = {
    "attach", "record an already running process until it exits or Ctrl-C", cmd_attach};
