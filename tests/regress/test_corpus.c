/* Replays the model-file fuzz corpus (tests/regress/corpus) through the reader:
 * every file must give a model or a clean error (never a crash, which ASan/UBSan
 * builds turn into a failure); the seeds written by `dlenergy fit` must load and
 * predict, and the damaged seeds must be refused. */
#include <dirent.h>

#include "check.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/regress.h"

int main(int argc, char **argv) {
  if (argc < 2) SKIP("usage: test_regress_corpus DIR");
  DIR *dir = opendir(argv[1]);
  CHECK_MSG(dir != NULL, "cannot open %s", argv[1]);
  if (!dir) return check_finish();
  size_t files = 0, accepted = 0;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
    char *text = NULL;
    size_t len = 0;
    dle_error e;
    if (dle_read_file(path, 1 << 24, &text, &len, &e) != 0) continue;
    files++;
    dle_regress_model *m = NULL;
    int rc = dle_regress_model_parse(text, len, &m, &e);
    CHECK((rc == 0) == (m != NULL));
    if (rc == 0) {
      accepted++;
      size_t nn = dle_regress_model_num_count(m);
      double *num = calloc(nn ? nn : 1, sizeof *num);
      double y = NAN;
      int prc = dle_regress_model_predict(m, num, NULL, &y, &e);
      CHECK(prc != 0 || isfinite(y));
      free(num);
    } else {
      CHECK(e.msg[0] != '\0');
    }
    if (strncmp(de->d_name, "power-", 6) == 0 || strncmp(de->d_name, "ee-", 3) == 0)
      CHECK_MSG(rc == 0, "%s: %s", de->d_name, e.msg);
    if (strncmp(de->d_name, "bad-", 4) == 0 || strncmp(de->d_name, "size-", 5) == 0)
      CHECK_MSG(rc == DLE_EPARSE, "%s accepted", de->d_name);
    dle_regress_model_free(m);
    free(text);
  }
  closedir(dir);
  printf("%zu corpus files, %zu accepted as models\n", files, accepted);
  CHECK(files >= 5);
  return check_finish();
}
