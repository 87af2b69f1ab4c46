/* ingest_internal.h — helpers shared by the files of src/ingest/ (not public). */
#ifndef DLE_INGEST_INTERNAL_H
#define DLE_INGEST_INTERNAL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t dle_ingest_days_from_civil(int y, int m, int d);

#endif
