/* Reading, matching and writing tuning-log records (ir/tuning_log.h). Each line is parsed
 * as JSON (ir/json.h) and every field checked (types, ranges, the kernel hash's digits,
 * each recipe through kiln_recipe_parse) before it becomes a record, so a record that is
 * read is one that can be tried; whether its recipes apply to the kernel is the caller's
 * kiln_schedule_apply. Unknown keys are allowed (later versions may add some). */
#include "ir/tuning_log.h"

#include "ir/json.h"
#include "ir/schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LOG_BYTES (INT64_C(1) << 30)

void kiln_tuning_target_clear(kiln_tuning_target *t) {
  free(t->triple);
  free(t->cpu);
  free(t->features);
  memset(t, 0, sizeof *t);
}

bool kiln_tuning_target_equal(const kiln_tuning_target *a, const kiln_tuning_target *b) {
  return a->threads == b->threads && !strcmp(a->triple, b->triple) && !strcmp(a->cpu, b->cpu) &&
         !strcmp(a->features, b->features);
}

void kiln_tuning_record_clear(kiln_tuning_record *r) {
  free(r->op);
  free(r->choice);
  kiln_tuning_target_clear(&r->target);
  free(r->version);
  for (int i = 0; i < r->nstages; i++) {
    free(r->stages[i]);
    if (r->defaults) free(r->defaults[i]);
  }
  free(r->stages);
  free(r->defaults);
  free(r->recipes);
  memset(r, 0, sizeof *r);
}

void kiln_tuning_log_free(kiln_tuning_log *log) {
  for (int i = 0; i < log->n; i++) kiln_tuning_record_clear(&log->records[i]);
  free(log->records);
  memset(log, 0, sizeof *log);
}

/* ---- reading ------------------------------------------------------------------------- */

static const char *string_field(const kiln_json *obj, const char *key, const char **why) {
  const kiln_json *v = kiln_json_get(obj, key);
  if (!v || v->kind != KILN_JSON_STRING) {
    if (!*why) *why = key;
    return NULL;
  }
  return v->string;
}

static bool is_hash(const char *s) {
  if (strlen(s) != KILN_KERNEL_HASH_LEN) return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
  return true;
}

static bool whole(const kiln_json *v, double lo, double hi) {
  return v && v->kind == KILN_JSON_NUMBER && v->number >= lo && v->number <= hi &&
         v->number == floor(v->number);
}

/* r's fields common to both kinds of record, copied from c's. */
static void copy_common(kiln_tuning_record *r, const kiln_tuning_record *c) {
  r->target = (kiln_tuning_target){kiln_xstrdup(c->target.triple), kiln_xstrdup(c->target.cpu),
                                   kiln_xstrdup(c->target.features), c->target.threads};
  r->version = kiln_xstrdup(c->version);
  r->op = c->op ? kiln_xstrdup(c->op) : NULL;
  r->time_ns = c->time_ns;
  r->default_ns = c->default_ns;
}

/* A choice record's own fields (r's common ones are set); false with a message. */
static bool choice_from(const kiln_json *j, kiln_tuning_record *r, char *msg, size_t nmsg) {
  const char *missing = NULL;
  const char *node = string_field(j, "node", &missing), *choice = string_field(j, "choice", &missing);
  const kiln_json *value = kiln_json_get(j, "value"), *def = kiln_json_get(j, "default_value");
  if (missing) return snprintf(msg, nmsg, "no string \"%s\"", missing), false;
  if (!is_hash(node))
    return snprintf(msg, nmsg, "\"node\" is not %d lowercase hex digits", KILN_HASH_HEX_LEN),
           false;
  size_t n = strlen(choice);
  if (n < 1 || n > 32 || strspn(choice, "abcdefghijklmnopqrstuvwxyz_") != n)
    return snprintf(msg, nmsg, "\"choice\" is not a name of 1 to 32 lowercase letters"), false;
  if (!whole(value, 0, 65536))
    return snprintf(msg, nmsg, "\"value\" is not a whole number from 0 to 65536"), false;
  if (def && !whole(def, 0, 65536))
    return snprintf(msg, nmsg, "\"default_value\" is not a whole number from 0 to 65536"), false;
  memcpy(r->node, node, sizeof r->node);
  r->choice = kiln_xstrdup(choice);
  r->value = (int)value->number;
  r->default_value = def ? (int)def->number : -1;
  return true;
}

/* A record from one parsed line; false with a message in msg. */
static bool record_from(const kiln_json *j, kiln_tuning_record *r, char *msg, size_t nmsg) {
  const char *missing = NULL;
  if (j->kind != KILN_JSON_OBJECT) return snprintf(msg, nmsg, "not a JSON object"), false;
  bool is_choice = kiln_json_get(j, "node") != NULL;
  if (is_choice && kiln_json_get(j, "kernel"))
    return snprintf(msg, nmsg, "both \"kernel\" and \"node\": a record is one or the other"),
           false;
  const char *kernel = is_choice ? "" : string_field(j, "kernel", &missing);
  const kiln_json *target = kiln_json_get(j, "target");
  const char *triple = string_field(target, "triple", &missing);
  const char *cpu = string_field(target, "cpu", &missing);
  const char *features = string_field(target, "features", &missing);
  const char *version = string_field(j, "version", &missing);
  const kiln_json *threads = kiln_json_get(target, "threads");
  const kiln_json *stages = kiln_json_get(j, "stages"), *time = kiln_json_get(j, "time_ns");
  const kiln_json *def = kiln_json_get(j, "default_ns"), *op = kiln_json_get(j, "op");
  const kiln_json *defaults = kiln_json_get(j, "default");
  if (!target || target->kind != KILN_JSON_OBJECT)
    return snprintf(msg, nmsg, "no \"target\" object"), false;
  if (missing) return snprintf(msg, nmsg, "no string \"%s\"", missing), false;
  if (!is_choice && !is_hash(kernel))
    return snprintf(msg, nmsg, "\"kernel\" is not %d lowercase hex digits", KILN_KERNEL_HASH_LEN),
           false;
  if (!whole(threads, 1, 65536))
    return snprintf(msg, nmsg, "\"target\".\"threads\" is not a whole number from 1 to 65536"),
           false;
  if (!time || time->kind != KILN_JSON_NUMBER || !(time->number > 0) || !isfinite(time->number))
    return snprintf(msg, nmsg, "\"time_ns\" is not a positive number"), false;
  if (def && (def->kind != KILN_JSON_NUMBER || !(def->number >= 0) || !isfinite(def->number)))
    return snprintf(msg, nmsg, "\"default_ns\" is not a number of 0 or more"), false;
  if (op && op->kind != KILN_JSON_STRING) return snprintf(msg, nmsg, "\"op\" is not a string"), false;
  kiln_tuning_record common = {.target = {(char *)triple, (char *)cpu, (char *)features,
                                           (int)threads->number},
                                .version = (char *)version,
                                .op = op ? (char *)op->string : NULL,
                                .time_ns = time->number,
                                .default_ns = def ? def->number : 0};
  if (is_choice) {
    memset(r, 0, sizeof *r);
    if (!choice_from(j, r, msg, nmsg)) return false;
    copy_common(r, &common);
    return true;
  }
  if (!stages || stages->kind != KILN_JSON_ARRAY || stages->n < 1 ||
      stages->n > KILN_TUNING_MAX_STAGES)
    return snprintf(msg, nmsg, "\"stages\" is not an array of 1 to %d recipe strings",
                    KILN_TUNING_MAX_STAGES), false;
  if (defaults && (defaults->kind != KILN_JSON_ARRAY || defaults->n != stages->n))
    return snprintf(msg, nmsg, "\"default\" is not an array of %d recipe strings, one per "
                    "stage", stages->n), false;
  for (int i = 0; defaults && i < defaults->n; i++) {
    const kiln_json *d = &defaults->items[i];
    kiln_recipe rd;
    kiln_error e = {0};
    if (d->kind != KILN_JSON_STRING)
      return snprintf(msg, nmsg, "\"default\"[%d] is not a string", i), false;
    if (kiln_recipe_parse(d->string, &rd, &e))
      return snprintf(msg, nmsg, "\"default\"[%d]: %.400s", i, e.message), false;
  }
  memset(r, 0, sizeof *r);
  memcpy(r->kernel, kernel, sizeof r->kernel);
  copy_common(r, &common);
  r->stages = kiln_xcalloc((size_t)stages->n, sizeof *r->stages);
  r->recipes = kiln_xcalloc((size_t)stages->n, sizeof *r->recipes);
  if (defaults) {
    r->defaults = kiln_xcalloc((size_t)stages->n, sizeof *r->defaults);
    for (int i = 0; i < stages->n; i++) r->defaults[i] = kiln_xstrdup(defaults->items[i].string);
  }
  for (int i = 0; i < stages->n; i++) {
    const kiln_json *s = &stages->items[i];
    kiln_error e = {0};
    if (s->kind != KILN_JSON_STRING) {
      snprintf(msg, nmsg, "\"stages\"[%d] is not a string", i);
    } else if (kiln_recipe_parse(s->string, &r->recipes[i], &e)) {
      snprintf(msg, nmsg, "\"stages\"[%d]: %.400s", i, e.message);
    } else {
      r->stages[r->nstages++] = kiln_xstrdup(s->string);
      continue;
    }
    kiln_tuning_record_clear(r);
    return false;
  }
  return true;
}

kiln_status kiln_tuning_log_parse(kiln_tuning_log *log, const char *text, size_t len,
                                  const char *name, kiln_error *err) {
  int line = 0;
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
    const char *s = text + pos;
    line++;
    pos = end + 1;
    size_t k = 0;
    while (k < n && strchr(" \t\r", s[k]) && s[k]) k++;
    if (k == n) continue; /* a blank line */
    char msg[512] = "";
    if (n > KILN_TUNING_MAX_LINE)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "tuning log '%s' line %d: longer than "
                       "%d bytes", name, line, KILN_TUNING_MAX_LINE);
    kiln_json *j = kiln_json_parse(s, n, msg, sizeof msg);
    kiln_tuning_record r;
    bool ok = j && record_from(j, &r, msg, sizeof msg);
    kiln_json_free(j);
    if (!ok)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "tuning log '%s' line %d: %s%s", name,
                       line, j ? "" : "not JSON: ", msg);
    r.line = line;
    KILN_GROW(log->records, log->n, log->cap);
    log->records[log->n++] = r;
  }
  return KILN_OK;
}

kiln_status kiln_tuning_log_read(kiln_tuning_log *log, const char *path, kiln_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return kiln_fail(err, errno == ENOENT ? KILN_ERR_NO_SUCH_FILE : KILN_ERR_IO,
                     "cannot open tuning log '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_LOG_BYTES) {
    fclose(f);
    return kiln_fail(err, KILN_ERR_IO, "tuning log '%s' is not a regular file of at most %lld "
                     "bytes", path, (long long)MAX_LOG_BYTES);
  }
  size_t n = (size_t)sb.st_size;
  char *buf = kiln_xmalloc(n + 1);
  size_t got = fread(buf, 1, n, f);
  bool bad = ferror(f) != 0 || got != n;
  fclose(f);
  kiln_status st = bad ? kiln_fail(err, KILN_ERR_IO, "cannot read tuning log '%s'", path)
                       : kiln_tuning_log_parse(log, buf, n, path, err);
  free(buf);
  return st;
}

/* ---- matching ------------------------------------------------------------------------ */

static int compare_stages(const kiln_tuning_record *a, const kiln_tuning_record *b) {
  for (int i = 0; i < a->nstages && i < b->nstages; i++) {
    int c = strcmp(a->stages[i], b->stages[i]);
    if (c) return c;
  }
  return a->nstages - b->nstages;
}

const kiln_tuning_record *kiln_tuning_log_best(const kiln_tuning_log *log, const char *kernel,
                                               int nstages, const kiln_tuning_target *target,
                                               const char *version,
                                               const char *const *defaults) {
  const kiln_tuning_record *best = NULL;
  for (int i = 0; log && i < log->n; i++) {
    const kiln_tuning_record *r = &log->records[i];
    if (strcmp(r->kernel, kernel) || r->nstages != nstages || strcmp(r->version, version) ||
        !kiln_tuning_target_equal(&r->target, target))
      continue;
    bool stale = false;
    for (int s = 0; defaults && r->defaults && s < nstages && !stale; s++)
      stale = strcmp(r->defaults[s], defaults[s]) != 0;
    if (stale) continue;
    if (!best || r->time_ns < best->time_ns ||
        (r->time_ns == best->time_ns && compare_stages(r, best) < 0))
      best = r;
  }
  return best;
}

const kiln_tuning_record *kiln_tuning_log_choice(const kiln_tuning_log *log, const char *node,
                                                 const char *choice,
                                                 const kiln_tuning_target *target,
                                                 const char *version, int def) {
  const kiln_tuning_record *best = NULL;
  for (int i = 0; log && i < log->n; i++) {
    const kiln_tuning_record *r = &log->records[i];
    if (!r->choice || strcmp(r->node, node) || strcmp(r->choice, choice) ||
        strcmp(r->version, version) || !kiln_tuning_target_equal(&r->target, target) ||
        (r->default_value >= 0 && r->default_value != def))
      continue;
    if (!best || r->time_ns < best->time_ns ||
        (r->time_ns == best->time_ns && r->value < best->value))
      best = r;
  }
  return best;
}

/* ---- writing ------------------------------------------------------------------------- */

void kiln_tuning_record_init(kiln_tuning_record *r, const kiln_kernel *k, const char *hash,
                             const kiln_tuning_target *target, double time_ns,
                             double default_ns, const kiln_recipe *defaults) {
  memset(r, 0, sizeof *r);
  snprintf(r->kernel, sizeof r->kernel, "%s", hash);
  copy_common(r, &(kiln_tuning_record){.target = *target, .version = KILN_VERSION,
                                       .op = (char *)k->op, .time_ns = time_ns,
                                       .default_ns = default_ns});
  r->nstages = k->nstages;
  r->stages = kiln_xcalloc((size_t)k->nstages + 1, sizeof *r->stages);
  r->recipes = kiln_xcalloc((size_t)k->nstages + 1, sizeof *r->recipes);
  if (defaults) r->defaults = kiln_xcalloc((size_t)k->nstages + 1, sizeof *r->defaults);
  for (int i = 0; i < k->nstages; i++) {
    r->stages[i] = kiln_recipe_text(&k->stages[i].recipe);
    r->recipes[i] = k->stages[i].recipe;
    if (defaults) r->defaults[i] = kiln_recipe_text(&defaults[i]);
  }
}

void kiln_tuning_choice_init(kiln_tuning_record *r, const char *node, const char *choice,
                             const char *op, int value, int default_value,
                             const kiln_tuning_target *target, double time_ns, double default_ns) {
  memset(r, 0, sizeof *r);
  snprintf(r->node, sizeof r->node, "%s", node);
  r->choice = kiln_xstrdup(choice);
  r->value = value;
  r->default_value = default_value;
  copy_common(r, &(kiln_tuning_record){.target = *target, .version = KILN_VERSION, .op = (char *)op,
                                       .time_ns = time_ns, .default_ns = default_ns});
}

static void write_target(const kiln_tuning_record *r, FILE *out) {
  fprintf(out, ", \"target\": {\"triple\": ");
  kiln_json_write_string(r->target.triple, out);
  fprintf(out, ", \"cpu\": ");
  kiln_json_write_string(r->target.cpu, out);
  fprintf(out, ", \"features\": ");
  kiln_json_write_string(r->target.features, out);
  fprintf(out, ", \"threads\": %d}, \"version\": ", r->target.threads);
  kiln_json_write_string(r->version, out);
}

void kiln_tuning_record_write(const kiln_tuning_record *r, FILE *out) {
  if (r->choice) {
    fprintf(out, "{\"node\": \"%s\", \"op\": ", r->node);
    kiln_json_write_string(r->op ? r->op : "", out);
    write_target(r, out);
    fprintf(out, ", \"choice\": ");
    kiln_json_write_string(r->choice, out);
    fprintf(out, ", \"value\": %d", r->value);
    if (r->default_value >= 0) fprintf(out, ", \"default_value\": %d", r->default_value);
    fprintf(out, ", \"time_ns\": %.17g, \"default_ns\": %.17g}\n", r->time_ns, r->default_ns);
    return;
  }
  fprintf(out, "{\"kernel\": \"%s\", \"op\": ", r->kernel);
  kiln_json_write_string(r->op ? r->op : "", out);
  write_target(r, out);
  fprintf(out, ", \"stages\": [");
  for (int i = 0; i < r->nstages; i++) {
    fprintf(out, "%s", i ? ", " : "");
    kiln_json_write_string(r->stages[i], out);
  }
  if (r->defaults) {
    fprintf(out, "], \"default\": [");
    for (int i = 0; i < r->nstages; i++) {
      fprintf(out, "%s", i ? ", " : "");
      kiln_json_write_string(r->defaults[i], out);
    }
  }
  fprintf(out, "], \"time_ns\": %.17g, \"default_ns\": %.17g}\n", r->time_ns, r->default_ns);
}
