/* Command-line options: which command takes which, and strict values. An option of
 * another command, an unknown one, a number with trailing junk or out of range, and the
 * same option twice are all errors: the CLI never runs something other than what it was
 * asked for. */
#include "tools/cli_util.h"

#include "passes/passes.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct cli_option {
  const char *name;
  unsigned commands; /* CLI_* bits of the commands that take it */
  bool value;        /* takes a value (the next argument) */
} cli_option;

enum {
  ALL = CLI_COMPILE | CLI_RUN | CLI_DUMP | CLI_BENCH | CLI_TUNE | CLI_CHECK | CLI_VERIFY,
  RUNS = CLI_RUN | CLI_BENCH
};

static const cli_option options[] = {
    {"-h", ALL, false},
    {"--help", ALL, false},
    {"--shape", ALL, true},
    {"--bucket", CLI_COMPILE | CLI_RUN | CLI_TUNE, true},
    {"--max-tensor-bytes", ALL, true},
    {"--max-loop-iterations", CLI_COMPILE | CLI_RUN, true},
    {"--max-nodes", CLI_COMPILE | RUNS | CLI_TUNE | CLI_CHECK | CLI_VERIFY, true},
    {"--check-bounds", CLI_COMPILE | CLI_RUN, false},
    {"--no-fuse", ALL, false},
    {"--no-layout", ALL, false},
    {"-o", CLI_COMPILE | CLI_DUMP | CLI_TUNE, true},
    {"--name", CLI_COMPILE, true},
    {"--cpu", CLI_COMPILE, true},
    {"--features", CLI_COMPILE, true},
    {"--triple", CLI_COMPILE, true},
    {"--linker", CLI_COMPILE, true},
    {"--target", CLI_COMPILE | CLI_RUN | CLI_DUMP, true},
    {"--cuda", CLI_DUMP, false},
    {"--gpu-arch", CLI_COMPILE | CLI_RUN, true},
    {"--inputs", RUNS | CLI_VERIFY, true},
    {"--random-inputs", RUNS | CLI_VERIFY, false},
    {"--output-dir", CLI_RUN, true},
    {"--seed", RUNS | CLI_TUNE | CLI_VERIFY, true},
    {"--repeat", RUNS, true},
    {"--threads", RUNS | CLI_TUNE | CLI_VERIFY, true},
    {"--kernels", CLI_DUMP, false},
    {"--after", CLI_DUMP, true},
    {"--dsl", CLI_DUMP, false},
    {"--dsl-weights", CLI_DUMP, true},
    {"--json", CLI_BENCH | CLI_TUNE | CLI_CHECK | CLI_VERIFY, false},
    {"--peak-gflops", CLI_BENCH, true},
    {"--peak-gbs", CLI_BENCH, true},
    {"--tuning-log", CLI_COMPILE | RUNS | CLI_DUMP | CLI_CHECK | CLI_VERIFY, true},
    {"--tuning", CLI_DUMP, false},
    {"--budget", CLI_TUNE, true},
    {"--shard", CLI_TUNE, true},
    {"--list-kernels", CLI_TUNE, false},
    {"--report", CLI_COMPILE | CLI_RUN, true},
    {"--html", CLI_BENCH, true},
};

static const char *command_name(unsigned c) {
  return c == CLI_COMPILE ? "compile" : c == CLI_RUN ? "run" : c == CLI_DUMP ? "dump"
       : c == CLI_BENCH ? "bench" : c == CLI_TUNE ? "tune" : c == CLI_CHECK ? "check" : "verify";
}

static kiln_status not_ours(cli_command cmd, const cli_option *o, kiln_error *err) {
  char owners[128] = "";
  size_t len = 0;
  for (unsigned c = CLI_COMPILE; c <= CLI_VERIFY; c <<= 1)
    if (o->commands & c)
      len += (size_t)snprintf(owners + len, sizeof owners - len, "%s'kiln %s'",
                              len ? " and " : "", command_name(c));
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s is not an option of 'kiln %s' (only of %s)",
                   o->name, command_name(cmd), owners);
}

/* A whole decimal number in [min, max]: digits only, no sign, spaces or suffix. */
static kiln_status parse_number(const char *s, int64_t min, int64_t max, int64_t *out) {
  int64_t v = 0;
  if (!*s) return KILN_ERR_INVALID_ARGUMENT;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9' || __builtin_mul_overflow(v, 10, &v) ||
        __builtin_add_overflow(v, *p - '0', &v))
      return KILN_ERR_INVALID_ARGUMENT;
  if (v < min || v > max) return KILN_ERR_INVALID_ARGUMENT;
  *out = v;
  return KILN_OK;
}

static kiln_status number_option(const char *opt, const char *s, int64_t min, int64_t max,
                                 int64_t *out, kiln_error *err) {
  if (parse_number(s, min, max, out) == KILN_OK) return KILN_OK;
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s wants a whole number from %lld to %lld, got '%s'",
                   opt, (long long)min, (long long)max, s);
}

/* A positive decimal number ("12.5"), finite, with nothing after it. */
static kiln_status positive_option(const char *opt, const char *s, double *out, kiln_error *err) {
  char *end;
  double v = (s[0] >= '0' && s[0] <= '9') || s[0] == '.' ? strtod(s, &end) : 0;
  if (v > 0 && v < 1e12 && !*end) {
    *out = v;
    return KILN_OK;
  }
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s wants a positive number, got '%s'", opt, s);
}

/* bench --threads: "1,2,4", each from 1 to CLI_MAX_THREADS. */
static kiln_status parse_thread_counts(const char *s, cli_args *a, kiln_error *err) {
  for (const char *p = s;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    char num[32];
    int64_t v;
    if (a->nthread_counts == CLI_MAX_THREAD_COUNTS || n >= sizeof num ||
        (memcpy(num, p, n), num[n] = 0, parse_number(num, 1, CLI_MAX_THREADS, &v)))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--threads wants up to %d whole numbers "
                       "from 1 to %d separated by commas, got '%s'", CLI_MAX_THREAD_COUNTS,
                       CLI_MAX_THREADS, s);
    a->thread_counts[a->nthread_counts++] = (int)v;
    if (!comma) return KILN_OK;
    p = comma + 1;
  }
}

/* tune --shard K/N: 1 <= K <= N <= 100000. */
static kiln_status parse_shard(const char *s, cli_args *a, kiln_error *err) {
  const char *slash = strchr(s, '/');
  char k[32];
  int64_t kv, nv;
  size_t n = slash ? (size_t)(slash - s) : 0;
  if (!slash || n >= sizeof k || (memcpy(k, s, n), k[n] = 0, parse_number(k, 1, 100000, &kv)) ||
      parse_number(slash + 1, 1, 100000, &nv) || kv > nv)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shard wants K/N with 1 <= K <= N <= "
                     "100000, got '%s'", s);
  a->shard = (int)kv;
  a->nshards = (int)nv;
  return KILN_OK;
}

/* "name=1x3x224x224"; "name=" binds a scalar; a dim "?" or a name ("?x784", "Nx784")
 * stays free (-1, and *free set: kiln_options.symbolic_dims). */
static kiln_status parse_shape(const char *s, kiln_shape_binding *b, bool *free_dim,
                               kiln_error *err) {
  const char *eq = strrchr(s, '=');
  if (!eq || eq == s)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shape wants NAME=DxDx..., got '%s'", s);
  b->rank = 0;
  for (const char *p = eq + 1; *p;) {
    const char *end = strchr(p, 'x');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char dim[32];
    int64_t d;
    if (b->rank == KILN_MAX_RANK)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shape '%s': more than %d dims", s,
                       KILN_MAX_RANK);
    bool named = n && n < sizeof dim && (*p == '?' || *p == '_' || isalpha((unsigned char)*p));
    if (named) {
      d = -1;
      *free_dim = true;
    } else if (n >= sizeof dim ||
               (memcpy(dim, p, n), dim[n] = 0, parse_number(dim, 0, INT64_MAX, &d)))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                       "--shape '%s': dim %d ('%.*s') is not a whole number from 0 to %lld", s,
                       b->rank, (int)n, p, (long long)INT64_MAX);
    b->dims[b->rank++] = d;
    if (end && !end[1]) /* "1x": a dim missing at the end */
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shape '%s': dim %d is empty", s, b->rank);
    p = end ? end + 1 : p + n;
  }
  b->input = strndup(s, (size_t)(eq - s));
  return KILN_OK;
}

/* --bucket "x=1x64" or "x=1x64,y=1x8": one bucket, every dim a number. */
static kiln_status parse_bucket(const char *s, cli_args *a, kiln_error *err) {
  if (a->nbuckets == CLI_MAX_SHAPES)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "more than %d --bucket options", CLI_MAX_SHAPES);
  kiln_bucket *b = &a->buckets[a->nbuckets++];
  b->shapes = &a->bucket_shapes[a->nbucket_shapes];
  kiln_status st = KILN_OK;
  for (const char *p = s; !st;) {
    const char *end = strchr(p, ',');
    char *one = strndup(p, end ? (size_t)(end - p) : strlen(p));
    bool free_dim = false;
    kiln_shape_binding *sb = &a->bucket_shapes[a->nbucket_shapes];
    if (!one || a->nbucket_shapes == CLI_MAX_SHAPES)
      st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--bucket '%s': too many shapes", s);
    else if (!(st = parse_shape(one, sb, &free_dim, err)) && free_dim) {
      free((char *)sb->input);
      st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--bucket '%s': a bucket's dims are "
                     "numbers (it is a static variant)", s);
    } else if (!st) {
      a->nbucket_shapes++;
      ((kiln_bucket *)b)->nshapes++;
    }
    free(one);
    if (!end) break;
    p = end + 1;
  }
  return st;
}

/* Settles the combinations that single options cannot: dump's -o and --dsl-weights. */
static kiln_status check_combinations(cli_command cmd, const cli_args *a, kiln_error *err) {
  if (cmd == CLI_TUNE && !a->help && a->list_kernels && (a->out || a->budget))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "tune --list-kernels measures nothing: "
                     "no --budget or -o");
  if (cmd == CLI_TUNE && !a->help && !a->list_kernels && (!a->out || !a->budget))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "tune needs --budget SECONDS and -o LOG");
  if (cmd == CLI_TUNE && a->json && !a->list_kernels)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "tune: --json is for --list-kernels");
  if (cmd != CLI_DUMP) return KILN_OK;
  if (a->tuning && (a->kernels || a->dsl || a->after || a->nshapes || a->out || a->tuning_log))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --tuning prints what an AOT file "
                     "says of its tuning; it takes the file and no other option");
  if (!a->dsl && a->out)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: -o writes the --dsl text; without --dsl "
                     "dump prints to stdout");
  if (!a->dsl && a->dsl_weights)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --dsl-weights is for --dsl");
  if (a->out && a->dsl_weights) /* the folder's name in the text would depend on both places */
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --dsl-weights is for printing to "
                     "stdout; with -o the weights go beside OUT");
  if (a->dsl && (a->kernels || a->nshapes || a->after))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --dsl prints the model as imported; "
                     "%s does not apply to it",
                     a->kernels ? "--kernels" : a->after ? "--after" : "--shape");
  if (a->cuda && (a->kernels || a->dsl || a->after || a->tuning))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --cuda prints the whole program as "
                     "CUDA C; %s does not apply to it",
                     a->kernels ? "--kernels" : a->dsl ? "--dsl" : a->after ? "--after" : "--tuning");
  if (a->cuda && a->target && strcmp(a->target, "cuda") && strcmp(a->target, "cuda-host"))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --cuda prints the code of a GPU "
                     "target, not of --target %s", a->target);
  if (a->after) {
    char names[256] = "";
    size_t len = 0;
    bool known = false;
    for (int i = 0; kiln_pass_name(i); i++) {
      known |= !strcmp(a->after, kiln_pass_name(i));
      len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                              kiln_pass_name(i));
    }
    if (!known)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "dump: --after '%s' is no pass; the "
                       "passes are %s", a->after, names);
  }
  return KILN_OK;
}

static kiln_status set_once(const char **field, const char *opt, const char *v, kiln_error *err) {
  if (*field) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s given twice", opt);
  *field = v;
  return KILN_OK;
}

static kiln_status set_number(int64_t *field, bool *given, const char *opt, const char *v,
                              int64_t min, int64_t max, kiln_error *err) {
  if (*given) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s given twice", opt);
  *given = true;
  return number_option(opt, v, min, max, field, err);
}

kiln_status cli_parse(cli_command cmd, int argc, char **argv, cli_args *a, kiln_error *err) {
  memset(a, 0, sizeof *a);
  int64_t seed = 1, repeat = 0, threads = 0;
  bool seed_given = false, repeat_given = false, threads_given = false, nodes_given = false,
       bytes_given = false, loops_given = false;
  kiln_status st = KILN_OK;
  for (int i = 0; i < argc && !st; i++) {
    const char *o = argv[i];
    if (o[0] != '-' || !o[1]) { /* "-" alone is a file name, like any other */
      if (a->model) st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "unexpected argument '%s'", o);
      a->model = o;
      continue;
    }
    const cli_option *opt = NULL;
    for (size_t k = 0; k < sizeof options / sizeof options[0] && !opt; k++)
      if (!strcmp(options[k].name, o)) opt = &options[k];
    if (!opt) {
      st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "unknown option '%s'", o);
      break;
    }
    if (!(opt->commands & cmd)) {
      st = not_ours(cmd, opt, err);
      break;
    }
    const char *v = NULL;
    if (opt->value) {
      if (i + 1 == argc) {
        st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "option %s needs a value", o);
        break;
      }
      v = argv[++i];
    }
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) a->help = true;
    else if (!strcmp(o, "--kernels")) a->kernels = true;
    else if (!strcmp(o, "--cuda")) a->cuda = true;
    else if (!strcmp(o, "--check-bounds")) a->check_bounds = true;
    else if (!strcmp(o, "--no-fuse")) a->no_fuse = true;
    else if (!strcmp(o, "--no-layout")) a->no_layout = true;
    else if (!strcmp(o, "--dsl")) a->dsl = true;
    else if (!strcmp(o, "--random-inputs")) a->random_inputs = true;
    else if (!strcmp(o, "--json")) a->json = true;
    else if (!strcmp(o, "--tuning")) a->tuning = true;
    else if (!strcmp(o, "--list-kernels")) a->list_kernels = true;
    else if (!strcmp(o, "--shard")) st = a->nshards ? kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s given twice", o)
                                                   : parse_shard(v, a, err);
    else if (!strcmp(o, "--tuning-log")) st = set_once(&a->tuning_log, o, v, err);
    else if (!strcmp(o, "--report")) st = set_once(&a->report, o, v, err);
    else if (!strcmp(o, "--html")) st = set_once(&a->html, o, v, err);
    else if (!strcmp(o, "--budget"))
      st = a->budget ? kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s given twice", o)
                     : positive_option(o, v, &a->budget, err);
    else if (!strcmp(o, "--peak-gflops") || !strcmp(o, "--peak-gbs")) {
      double *f = o[7] == 'g' && o[8] == 'f' ? &a->peak_gflops : &a->peak_gbs;
      st = *f ? kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s given twice", o)
              : positive_option(o, v, f, err);
    } else if (!strcmp(o, "--threads") && cmd == CLI_BENCH) {
      st = threads_given ? kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s given twice", o)
                         : parse_thread_counts(v, a, err);
      threads_given = true;
    }
    else if (!strcmp(o, "-o")) st = set_once(&a->out, o, v, err);
    else if (!strcmp(o, "--name")) st = set_once(&a->name, o, v, err);
    else if (!strcmp(o, "--after")) st = set_once(&a->after, o, v, err);
    else if (!strcmp(o, "--inputs")) st = set_once(&a->inputs_dir, o, v, err);
    else if (!strcmp(o, "--output-dir")) st = set_once(&a->output_dir, o, v, err);
    else if (!strcmp(o, "--cpu")) st = set_once(&a->cpu, o, v, err);
    else if (!strcmp(o, "--features")) st = set_once(&a->features, o, v, err);
    else if (!strcmp(o, "--triple")) st = set_once(&a->triple, o, v, err);
    else if (!strcmp(o, "--linker")) st = set_once(&a->linker, o, v, err);
    else if (!strcmp(o, "--gpu-arch")) st = set_once(&a->gpu_arch, o, v, err);
    else if (!strcmp(o, "--target")) {
      st = set_once(&a->target, o, v, err);
      if (!st && strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "cuda-host"))
        st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--target wants cpu, cuda or cuda-host, "
                       "got '%s'", v);
    }
    else if (!strcmp(o, "--dsl-weights")) st = set_once(&a->dsl_weights, o, v, err);
    else if (!strcmp(o, "--seed")) st = set_number(&seed, &seed_given, o, v, 0, UINT32_MAX, err);
    else if (!strcmp(o, "--repeat"))
      st = set_number(&repeat, &repeat_given, o, v, 1, CLI_MAX_REPEAT, err);
    else if (!strcmp(o, "--threads"))
      st = set_number(&threads, &threads_given, o, v, 1, CLI_MAX_THREADS, err);
    else if (!strcmp(o, "--max-nodes"))
      st = set_number(&a->max_nodes, &nodes_given, o, v, 1, INT64_MAX, err);
    else if (!strcmp(o, "--max-tensor-bytes"))
      st = set_number(&a->max_tensor_bytes, &bytes_given, o, v, 1, INT64_MAX, err);
    else if (!strcmp(o, "--max-loop-iterations"))
      st = set_number(&a->max_loop_iterations, &loops_given, o, v, 1, INT64_MAX, err);
    else if (!strcmp(o, "--bucket"))
      st = parse_bucket(v, a, err);
    else if (!strcmp(o, "--shape")) {
      if (a->nshapes == CLI_MAX_SHAPES)
        st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "more than %d --shape options", CLI_MAX_SHAPES);
      else if (!(st = parse_shape(v, &a->shapes[a->nshapes], &a->symbolic, err))) {
        const char *input = a->shapes[a->nshapes++].input;
        for (int s = 0; s < a->nshapes - 1 && !st; s++)
          if (!strcmp(a->shapes[s].input, input))
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shape for input '%s' given twice",
                           input);
      }
    }
  }
  a->seed = (unsigned)seed;
  a->repeat = (int)repeat;
  a->threads = (int)threads;
  if (!st) st = check_combinations(cmd, a, err);
  if (st) cli_args_free(a);
  return st;
}

void cli_args_free(cli_args *a) {
  for (int i = 0; i < a->nshapes; i++) free((char *)a->shapes[i].input);
  a->nshapes = 0;
  for (int i = 0; i < a->nbucket_shapes; i++) free((char *)a->bucket_shapes[i].input);
  a->nbucket_shapes = a->nbuckets = 0;
}

void cli_fill_options(const cli_args *a, kiln_options *opts) {
  opts->shapes = a->shapes;
  opts->nshapes = a->nshapes;
  opts->symbolic_dims = a->symbolic;
  opts->buckets = a->nbuckets ? a->buckets : NULL;
  opts->nbuckets = a->nbuckets;
  opts->cpu = a->cpu;
  opts->features = a->features;
  opts->triple = a->triple;
  opts->linker = a->linker;
  opts->num_threads = a->threads;
  opts->check_bounds = a->check_bounds;
  opts->max_nodes = a->max_nodes;
  opts->max_tensor_bytes = a->max_tensor_bytes;
  opts->max_loop_iterations = a->max_loop_iterations;
  opts->profile = a->profile;
  opts->no_fuse = a->no_fuse;
  opts->no_layout = a->no_layout;
  opts->tuning_log = a->tuning_log;
  opts->target = a->target;
  opts->gpu_arch = a->gpu_arch;
  opts->report = a->report;
}
