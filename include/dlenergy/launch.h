/* launch.h — starting the training command and watching processes.
 *
 * dle_child_spawn() runs a command with execvp semantics (PATH search, no shell:
 * argv is passed as is) through posix_spawnp. By default the child gets its own
 * session and process group:
 *   - signals reach it once: dlenergy forwards SIGINT/SIGTERM/SIGHUP to the child's
 *     process group (dle_child_signal) and a terminal's Ctrl-C, which goes to
 *     dlenergy's foreground group only, is not delivered twice;
 *   - a crash or `kill -9` of dlenergy leaves the training running (no SIGHUP from the
 *     terminal either); it has no controlling terminal (stdin/stdout still work).
 * Every descriptor the caller opened with O_CLOEXEC stays closed in the child; only
 * marker_fd and, when capture_output is set, the new stdout/stderr pipes cross over.
 * The marker descriptor gets the lowest number >= 3 that is free in the child (closed
 * or close-on-exec here; usually 3), so that shells whose redirections take one digit
 * (dash: `echo epoch_end 1 >&3`) can use it.
 *
 * The library never installs signal handlers; the caller decides which signals the
 * child must find at their default disposition (sig_default). */
#ifndef DLENERGY_LAUNCH_H
#define DLENERGY_LAUNCH_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_launch_opts {
  char *const *argv;            /* NULL-terminated; argv[0] searched in PATH */
  int marker_fd;                /* inherited by the child (see above); -1: none */
  const char *marker_env;       /* when set, "NAME=<its number in the child>" is added to
                                   the child's environment (e.g. "DLENERGY_MARKER_FD") */
  bool capture_output;          /* child stdout/stderr become non-blocking pipes to read */
  bool same_process_group;      /* false (default): own session and process group */
  bool stdout_to_stderr;        /* without capture_output: the child's stdout is our
                                   stderr (keeps our stdout for a machine-read result) */
  const char *const *env_set;   /* "KEY=VALUE" entries added/replacing in the environment */
  const char *const *env_unset; /* names removed from the child's environment */
  const sigset_t *sig_default;  /* signals reset to SIG_DFL in the child; NULL: none */
} dle_launch_opts;

/* How a process ended. */
typedef struct dle_exit_info {
  int exit_code;   /* 0..255 when it exited, -1 otherwise */
  int term_signal; /* signal that killed it, 0 when it exited */
  bool core_dumped;
} dle_exit_info;

/* Shell-style status: exit_code, or 128 + term_signal. */
int dle_exit_info_status(const dle_exit_info *x);

typedef struct dle_child dle_child;

/* Starts the command. When it cannot be started the call fails and nothing runs:
 * DLE_ENOTFOUND for a missing command (a shell exits 127), DLE_EIO for any other
 * exec failure such as permission denied (a shell exits 126). */
int dle_child_spawn(const dle_launch_opts *opts, dle_child **out, dle_error *err);

pid_t dle_child_pid(const dle_child *c);
/* The marker descriptor's number in the child, or -1. */
int dle_child_marker_fd(const dle_child *c);
/* Read ends of the captured output (non-blocking, close-on-exec), or -1. The child
 * owns them: use dle_child_close_output() rather than close(). */
int dle_child_stdout_fd(const dle_child *c);
int dle_child_stderr_fd(const dle_child *c);
/* Closes the read end of the child's stdout (which = 1) or stderr (which = 2). */
void dle_child_close_output(dle_child *c, int which);

/* A descriptor that poll() reports readable once the child has exited (a pidfd),
 * or -1 when the kernel has none: then call dle_child_try_wait() periodically. */
int dle_child_wait_fd(const dle_child *c);

/* Reaps the child if it has exited: *exited tells, *info says how. Never blocks. */
int dle_child_try_wait(dle_child *c, bool *exited, dle_exit_info *info, dle_error *err);
/* Blocks until the child exits (EINTR is retried). */
int dle_child_wait(dle_child *c, dle_exit_info *info, dle_error *err);
/* Sends sig to the child's process group (to the child alone when it shares ours).
 * DLE_ESTATE once it has been reaped (its pid may belong to someone else). */
int dle_child_signal(dle_child *c, int sig, dle_error *err);
/* Closes descriptors and frees; does not signal or wait for the child. */
void dle_child_free(dle_child *c);

/* ---- an existing process (dlenergy attach) ---- */
typedef struct dle_proc_watch dle_proc_watch;

/* DLE_ENOTFOUND when no process has that pid. */
int dle_proc_watch_open(pid_t pid, dle_proc_watch **out, dle_error *err);
/* pollable descriptor (readable when the process has exited), or -1: poll alive. */
int dle_proc_watch_fd(const dle_proc_watch *w);
bool dle_proc_watch_alive(dle_proc_watch *w);
void dle_proc_watch_free(dle_proc_watch *w);

#ifdef __cplusplus
}
#endif
#endif
