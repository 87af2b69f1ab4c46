/* Tests of the Prometheus exporter: running energies, label escaping, a real HTTP
 * scrape over loopback, monotonic counters, and the exposition format validated by
 * `promtool check metrics` when Debian's prometheus package is installed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/exporter.h"

static dle_sample mk(double t, double gpu0, double gpu1, double cpu) {
  dle_sample s;
  dle_sample_clear(&s);
  s.t_s = t;
  s.n_gpus = 2;
  s.gpu[0].power_w = gpu0;
  s.gpu[1].power_w = gpu1;
  s.gpu[0].util_gpu_pct = 50;
  s.gpu[1].util_gpu_pct = 100;
  s.cpu_power_w = cpu;
  s.ram_power_w = 3;
  return s;
}

/* Value of the first line starting with prefix, or NAN. */
static double value_of(const char *text, const char *prefix) {
  const char *p = text ? strstr(text, prefix) : NULL;
  if (!p) return NAN;
  const char *sp = strchr(p, '}');
  if (!sp) return NAN;
  return strtod(sp + 1, NULL);
}

static char *http_get(int port, const char *path, int *status) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return NULL;
  }
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  ssize_t r;
  while ((r = read(fd, buf + len, cap - len - 1)) > 0) len += (size_t)r;
  close(fd);
  buf[len] = '\0';
  *status = atoi(strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "0");
  return buf;
}

static int promtool_ok(const char *body) {
  if (access("/usr/bin/promtool", X_OK) != 0) return -1;
  int in[2];
  if (pipe(in) != 0) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    close(in[1]);
    execl("/usr/bin/promtool", "promtool", "check", "metrics", (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  size_t len = strlen(body);
  if (write(in[1], body, len) != (ssize_t)len) return 0;
  close(in[1]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void) {
  dle_error e;
  dle_exporter *ex = NULL;
  const char *src[4] = {"nvml", "model", "none", "model"};
  CHECK_OK(dle_exporter_create(42, "node\"1\\x", src, &ex, &e), &e);
  if (!ex) return check_finish();
  /* gpu0 100 W, gpu1 ramps 0->200 W over 2 s, cpu 10 W: energies are hand-computable. */
  dle_sample s0 = mk(0, 100, 0, 10), s1 = mk(1, 100, 100, 10), s2 = mk(2, 100, 200, 10);
  dle_exporter_add_sample(ex, &s0);
  dle_exporter_add_sample(ex, &s1);
  dle_exporter_add_sample(ex, &s2);
  dle_exporter_set_epoch(ex, 3, 10);
  dle_exporter_set_projection(ex, "step-energy", 12345.5);
  char *text = NULL;
  size_t len = 0;
  CHECK_OK(dle_exporter_render(ex, &text, &len, &e), &e);
  if (!text) return check_finish();
  CHECK(len == strlen(text));
  CHECK(strstr(text, "host=\"node\\\"1\\\\x\"") != NULL); /* escaped quote and backslash */
  CHECK_NEAR(value_of(text, "dlenergy_energy_joules_total{run_id=\"42\",host=\"node\\\"1\\\\x\",component=\"gpu\""),
             200 + 200, 1e-9);
  CHECK_NEAR(value_of(text, "dlenergy_gpu_energy_joules_total{run_id=\"42\",host=\"node\\\"1\\\\x\",device=\"1\""),
             200, 1e-9);
  CHECK(strstr(text, "component=\"cpu\",source=\"model\"} 20") != NULL);
  CHECK(strstr(text, "component=\"dram\"") == NULL); /* no DRAM sensor: no series */
  CHECK(strstr(text, "dlenergy_epoch{run_id=\"42\",host=\"node\\\"1\\\\x\"} 3") != NULL);
  CHECK(strstr(text, "method=\"step-energy\"} 12345.5") != NULL);
  CHECK(strstr(text, "dlenergy_gpu_utilization_ratio{run_id=\"42\",host=\"node\\\"1\\\\x\",device=\"1\"} 1") != NULL);
  int pt = promtool_ok(text);
  if (pt >= 0) CHECK_MSG(pt == 1, "promtool rejected:\n%s", text);
  free(text);

  /* Bad listen addresses are refused with a message. */
  CHECK(dle_exporter_listen(ex, "not-an-ip:80", &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "not a numeric") != NULL);
  CHECK(dle_exporter_listen(ex, "127.0.0.1:99999", &e) == DLE_EINVAL);
  CHECK_OK(dle_exporter_listen(ex, "127.0.0.1:0", &e), &e);
  int port = dle_exporter_port(ex);
  CHECK(port > 0);
  int status = 0;
  char *r1 = http_get(port, "/metrics", &status);
  CHECK(r1 && status == 200);
  double e1 = r1 ? value_of(strstr(r1, "dlenergy_energy_joules_total{"), "component=\"gpu\"") : NAN;
  dle_sample s3 = mk(3, 100, 200, 10);
  dle_exporter_add_sample(ex, &s3);
  char *r2 = http_get(port, "/metrics", &status);
  double e2 = r2 ? value_of(strstr(r2, "dlenergy_energy_joules_total{"), "component=\"gpu\"") : NAN;
  CHECK_MSG(e2 > e1, "energy counter not increasing: %g then %g", e1, e2);
  CHECK_NEAR(e2 - e1, 300, 1e-9);
  free(r1);
  free(r2);
  char *r3 = http_get(port, "/nope", &status);
  CHECK(r3 && status == 404);
  free(r3);
  dle_exporter_destroy(ex);
  return check_finish();
}
