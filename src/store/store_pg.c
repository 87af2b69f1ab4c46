/* store_pg.c — the PostgreSQL backend of the run store (placeholder until the
 * libpq implementation lands). */
#include "store_internal.h"

int dle_store_open_pg(const char *uri, dle_store **out, dle_error *err) {
  (void)uri;
  *out = NULL;
  return dle_error_set(err, DLE_EUNSUPPORTED, "PostgreSQL run store not built yet");
}
