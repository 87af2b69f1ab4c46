/* mp_tool — the matrix profile of a series for the NumPy cross-check
 * (test_mp_stumpy.py): reads little-endian doubles from IN, writes n - m + 1 profile
 * values (doubles) then as many neighbour indices (int64) to OUT. With "stream" the
 * profile is grown one point at a time (dle_mp_stream) instead of the batch.
 * Usage: mp_tool IN OUT M THREADS [stream] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/stabilize.h"

int main(int argc, char **argv) {
  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "stream") == 0)) {
    fprintf(stderr, "usage: mp_tool IN OUT M THREADS [stream]\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) return perror(argv[1]), 1;
  size_t cap = 1 << 16, n = 0;
  double *x = malloc(cap * sizeof *x);
  for (;;) {
    if (n == cap) x = realloc(x, (cap *= 2) * sizeof *x);
    if (!x) return 1;
    if (fread(&x[n], sizeof *x, 1, f) != 1) break;
    n++;
  }
  fclose(f);
  size_t m = (size_t)atoi(argv[3]), l = n >= m ? n - m + 1 : 0;
  double *mp = malloc((l ? l : 1) * sizeof *mp);
  int64_t *mpi = malloc((l ? l : 1) * sizeof *mpi);
  dle_error e = {0};
  if (!mp || !mpi) return 1;
  if (argc == 6) {
    dle_mp_stream *s = NULL;
    int rc = dle_mp_stream_new(m, 0, &s, &e);
    for (size_t i = 0; !rc && i < n; i++) rc = dle_mp_stream_push(s, x[i], &e);
    if (!rc && dle_mp_stream_length(s) != l) rc = dle_error_set(&e, DLE_ERANGE, "length");
    if (!rc) rc = dle_mp_stream_profile(s, mp, mpi, &e);
    dle_mp_stream_free(s);
    if (rc) {
      fprintf(stderr, "mp_tool: %s\n", e.msg);
      return 1;
    }
  } else if (dle_matrix_profile(x, n, m, 0, atoi(argv[4]), mp, mpi, &e)) {
    fprintf(stderr, "mp_tool: %s\n", e.msg);
    return 1;
  }
  FILE *o = fopen(argv[2], "wb");
  if (!o || fwrite(mp, sizeof *mp, l, o) != l || fwrite(mpi, sizeof *mpi, l, o) != l ||
      fclose(o))
    return perror(argv[2]), 1;
  free(x), free(mp), free(mpi);
  return 0;
}
