/* fsutil.h — small file helpers shared by every module: atomic writes
 * (temp file + fsync + rename, so a crash never leaves a half-written file),
 * bounded whole-file reads, and locating the data files shipped with the tool. */
#ifndef DLENERGY_FSUTIL_H
#define DLENERGY_FSUTIL_H

#include <stddef.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes len bytes to path atomically: path.tmp.<pid> is written, fsynced and
 * renamed over path. "-" writes to standard output instead. */
int dle_write_file_atomic(const char *path, const void *data, size_t len, dle_error *err);

/* Reads a whole file into a NUL-terminated malloc'd buffer (*out_len excludes
 * the NUL). Fails with DLE_ERANGE when the file is larger than max_bytes. */
int dle_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                  dle_error *err);

/* Finds a data file shipped with dlenergy (e.g. "gpus.csv"): looks in
 * $DLENERGY_DATA_DIR, then the source tree's data/ (build tree use), then the
 * installed share/dlenergy/. Writes the path into buf. */
int dle_data_path(const char *name, char *buf, size_t bufsize, dle_error *err);

#ifdef __cplusplus
}
#endif
#endif
