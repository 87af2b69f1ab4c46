/* campaign.h — experiment plans for `dlenergy bench`: factors and levels, a command
 * template, repetitions, warm-up and cool-down, a seeded randomized order.
 *
 * A plan is JSON:
 *   {
 *     "name": "cnn-sweep",                       (required; identifies runs in the store)
 *     "factors": {"arch": ["a", "b"], "bs": [16, 32]},   (levels: strings or numbers)
 *     "command": ["python3", "train.py", "--arch", "{arch}", "--batch-size={bs}"],
 *     "repetitions": 30,
 *     "seed": 1, "randomize": true,
 *     "warmup": {"command": ["..."], "duration_s": 600},
 *     "cooldown_s": 300,
 *     "timeout_s": 7200,
 *     "meta": {"dataset": "caltech101"},
 *     "run_options": ["--interval", "0.5"]      (extra `dlenergy run` options)
 *   }
 * Placeholders "{factor}" are substituted inside each argv element; "{{" and "}}"
 * are literal braces. The command is never passed through a shell. */
#ifndef DLENERGY_CAMPAIGN_H
#define DLENERGY_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_plan dle_plan;

typedef struct dle_plan_item {
  size_t config;   /* index of the factor-level combination, 0..n_configs-1 */
  int repetition;  /* 0..repetitions-1 */
} dle_plan_item;

int dle_plan_parse(const char *json, size_t len, dle_plan **out, dle_error *err);
int dle_plan_load(const char *path, dle_plan **out, dle_error *err);
void dle_plan_free(dle_plan *p);

const char *dle_plan_name(const dle_plan *p);
size_t dle_plan_n_factors(const dle_plan *p);
const char *dle_plan_factor_name(const dle_plan *p, size_t factor);
size_t dle_plan_n_configs(const dle_plan *p); /* product of the level counts */
int dle_plan_repetitions(const dle_plan *p);
double dle_plan_cooldown_s(const dle_plan *p);
double dle_plan_timeout_s(const dle_plan *p);  /* 0 = none */
double dle_plan_warmup_s(const dle_plan *p);   /* 0 = no warm-up */
/* The level of factor `factor` in configuration `config` (as text). */
const char *dle_plan_level(const dle_plan *p, size_t config, size_t factor);
/* Stable 16-hex-digit id of a configuration (hash of its factor=level pairs). */
void dle_plan_config_id(const dle_plan *p, size_t config, char out[17]);
/* Extra metadata and `dlenergy run` options from the plan. */
size_t dle_plan_n_meta(const dle_plan *p);
void dle_plan_meta(const dle_plan *p, size_t i, const char **key, const char **value);
size_t dle_plan_n_run_options(const dle_plan *p);
const char *dle_plan_run_option(const dle_plan *p, size_t i);

/* Every (configuration, repetition) pair in execution order: shuffled with the
 * plan's seed when "randomize" is true (default), else configuration-major. The
 * same plan always gives the same order. Free *items with free(). */
int dle_plan_schedule(const dle_plan *p, dle_plan_item **items, size_t *n, dle_error *err);

/* The command of configuration `config` with placeholders substituted; a
 * NULL-terminated argv to free with dle_plan_argv_free(). */
int dle_plan_command(const dle_plan *p, size_t config, char ***argv, dle_error *err);
/* The warm-up command (NULL argv when the plan has none). */
int dle_plan_warmup_command(const dle_plan *p, char ***argv, dle_error *err);
void dle_plan_argv_free(char **argv);

#ifdef __cplusplus
}
#endif
#endif
