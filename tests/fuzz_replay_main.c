/* fuzz_replay_main.c — feeds every file of a fuzz corpus directory to a libFuzzer
 * target built without libFuzzer (CI regression test for the kept corpus). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  DIR *d = opendir(argv[1]);
  if (!d) {
    perror(argv[1]);
    return 1;
  }
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
    char *buf = NULL;
    size_t len = 0;
    dle_error e;
    if (dle_read_file(path, 16u << 20, &buf, &len, &e) != 0) {
      fprintf(stderr, "%s\n", e.msg);
      closedir(d);
      return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len); /* aborts on a broken invariant */
    free(buf);
    n++;
  }
  closedir(d);
  printf("replayed %d corpus files from %s\n", n, argv[1]);
  return n > 0 ? 0 : 1;
}
