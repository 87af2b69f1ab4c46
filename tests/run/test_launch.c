/* Tests of the launcher: exit statuses, missing commands, signals to the child's
 * process group, the inherited marker descriptor, close-on-exec, captured output,
 * environment edits, signal dispositions, and watching a process that is not ours. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/launch.h"
#include "dlenergy/markers.h"

static int run_status(char *const *argv, dle_exit_info *x) {
  dle_launch_opts o = {.argv = argv, .marker_fd = -1};
  dle_child *c = NULL;
  dle_error e;
  int rc = dle_child_spawn(&o, &c, &e);
  if (rc) return rc;
  rc = dle_child_wait(c, x, &e);
  dle_child_free(c);
  return rc;
}

/* Reads a child's captured stdout to EOF (blocking via poll). */
static size_t read_output(int fd, char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) break;
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n > 0) {
      len += (size_t)n;
      if (len == cap - 1) break;
    } else if (n == 0 || errno != EAGAIN) {
      break;
    }
  }
  buf[len] = '\0';
  return len;
}

static void test_statuses(void) {
  dle_exit_info x;
  char *ok[] = {"true", NULL};
  CHECK(run_status(ok, &x) == 0 && x.exit_code == 0 && x.term_signal == 0);
  CHECK(dle_exit_info_status(&x) == 0);
  char *three[] = {"sh", "-c", "exit 3", NULL};
  CHECK(run_status(three, &x) == 0 && x.exit_code == 3 && dle_exit_info_status(&x) == 3);
  char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
  CHECK(run_status(killed, &x) == 0 && x.exit_code == -1 && x.term_signal == SIGTERM);
  CHECK(dle_exit_info_status(&x) == 143);

  dle_error e;
  dle_child *c = NULL;
  char *missing[] = {"dlenergy-no-such-command-xyz", "arg", NULL};
  dle_launch_opts o = {.argv = missing, .marker_fd = -1};
  CHECK(dle_child_spawn(&o, &c, &e) == DLE_ENOTFOUND && c == NULL);
  CHECK(strstr(e.msg, "dlenergy-no-such-command-xyz") && strstr(e.msg, "not found"));
  char *missing_path[] = {"/nonexistent/dir/cmd", NULL};
  o.argv = missing_path;
  CHECK(dle_child_spawn(&o, &c, &e) == DLE_ENOTFOUND);
  /* A file without execute permission: not "not found" (a shell says 126). */
  char path[] = "/tmp/dle_launch_noexec_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  char *noexec[] = {path, NULL};
  o.argv = noexec;
  CHECK(dle_child_spawn(&o, &c, &e) == DLE_EIO && strstr(e.msg, "ermission"));
  unlink(path);
  char *empty[] = {"", NULL};
  o.argv = empty;
  CHECK(dle_child_spawn(&o, &c, &e) == DLE_EINVAL);
}

static void test_marker_fd_and_cloexec(void) {
  dle_error e;
  int r = -1, w = -1;
  CHECK_OK(dle_marker_pipe(&r, &w, &e), &e);
  int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int fds[3] = {w, r, other};
  char script[512];
  /* The child (dash: one-digit redirections only) writes a marker through the inherited
   * descriptor and reports which of our descriptor numbers are open in it. */
  snprintf(script, sizeof script,
           "echo epoch_begin 1 >&$DLENERGY_MARKER_FD;"
           " for f in %d %d %d $DLENERGY_MARKER_FD; do"
           " [ -e /proc/self/fd/$f ] && echo open $f || echo closed $f; done;"
           " echo \"marker=${DLENERGY_MARKER:-unset} keep=$DLE_TEST_KEEP\"; echo err >&2",
           w, r, other);
  char *argv[] = {"/bin/sh", "-c", script, NULL};
  const char *set[] = {"DLENERGY_MARKER_FD=999", NULL}; /* replaced by marker_env's value */
  const char *unset[] = {"DLENERGY_MARKER", NULL};
  setenv("DLENERGY_MARKER", "/stale/fifo", 1);
  setenv("DLE_TEST_KEEP", "yes", 1);
  dle_launch_opts o = {.argv = argv, .marker_fd = w, .marker_env = "DLENERGY_MARKER_FD",
                       .capture_output = true, .env_set = set, .env_unset = unset};
  dle_child *c = NULL;
  CHECK_OK(dle_child_spawn(&o, &c, &e), &e);
  if (!c) return;
  int cfd = dle_child_marker_fd(c);
  /* The lowest number >= 3 free in the child (3 when this test is started with only
   * stdio; a harness may hand us more inheritable descriptors). */
  int want = 3;
  while (want < w) {
    int fl = fcntl(want, F_GETFD);
    if (fl < 0 || (fl & FD_CLOEXEC)) break;
    want++;
  }
  CHECK_MSG(cfd == want && cfd <= r, "marker fd in the child: %d, expected %d", cfd, want);
  /* Our copy of the write end stays close-on-exec in the parent. */
  CHECK(fcntl(w, F_GETFD) & FD_CLOEXEC);
  close(w);
  char out[1024], err_text[64];
  read_output(dle_child_stdout_fd(c), out, sizeof out);
  read_output(dle_child_stderr_fd(c), err_text, sizeof err_text);
  dle_exit_info x;
  CHECK_OK(dle_child_wait(c, &x, &e), &e);
  CHECK(x.exit_code == 0);
  char expect[256] = "";
  size_t len = 0;
  for (int i = 0; i < 3; i++)
    len += (size_t)snprintf(expect + len, sizeof expect - len, "%s %d\n",
                            fds[i] == cfd ? "open" : "closed", fds[i]);
  snprintf(expect + len, sizeof expect - len, "open %d\nmarker=unset keep=yes\n", cfd);
  CHECK_MSG(strcmp(out, expect) == 0, "child printed '%s', expected '%s'", out, expect);
  CHECK(strcmp(err_text, "err\n") == 0);
  char buf[64];
  ssize_t n = read(r, buf, sizeof buf - 1);
  CHECK(n == 14 && memcmp(buf, "epoch_begin 1\n", 14) == 0);
  dle_child_free(c);
  close(r);
  close(other);
  unsetenv("DLENERGY_MARKER");

  /* An inheritable descriptor of the caller is never taken over. */
  int keep = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: meant for the child */
  CHECK_OK(dle_marker_pipe(&r, &w, &e), &e);
  char *argv2[] = {"true", NULL};
  dle_launch_opts o2 = {.argv = argv2, .marker_fd = w};
  CHECK_OK(dle_child_spawn(&o2, &c, &e), &e);
  if (c) {
    CHECK(dle_child_marker_fd(c) != keep && dle_child_marker_fd(c) >= 3);
    CHECK_OK(dle_child_wait(c, &x, &e), &e);
    dle_child_free(c);
  }
  close(keep);
  close(r);
  close(w);
}

static void test_signals_and_group(void) {
  dle_error e;
  /* The child leads its own session; a signal to it reaches its whole group. */
  char *argv[] = {"sh", "-c", "sleep 300 & echo $!; wait", NULL};
  dle_launch_opts o = {.argv = argv, .marker_fd = -1, .capture_output = true};
  dle_child *c = NULL;
  CHECK_OK(dle_child_spawn(&o, &c, &e), &e);
  if (!c) return;
  pid_t pid = dle_child_pid(c);
  CHECK(getsid(pid) == pid && getpgid(pid) == pid && getsid(0) != pid);
  char line[64] = "";
  /* First line of output: the grandchild's pid. */
  size_t len = 0;
  while (!strchr(line, '\n') && len < sizeof line - 1) {
    struct pollfd p = {.fd = dle_child_stdout_fd(c), .events = POLLIN};
    poll(&p, 1, -1);
    ssize_t n = read(dle_child_stdout_fd(c), line + len, sizeof line - 1 - len);
    if (n <= 0 && errno != EAGAIN) break;
    if (n > 0) len += (size_t)n;
    line[len] = '\0';
  }
  pid_t grandchild = (pid_t)atol(line);
  CHECK(grandchild > 0 && getpgid(grandchild) == pid);
  dle_proc_watch *gw = NULL;
  CHECK_OK(dle_proc_watch_open(grandchild, &gw, &e), &e);
  CHECK(gw && dle_proc_watch_alive(gw));

  bool exited = true;
  dle_exit_info x;
  CHECK_OK(dle_child_try_wait(c, &exited, &x, &e), &e);
  CHECK(!exited);
  CHECK_OK(dle_child_signal(c, SIGTERM, &e), &e);
  int wfd = dle_child_wait_fd(c);
  if (wfd >= 0) {
    struct pollfd p = {.fd = wfd, .events = POLLIN};
    CHECK(poll(&p, 1, -1) == 1); /* readable once the child has exited */
    CHECK_OK(dle_child_try_wait(c, &exited, &x, &e), &e);
    CHECK(exited);
  } else {
    CHECK_OK(dle_child_wait(c, &x, &e), &e);
  }
  CHECK(x.term_signal == SIGTERM);
  CHECK(dle_child_signal(c, SIGTERM, &e) == DLE_ESTATE); /* reaped: never signal its pid */
  CHECK(dle_child_wait_fd(c) == -1);
  /* The grandchild got the signal too (it is not our child: wait on its pidfd). */
  if (gw) {
    int gfd = dle_proc_watch_fd(gw);
    if (gfd >= 0) {
      struct pollfd p = {.fd = gfd, .events = POLLIN};
      CHECK(poll(&p, 1, -1) == 1);
    } else {
      while (dle_proc_watch_alive(gw)) usleep(10000);
    }
    CHECK(!dle_proc_watch_alive(gw));
  }
  dle_proc_watch_free(gw);
  dle_child_free(c);
  CHECK(dle_proc_watch_open(grandchild, &gw, &e) == DLE_ENOTFOUND || grandchild <= 0);
  CHECK(dle_proc_watch_open(-5, &gw, &e) == DLE_EINVAL);
}

static void test_sig_default(void) {
  /* A signal we ignore stays ignored in the child unless the caller resets it. */
  signal(SIGUSR1, SIG_IGN);
  char *argv[] = {"sh", "-c", "kill -USR1 $$; exit 7", NULL};
  dle_exit_info x;
  CHECK(run_status(argv, &x) == 0 && x.exit_code == 7);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGUSR1);
  dle_launch_opts o = {.argv = argv, .marker_fd = -1, .sig_default = &def};
  dle_child *c = NULL;
  dle_error e;
  CHECK_OK(dle_child_spawn(&o, &c, &e), &e);
  if (c) {
    CHECK_OK(dle_child_wait(c, &x, &e), &e);
    CHECK(x.term_signal == SIGUSR1);
    dle_child_free(c);
  }
  signal(SIGUSR1, SIG_DFL);
  /* A blocked signal in the parent is unblocked in the child. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  char *term[] = {"sh", "-c", "kill -TERM $$; exit 9", NULL};
  CHECK(run_status(term, &x) == 0 && x.term_signal == SIGTERM);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void) {
  test_statuses();
  test_marker_fd_and_cloexec();
  test_signals_and_group();
  test_sig_default();
  return check_finish();
}
