/* cli.h — what every verb file needs: the verb descriptor and shared helpers.
 * Only src/cli/ may print, read the environment for options, or exit. */
#ifndef DLENERGY_CLI_H
#define DLENERGY_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dlenergy/error.h"

typedef struct dle_cli_verb {
  const char *name;
  const char *summary; /* one line for `dlenergy --help` */
  int (*main)(int argc, char **argv); /* argv[0] is the verb; returns the exit status */
} dle_cli_verb;

/* Exit statuses of the CLI. */
enum { DLE_EXIT_OK = 0, DLE_EXIT_FAIL = 1, DLE_EXIT_USAGE = 2 };

/* Prints "dlenergy VERB: message" to stderr; returns DLE_EXIT_FAIL. */
int cli_fail(const char *verb, const dle_error *err);
/* Prints "dlenergy VERB: <formatted>" and a hint to run --help; returns DLE_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The run store location: --db value if given, else $DLENERGY_DB, else ./dlenergy.db */
const char *cli_db_path(const char *opt_db);

/* Strict number parsing: the whole string must be a finite number in range. */
bool cli_parse_double(const char *s, double *out);
bool cli_parse_int64(const char *s, int64_t *out);
bool cli_parse_int(const char *s, int *out);

/* Human-readable energy with unit: J, kJ, MJ and kWh as fits ("12.3 kJ (0.0034 kWh)"). */
void cli_format_energy(double joules, char *buf, size_t n);
/* Human-readable duration: "1h 02m 03s", "4.2 s". */
void cli_format_duration(double seconds, char *buf, size_t n);

/* True when stderr is a terminal (for progress lines). */
bool cli_stderr_is_tty(void);

#endif
