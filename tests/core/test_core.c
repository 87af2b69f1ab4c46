/* Tests of the core helpers: error messages and atomic file writes. */
#include <unistd.h>

#include "check.h"
#include "dlenergy/error.h"
#include "dlenergy/fsutil.h"

static void test_error(void) {
  dle_error e;
  dle_error_clear(&e);
  CHECK(e.code == 0 && e.msg[0] == '\0');
  int rc = dle_error_set(&e, DLE_EPARSE, "line %d: bad field '%s'", 7, "x");
  CHECK(rc == DLE_EPARSE);
  CHECK(strcmp(e.msg, "line 7: bad field 'x'") == 0);
  dle_error_prefix(&e, "reading %s: ", "a.csv");
  CHECK(strcmp(e.msg, "reading a.csv: line 7: bad field 'x'") == 0);
  CHECK(e.code == DLE_EPARSE);
  CHECK(dle_error_set(NULL, DLE_EIO, "ignored") == DLE_EIO);
  CHECK(strcmp(dle_status_str(DLE_ENOTFOUND), "not found") == 0);
}

static void test_atomic_write(void) {
  dle_error e;
  char path[] = "core_atomic_test.txt";
  CHECK_OK(dle_write_file_atomic(path, "hello\n", 6, &e), &e);
  char *buf = NULL;
  size_t len = 0;
  CHECK_OK(dle_read_file(path, 1 << 20, &buf, &len, &e), &e);
  CHECK(len == 6 && buf && strcmp(buf, "hello\n") == 0);
  free(buf);
  /* Overwrite replaces the whole content. */
  CHECK_OK(dle_write_file_atomic(path, "x", 1, &e), &e);
  CHECK_OK(dle_read_file(path, 1 << 20, &buf, &len, &e), &e);
  CHECK(len == 1 && buf[0] == 'x');
  free(buf);
  /* Size bound is enforced. */
  char big[200000];
  memset(big, 'a', sizeof big);
  CHECK_OK(dle_write_file_atomic(path, big, sizeof big, &e), &e);
  CHECK(dle_read_file(path, 1000, &buf, &len, &e) == DLE_ERANGE);
  CHECK(buf == NULL);
  unlink(path);
  /* Missing file and unwritable directory give clear errors. */
  CHECK(dle_read_file("/nonexistent/dir/x", 10, &buf, &len, &e) == DLE_ENOTFOUND);
  CHECK(strstr(e.msg, "/nonexistent/dir/x") != NULL);
  CHECK(dle_write_file_atomic("/nonexistent/dir/x", "a", 1, &e) == DLE_EIO);
}

int main(void) {
  test_error();
  test_atomic_write();
  return check_finish();
}
