/* The manifest an AOT library carries as `const char <name>_manifest[]`: KILN_MANIFEST_MARK,
 * then one JSON object saying what the library is (its name and entry points, inputs and
 * outputs with dtypes and shapes, workspace bytes, target, the kiln that built it, its
 * kernels with their fused nodes and costs). `kiln run LIB` and `kiln bench LIB` find the
 * mark in the file and call the library from it, without its header (docs/reports.md). */
#include "codegen/plumbing.h"

#include "ir/json.h"
#include "ir/kernel_cost.h"
#include "passes/tune.h"

#include <stdlib.h>

static void put_io(kiln_json_writer *w, const char *key, const kiln_io *io, int n) {
  kiln_json_open(w, key, '[');
  for (int i = 0; i < n; i++) {
    kiln_json_open(w, NULL, '{');
    kiln_json_put_string(w, "name", io[i].name);
    kiln_json_put_string(w, "dtype", kiln_dtype_name(io[i].dtype));
    kiln_json_open(w, "shape", '[');
    for (int d = 0; d < io[i].rank; d++) kiln_json_put_number(w, NULL, (double)io[i].dims[d]);
    kiln_json_close(w);
    kiln_json_put_number(w, "bytes", (double)io[i].bytes);
    kiln_json_close(w);
  }
  kiln_json_close(w);
}

static void put_target(kiln_json_writer *w, const kiln_options *opts, bool gpu) {
  kiln_json_open(w, "target", '{');
  if (gpu) {
    kiln_json_put_string(w, "backend", "cuda");
    kiln_json_put_string(w, "gpu_arch", opts->gpu_arch ? opts->gpu_arch : "sm_90");
  } else {
    kiln_tuning_target t;
    kiln_tuning_target_of(opts, &t);
    kiln_json_put_string(w, "backend", "cpu");
    kiln_json_put_string(w, "triple", t.triple);
    kiln_json_put_string(w, "cpu", t.cpu);
    kiln_tuning_target_clear(&t);
  }
  kiln_json_close(w);
}

static void put_kernels(kiln_json_writer *w, const kiln_program *p) {
  int n;
  const kiln_kernel **ks = kiln_steps_kernel_list(&p->main, &n);
  kiln_json_open(w, "kernels", '[');
  for (int i = 0; i < n; i++) {
    kiln_kernel_cost c;
    kiln_kernel_cost_of(ks[i], &c);
    kiln_json_open(w, NULL, '{');
    kiln_json_put_string(w, "name", ks[i]->name);
    kiln_json_put_string(w, "op", ks[i]->op ? ks[i]->op : "?");
    kiln_json_open(w, "nodes", '[');
    for (int k = 0; k < ks[i]->nnodes; k++) kiln_json_put_string(w, NULL, ks[i]->nodes[k]);
    kiln_json_close(w);
    kiln_json_put_number(w, "flops", c.flops);
    kiln_json_put_number(w, "bytes", c.bytes_read + c.bytes_written);
    kiln_json_close(w);
  }
  kiln_json_close(w);
  free(ks);
}

char *kiln_aot_manifest(const kiln_program *p, const kiln_options *opts, const char *name,
                        bool gpu, bool threads) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) kiln_out_of_memory(0);
  fputs(KILN_MANIFEST_MARK, f);
  kiln_json_writer w;
  kiln_json_writer_init(&w, f, 2);
  kiln_json_open(&w, NULL, '{');
  kiln_json_put_number(&w, "manifest", 1);
  kiln_json_put_string(&w, "kiln_version", KILN_VERSION);
  kiln_json_put_string(&w, "name", name);
  char *run = kiln_fmt(p->nsyms ? "%s_run_dims" : "%s_run_arrays", name);
  char *set = kiln_fmt("%s_set_num_threads", name);
  kiln_json_put_string(&w, "entry", run);
  if (p->nsyms) { /* shapes then hold -1 at free dims; the entry takes <name>_tensor arrays */
    kiln_json_open(&w, "free_dims", '[');
    for (int s = 0; s < p->nsyms; s++) kiln_json_put_string(&w, NULL, p->sym_names[s]);
    kiln_json_close(&w);
    kiln_json_open(&w, "buckets", '[');
    for (int b = 0; b < p->nbuckets; b++) put_io(&w, NULL, p->buckets[b]->inputs, p->ninputs);
    kiln_json_close(&w);
  }
  kiln_json_put_string(&w, "set_num_threads", threads ? set : NULL);
  free(run);
  free(set);
  put_target(&w, opts, gpu);
  kiln_json_put_number(&w, "workspace_bytes", (double)p->arena_bytes);
  put_io(&w, "inputs", p->inputs, p->ninputs);
  put_io(&w, "outputs", p->outputs, p->noutputs);
  put_kernels(&w, p);
  kiln_json_close(&w);
  fclose(f);
  return text;
}
