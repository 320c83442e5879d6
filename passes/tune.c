/* The `tune` pass (passes/tune.h): a tuning log's schedules replace the default ones of
 * the kernels they were measured for. Kept apart from the default scheduler
 * (passes/schedule.c): that one decides, this one only looks up. Each kernel's content
 * hash (its IR without schedules) picks the fastest matching record; the record's
 * recipes go through kiln_schedule_apply, the one legality check, so a record that does
 * not fit (a hand edit, a stale log) changes nothing. A record that names the default
 * recipes it beat applies only while the default scheduler still makes those: a kiln whose
 * defaults improved since is not held to the schedules that beat the old ones. */
#include "passes/tune.h"

#include "ir/schedule.h"

#include <stdlib.h>
#include <string.h>

bool kiln_kernel_apply_recipes(kiln_kernel *k, const kiln_recipe *recipes, int n) {
  if (n != k->nstages) return false;
  kiln_schedule *saved_s = kiln_xcalloc((size_t)k->nstages + 1, sizeof *saved_s);
  kiln_recipe *saved_r = kiln_xcalloc((size_t)k->nstages + 1, sizeof *saved_r);
  bool ok = true;
  for (int i = 0; i < k->nstages; i++) {
    saved_s[i] = k->stages[i].sched;
    saved_r[i] = k->stages[i].recipe;
  }
  for (int i = 0; i < k->nstages && ok; i++) {
    kiln_error e = {0};
    ok = kiln_schedule_apply(&k->stages[i], &recipes[i], &e) == KILN_OK;
  }
  if (!ok)
    for (int i = 0; i < k->nstages; i++) {
      k->stages[i].sched = saved_s[i];
      k->stages[i].recipe = saved_r[i];
    }
  free(saved_s);
  free(saved_r);
  return ok;
}

void kiln_tune_apply_log(kiln_steps *steps, const kiln_tuning_log *log,
                         const kiln_tuning_target *target, FILE *note, int *nkernels,
                         int *napplied) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *s = &steps->steps[i];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(s, sub);
    for (int j = 0; j < nl; j++) kiln_tune_apply_log(sub[j], log, target, note, nkernels, napplied);
    if (s->kind != KILN_STEP_KERNEL) continue;
    kiln_kernel *k = s->kernel;
    char hash[KILN_KERNEL_HASH_LEN + 1];
    (*nkernels)++;
    if (!k || !kiln_kernel_hash(k, hash)) continue;
    /* the kernel's recipes are still the default scheduler's: records measured against
     * others are stale */
    char **defaults = kiln_xcalloc((size_t)k->nstages + 1, sizeof *defaults);
    for (int st = 0; st < k->nstages; st++) defaults[st] = kiln_recipe_text(&k->stages[st].recipe);
    const kiln_tuning_record *r = kiln_tuning_log_best(log, hash, k->nstages, target, KILN_VERSION,
                                                       (const char *const *)defaults);
    for (int st = 0; st < k->nstages; st++) free(defaults[st]);
    free(defaults);
    if (!r || !kiln_kernel_apply_recipes(k, r->recipes, r->nstages)) continue;
    (*napplied)++;
    if (!note) continue;
    fprintf(note, "kernel %s (%s) %s: %.0f ns (default %.0f ns)\n", k->name,
            k->op ? k->op : "?", hash, r->time_ns, r->default_ns);
    for (int st = 0; st < k->nstages; st++)
      if (k->stages[st].recipe.nsteps) {
        fprintf(note, "  stage %d %s: ", st, k->stages[st].name ? k->stages[st].name : "");
        kiln_recipe_print(&k->stages[st].recipe, note);
        fputc('\n', note);
      }
  }
}

void kiln_pass_tune(kiln_program *p, const kiln_tuning_log *log,
                    const kiln_tuning_target *target) {
  char *body = NULL, *text = NULL;
  size_t len = 0, tlen = 0;
  FILE *note = open_memstream(&body, &len);
  int nkernels = 0, napplied = 0, nchosen = 0;
  kiln_tune_apply_log(&p->main, log, target, note, &nkernels, &napplied);
  for (int i = 0; i < p->choices.n; i++) { /* what the graph passes took from the log */
    const kiln_choice *c = &p->choices.items[i];
    if (!c->from_log) continue;
    nchosen++;
    if (note)
      fprintf(note, "choice %s of node %s (%s) %s: %d (default %d)\n", c->what, c->node, c->op,
              c->key, c->value, c->def);
  }
  if (note) fclose(note);
  FILE *f = open_memstream(&text, &tlen);
  if (f) {
    fprintf(f, "kiln %s, %s, cpu %s, %d thread%s: %d of %d kernels tuned", KILN_VERSION,
            target->triple, target->cpu, target->threads, target->threads == 1 ? "" : "s",
            napplied, nkernels);
    if (p->choices.n) fprintf(f, ", %d of %d choices", nchosen, p->choices.n);
    fputc('\n', f);
    if (body) fputs(body, f);
    fclose(f);
  }
  free(body);
  free(p->tuning);
  p->tuning = text;
}
