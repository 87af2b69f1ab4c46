/* parse.c — the hot, allocation-free field parsers of the importers: timestamps with
 * fixed calendar arithmetic and nvidia-smi values with unit strings (see ingest.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dlenergy/ingest.h"
#include "ingest_internal.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* n digits at s into *v; 0 on success. */
static int digits(const char *s, int n, int *v) {
  int x = 0;
  for (int i = 0; i < n; i++) {
    if (!is_digit(s[i])) return -1;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year
 * cycles of 146097 days, years starting in March so the leap day is last). */
int64_t dle_ingest_days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                /* [0, 399] */
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dm[m - 1];
}

int dle_ingest_parse_timestamp(const char *s, size_t len, int64_t *out_ns) {
  while (len && (*s == ' ' || *s == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) len--;
  /* YYYY-MM-DD HH:MM:SS = 19 characters */
  if (len < 19) return DLE_EPARSE;
  int y, mo, d, h, mi, sec;
  char ds = s[4];
  if ((ds != '-' && ds != '/') || s[7] != ds) return DLE_EPARSE;
  if (s[10] != ' ' && s[10] != 'T') return DLE_EPARSE;
  if (s[13] != ':' || s[16] != ':') return DLE_EPARSE;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
      digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
    return DLE_EPARSE;
  /* Keeps ns and differences of ns inside int64; logs outside these years are garbage. */
  if (y < 1970 || y > 2200) return DLE_EPARSE;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
    return DLE_EPARSE;
  int64_t frac_ns = 0;
  size_t i = 19;
  if (i < len) {
    if (s[i] != '.' && s[i] != ',') return DLE_EPARSE;
    i++;
    int nd = 0;
    int64_t scale = 100000000;
    while (i < len && is_digit(s[i])) {
      if (nd < 9) frac_ns += (s[i] - '0') * scale, scale /= 10;
      nd++, i++;
    }
    if (nd == 0 || i != len) return DLE_EPARSE;
  }
  int64_t days = dle_ingest_days_from_civil(y, mo, d);
  *out_ns = ((days * 24 + h) * 60 + mi) * 60 * INT64_C(1000000000) +
            (int64_t)sec * INT64_C(1000000000) + frac_ns;
  return DLE_OK;
}

static const double pow10_tab[19] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                     1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                     1e14, 1e15, 1e16, 1e17, 1e18};

static int is_na(const char *s, size_t len) {
  if (len == 0) return 1;
  if (s[0] == '[') return 1; /* [N/A], [Not Supported], [Unknown Error], ... */
  if (len == 3 && (memcmp(s, "N/A", 3) == 0 || memcmp(s, "NaN", 3) == 0 ||
                   memcmp(s, "nan", 3) == 0))
    return 1;
  if (len == 4 && memcmp(s, "None", 4) == 0) return 1;
  return 0;
}

int dle_ingest_parse_value(const char *s, size_t len, int integer_part, double *out) {
  while (len && (*s == ' ' || *s == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) len--;
  if (is_na(s, len)) {
    *out = NAN;
    return DLE_OK;
  }
  size_t i = 0;
  int neg = 0;
  if (s[i] == '-' || s[i] == '+') neg = s[i] == '-', i++;
  /* Mantissa as an exact integer (up to 18 significant digits), then one division
   * by a power of ten: the same correctly rounded result strtod gives. */
  uint64_t mant = 0;
  int nd = 0, frac_digits = 0, int_digits = 0, extra_int = 0;
  while (i < len && is_digit(s[i])) {
    if (nd < 18) {
      mant = mant * 10 + (uint64_t)(s[i] - '0');
      if (mant) nd++;
    } else {
      extra_int++;
    }
    int_digits++, i++;
  }
  if (i < len && s[i] == '.') {
    i++;
    size_t frac_start = i;
    while (i < len && is_digit(s[i])) {
      if (!integer_part && nd < 18) {
        mant = mant * 10 + (uint64_t)(s[i] - '0');
        if (mant) nd++;
        frac_digits++;
      }
      i++;
    }
    if (int_digits == 0 && i == frac_start) return DLE_EPARSE;
  } else if (int_digits == 0) {
    return DLE_EPARSE;
  }
  /* Exponent (plain decimals only in these logs, but accept e.g. 1e3). */
  int exp10 = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E') && i + 1 < len &&
      (is_digit(s[i + 1]) || ((s[i + 1] == '-' || s[i + 1] == '+') && i + 2 < len &&
                              is_digit(s[i + 2])))) {
    i++;
    int eneg = 0;
    if (s[i] == '-' || s[i] == '+') eneg = s[i] == '-', i++;
    while (i < len && is_digit(s[i]) && exp10 < 400) exp10 = exp10 * 10 + (s[i++] - '0');
    if (eneg) exp10 = -exp10;
  }
  /* Unit: one space then letters, '%' or '/' ("W", "%", "MiB", "MHz"). */
  if (i < len) {
    size_t j = i;
    if (s[j] != ' ') return DLE_EPARSE;
    j++;
    if (j == len) return DLE_EPARSE;
    for (; j < len; j++) {
      char c = s[j];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%' || c == '/'))
        return DLE_EPARSE;
    }
  }
  double v;
  int scale = extra_int - frac_digits + exp10;
  if (scale == 0)
    v = (double)mant;
  else if (scale < 0 && scale >= -18 && mant < (UINT64_C(1) << 53))
    v = (double)mant / pow10_tab[-scale];
  else if (scale > 0 && scale <= 18 && mant < (UINT64_C(1) << 53))
    v = (double)mant * pow10_tab[scale];
  else
    v = (double)mant * pow(10.0, scale);
  if (!isfinite(v)) return DLE_EPARSE;
  *out = neg ? -v : v;
  return DLE_OK;
}
