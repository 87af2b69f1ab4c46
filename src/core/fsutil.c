/* fsutil.c — see include/dlenergy/fsutil.h */
#include "dlenergy/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DLE_DATA_DIR_BUILD
#define DLE_DATA_DIR_BUILD ""
#endif
#ifndef DLE_DATA_DIR_INSTALL
#define DLE_DATA_DIR_INSTALL "/usr/local/share/dlenergy"
#endif

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int dle_write_file_atomic(const char *path, const void *data, size_t len, dle_error *err) {
  if (!path || (!data && len)) return dle_error_set(err, DLE_EINVAL, "no path or data");
  if (strcmp(path, "-") == 0) {
    if (write_all(STDOUT_FILENO, data, len) != 0)
      return dle_error_set(err, DLE_EIO, "writing standard output: %s", strerror(errno));
    return DLE_OK;
  }
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return dle_error_set(err, DLE_EIO, "cannot create %s: %s", path, strerror(e));
  }
  int rc = DLE_OK;
  if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
    rc = dle_error_set(err, DLE_EIO, "writing %s: %s", path, strerror(errno));
  }
  if (close(fd) != 0 && rc == DLE_OK)
    rc = dle_error_set(err, DLE_EIO, "closing %s: %s", path, strerror(errno));
  if (rc == DLE_OK && rename(tmp, path) != 0)
    rc = dle_error_set(err, DLE_EIO, "renaming onto %s: %s", path, strerror(errno));
  if (rc != DLE_OK) unlink(tmp);
  free(tmp);
  return rc;
}

int dle_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                  dle_error *err) {
  *out = NULL;
  if (out_len) *out_len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return dle_error_set(err, e == ENOENT ? DLE_ENOTFOUND : DLE_EIO, "cannot open %s: %s",
                         path, strerror(e));
  }
  /* A regular file's size is known: one buffer of that size, no regrowth (the loop below
   * still follows a file that grows while it is read). */
  size_t cap = 65536, len = 0;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (size_t)st.st_size < max_bytes)
    cap = (size_t)st.st_size + 1;
  char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(f);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  for (;;) {
    if (len == cap) {
      if (cap >= max_bytes) {
        free(buf);
        fclose(f);
        return dle_error_set(err, DLE_ERANGE, "%s is larger than %zu bytes", path, max_bytes);
      }
      size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return dle_error_set(err, DLE_ENOMEM, "out of memory reading %s", path);
      }
      buf = nb;
      cap = ncap;
    }
    size_t r = fread(buf + len, 1, cap - len, f);
    len += r;
    if (r == 0) {
      if (ferror(f)) {
        free(buf);
        fclose(f);
        return dle_error_set(err, DLE_EIO, "reading %s failed", path);
      }
      break;
    }
  }
  fclose(f);
  buf[len] = '\0';
  *out = buf;
  if (out_len) *out_len = len;
  return DLE_OK;
}

static int try_dir(const char *dir, const char *name, char *buf, size_t bufsize) {
  if (!dir || !*dir) return 0;
  int n = snprintf(buf, bufsize, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= bufsize) return 0;
  struct stat st;
  return stat(buf, &st) == 0 && S_ISREG(st.st_mode);
}

int dle_data_path(const char *name, char *buf, size_t bufsize, dle_error *err) {
  if (try_dir(getenv("DLENERGY_DATA_DIR"), name, buf, bufsize)) return DLE_OK;
  if (try_dir(DLE_DATA_DIR_BUILD, name, buf, bufsize)) return DLE_OK;
  if (try_dir(DLE_DATA_DIR_INSTALL, name, buf, bufsize)) return DLE_OK;
  return dle_error_set(err, DLE_ENOTFOUND,
                       "data file %s not found (set DLENERGY_DATA_DIR to the folder holding it)",
                       name);
}
