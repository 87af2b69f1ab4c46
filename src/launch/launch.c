/* launch.c — spawning the training command (posix_spawnp, no shell), reaping it,
 * forwarding signals, and watching an existing process. See include/dlenergy/launch.h. */
#define _GNU_SOURCE /* POSIX_SPAWN_SETSID */
#include "dlenergy/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct dle_child {
  pid_t pid;
  bool own_group;
  bool reaped;
  int out_fd, err_fd, pidfd;
  int marker_child_fd;
};

int dle_exit_info_status(const dle_exit_info *x) {
  if (x->term_signal > 0) return 128 + x->term_signal;
  return x->exit_code >= 0 ? x->exit_code : 1;
}

static int pidfd_open_compat(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    fcntl((int)fd, F_SETFD, FD_CLOEXEC); /* pidfds are close-on-exec already */
    return (int)fd;
  }
#else
  (void)pid;
#endif
  return -1;
}

/* Length of the name part of a "NAME=VALUE" (or bare NAME) string. */
static size_t name_len(const char *s) {
  const char *eq = strchr(s, '=');
  return eq ? (size_t)(eq - s) : strlen(s);
}

static bool listed(const char *entry, const char *const *list) {
  size_t n = name_len(entry);
  for (size_t i = 0; list && list[i]; i++)
    if (name_len(list[i]) == n && strncmp(entry, list[i], n) == 0) return true;
  return false;
}

/* environ minus env_unset and the names env_set (and extra) redefine, plus env_set and
 * extra. The strings are borrowed; only the array is allocated. */
static char **build_env(const dle_launch_opts *o, const char *extra) {
  size_t n = 0, k = 0;
  for (char **e = environ; e && *e; e++) n++;
  for (size_t i = 0; o->env_set && o->env_set[i]; i++) n++;
  char **env = calloc(n + 2, sizeof *env);
  if (!env) return NULL;
  const char *extra_list[] = {extra, NULL};
  for (char **e = environ; e && *e; e++)
    if (!listed(*e, o->env_unset) && !listed(*e, o->env_set) && !(extra && listed(*e, extra_list)))
      env[k++] = *e;
  for (size_t i = 0; o->env_set && o->env_set[i]; i++)
    if (!(extra && listed(o->env_set[i], extra_list))) env[k++] = (char *)o->env_set[i];
  if (extra) env[k++] = (char *)extra;
  env[k] = NULL;
  return env;
}

/* The lowest descriptor >= 3 that will be free in the child: closed here, or
 * close-on-exec (exec closes it, and the dup2 of the file actions replaces it first).
 * Descriptors the caller left inheritable are never taken. */
static int child_fd_for(int fd) {
  for (int k = 3; k < fd; k++) {
    int flags = fcntl(k, F_GETFD);
    if ((flags < 0 && errno == EBADF) || (flags >= 0 && (flags & FD_CLOEXEC))) return k;
  }
  return fd;
}

int dle_child_spawn(const dle_launch_opts *o, dle_child **out, dle_error *err) {
  *out = NULL;
  if (!o || !o->argv || !o->argv[0] || !o->argv[0][0])
    return dle_error_set(err, DLE_EINVAL, "no command to run");
  dle_child *c = calloc(1, sizeof *c);
  if (!c) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  c->out_fd = c->err_fd = c->pidfd = c->marker_child_fd = -1;
  c->own_group = !o->same_process_group;
  int outp[2] = {-1, -1}, errp[2] = {-1, -1};
  char **env = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  bool fa_ok = false, attr_ok = false;
  int rc = DLE_OK, e = 0;

  if (o->capture_output &&
      (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)) {
    rc = dle_error_set(err, DLE_EIO, "cannot create output pipes: %s", strerror(errno));
    goto fail;
  }
  char marker_var[128] = "";
  if (o->marker_fd >= 0) {
    c->marker_child_fd = child_fd_for(o->marker_fd);
    if (o->marker_env &&
        snprintf(marker_var, sizeof marker_var, "%s=%d", o->marker_env, c->marker_child_fd) >=
            (int)sizeof marker_var) {
      rc = dle_error_set(err, DLE_EINVAL, "marker variable name too long");
      goto fail;
    }
  }
  if (!(env = build_env(o, marker_var[0] ? marker_var : NULL))) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto fail;
  }
  if ((e = posix_spawn_file_actions_init(&fa)) != 0) goto spawn_setup_fail;
  fa_ok = true;
  if ((e = posix_spawnattr_init(&attr)) != 0) goto spawn_setup_fail;
  attr_ok = true;
  if (o->capture_output) {
    if ((e = posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO)) != 0 ||
        (e = posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO)) != 0)
      goto spawn_setup_fail;
  } else if (o->stdout_to_stderr) {
    if ((e = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO)) != 0)
      goto spawn_setup_fail;
  }
  /* After the stdout/stderr dup2s (a pipe end the marker lands on is already copied).
   * dup2 onto itself clears FD_CLOEXEC in the child only (glibc >= 2.29, POSIX 2024). */
  if (o->marker_fd >= 0 &&
      (e = posix_spawn_file_actions_adddup2(&fa, o->marker_fd, c->marker_child_fd)) != 0)
    goto spawn_setup_fail;
  short flags = POSIX_SPAWN_SETSIGMASK;
  sigset_t none;
  sigemptyset(&none);
  if ((e = posix_spawnattr_setsigmask(&attr, &none)) != 0) goto spawn_setup_fail;
  if (o->sig_default) {
    flags |= POSIX_SPAWN_SETSIGDEF;
    if ((e = posix_spawnattr_setsigdefault(&attr, o->sig_default)) != 0) goto spawn_setup_fail;
  }
  if (c->own_group) flags |= POSIX_SPAWN_SETSID;
  if ((e = posix_spawnattr_setflags(&attr, flags)) != 0) goto spawn_setup_fail;

  e = posix_spawnp(&c->pid, o->argv[0], &fa, &attr, o->argv, env);
  if (e != 0) {
    rc = dle_error_set(err, e == ENOENT ? DLE_ENOTFOUND : DLE_EIO, "cannot run '%s': %s",
                       o->argv[0], e == ENOENT ? "command not found" : strerror(e));
    goto fail;
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  free(env);
  if (o->capture_output) {
    close(outp[1]);
    close(errp[1]);
    c->out_fd = outp[0];
    c->err_fd = errp[0];
    fcntl(c->out_fd, F_SETFL, fcntl(c->out_fd, F_GETFL) | O_NONBLOCK);
    fcntl(c->err_fd, F_SETFL, fcntl(c->err_fd, F_GETFL) | O_NONBLOCK);
  }
  c->pidfd = pidfd_open_compat(c->pid);
  *out = c;
  return DLE_OK;

spawn_setup_fail:
  rc = dle_error_set(err, DLE_EIO, "cannot prepare to run '%s': %s", o->argv[0], strerror(e));
fail:
  if (fa_ok) posix_spawn_file_actions_destroy(&fa);
  if (attr_ok) posix_spawnattr_destroy(&attr);
  free(env);
  for (int i = 0; i < 2; i++) {
    if (outp[i] >= 0) close(outp[i]);
    if (errp[i] >= 0) close(errp[i]);
  }
  free(c);
  return rc;
}

pid_t dle_child_pid(const dle_child *c) { return c->pid; }
int dle_child_marker_fd(const dle_child *c) { return c->marker_child_fd; }
int dle_child_stdout_fd(const dle_child *c) { return c->out_fd; }
int dle_child_stderr_fd(const dle_child *c) { return c->err_fd; }
int dle_child_wait_fd(const dle_child *c) { return c->reaped ? -1 : c->pidfd; }

void dle_child_close_output(dle_child *c, int which) {
  int *fd = which == 1 ? &c->out_fd : which == 2 ? &c->err_fd : NULL;
  if (fd && *fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

static void decode_status(int status, dle_exit_info *info) {
  info->exit_code = -1;
  info->term_signal = 0;
  info->core_dumped = false;
  if (WIFEXITED(status)) {
    info->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info->term_signal = WTERMSIG(status);
#ifdef WCOREDUMP
    info->core_dumped = WCOREDUMP(status) != 0;
#endif
  }
}

static int reap(dle_child *c, int options, bool *exited, dle_exit_info *info, dle_error *err) {
  *exited = false;
  if (c->reaped) return dle_error_set(err, DLE_ESTATE, "process %ld already reaped", (long)c->pid);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(c->pid, &status, options);
    if (r < 0) {
      if (errno == EINTR) continue;
      return dle_error_set(err, DLE_EIO, "waiting for process %ld: %s", (long)c->pid,
                           strerror(errno));
    }
    if (r == 0) return DLE_OK;
    c->reaped = true;
    if (c->pidfd >= 0) {
      close(c->pidfd);
      c->pidfd = -1;
    }
    decode_status(status, info);
    *exited = true;
    return DLE_OK;
  }
}

int dle_child_try_wait(dle_child *c, bool *exited, dle_exit_info *info, dle_error *err) {
  return reap(c, WNOHANG, exited, info, err);
}

int dle_child_wait(dle_child *c, dle_exit_info *info, dle_error *err) {
  bool exited = false;
  return reap(c, 0, &exited, info, err);
}

int dle_child_signal(dle_child *c, int sig, dle_error *err) {
  if (c->reaped)
    return dle_error_set(err, DLE_ESTATE, "process %ld has already exited", (long)c->pid);
  int r = c->own_group ? kill(-c->pid, sig) : kill(c->pid, sig);
  /* ESRCH: the group is gone while the child is not reaped yet: nothing to signal. */
  if (r != 0 && errno != ESRCH)
    return dle_error_set(err, DLE_EIO, "cannot signal process %ld: %s", (long)c->pid,
                         strerror(errno));
  return DLE_OK;
}

void dle_child_free(dle_child *c) {
  if (!c) return;
  if (c->out_fd >= 0) close(c->out_fd);
  if (c->err_fd >= 0) close(c->err_fd);
  if (c->pidfd >= 0) close(c->pidfd);
  free(c);
}

/* ---- watching a process that is not our child ---- */

struct dle_proc_watch {
  pid_t pid;
  int pidfd;
};

/* A zombie counts as gone: it has exited, only its parent has not reaped it. */
static bool pid_running(pid_t pid) {
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true; /* no procfs: kill() said it exists */
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char *rp = strrchr(buf, ')'); /* the command name may hold spaces or parens */
  return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

int dle_proc_watch_open(pid_t pid, dle_proc_watch **out, dle_error *err) {
  *out = NULL;
  if (pid <= 0) return dle_error_set(err, DLE_EINVAL, "invalid process id %ld", (long)pid);
  if (!pid_running(pid))
    return dle_error_set(err, DLE_ENOTFOUND, "no running process with id %ld", (long)pid);
  dle_proc_watch *w = calloc(1, sizeof *w);
  if (!w) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  w->pid = pid;
  w->pidfd = pidfd_open_compat(pid);
  *out = w;
  return DLE_OK;
}

int dle_proc_watch_fd(const dle_proc_watch *w) { return w->pidfd; }

bool dle_proc_watch_alive(dle_proc_watch *w) {
  if (w->pidfd >= 0) {
    struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
    int r = poll(&p, 1, 0);
    if (r > 0) return false;
    if (r == 0) return true;
  }
  return pid_running(w->pid);
}

void dle_proc_watch_free(dle_proc_watch *w) {
  if (!w) return;
  if (w->pidfd >= 0) close(w->pidfd);
  free(w);
}
