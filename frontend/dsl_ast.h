/* The kiln model language's syntax tree, its source files, and its diagnostics: what
 * the flex lexer and bison parser produce and the elaborator (dsl_elab*.c) consumes.
 *
 * Every tree node lives in one arena per import, so a parse that fails half-way (bison
 * discarding values during error recovery) leaks nothing. */
#ifndef KILN_FRONTEND_DSL_AST_H
#define KILN_FRONTEND_DSL_AST_H

#include "ir/util.h"

/* One loaded .kiln text, kept for the whole import so diagnostics can quote its lines. */
typedef struct dsl_source {
  char *path;
  char *text; /* NUL-terminated copy */
  size_t size;
} dsl_source;

typedef struct dsl_loc {
  const dsl_source *src;
  int line, col; /* 1-based; col counts bytes */
} dsl_loc;

typedef enum dsl_kind {
  A_PROGRAM, /* kids: items */
  A_IMPORT,  /* s: path */
  A_DEF,     /* s: name; kids[0]: A_LIST of A_NAME params; kids[1]: body expr or A_BLOCK */
  A_MODEL,   /* s: name; kids[0]: A_LIST of A_INPUT; kids[1]: A_BLOCK; kids[2]: seed or NULL */
  A_INPUT,   /* s: name; kids[0]: A_TYPE */
  A_TYPE,    /* s: dtype name; kids: dim exprs; i: 1 for `[*]`, any rank (an input's) */
  A_BLOCK,   /* kids: statements */
  A_PARAM,   /* s: name; kids[0]: A_TYPE; kids[1]: initialiser expr */
  A_ASSIGN,  /* kids[0]: A_LIST of A_NAME targets; kids[1]: expr */
  A_REPEAT,  /* kids[0]: count expr; kids[1]: A_BLOCK */
  A_RETURN,  /* kids: A_ARG (s: output name or NULL; kids[0]: expr) */
  A_INT,     /* i */
  A_FLOAT,   /* f */
  A_STRING,  /* s */
  A_NAME,    /* s; i: 1 when backquoted (then never the omitted input `_`) */
  A_LIST,    /* kids */
  A_CALL,    /* s: callee; kids: A_ARG (s: keyword or NULL; kids[0]: expr or A_BLOCK) */
  A_ARG,
  A_BINOP,   /* op: operator token; kids[0], kids[1] */
  A_NEG      /* kids[0] */
} dsl_kind;

typedef struct dsl_ast {
  dsl_kind kind;
  dsl_loc loc;
  char *s;
  int64_t i;
  double f;
  int op; /* A_BINOP: one of the DSL_OP_* below */
  struct dsl_ast **kids;
  int nkids, cap;
} dsl_ast;

enum { DSL_OP_ADD = 1, DSL_OP_SUB, DSL_OP_MUL, DSL_OP_DIV, DSL_OP_POW, DSL_OP_EQ, DSL_OP_NE,
       DSL_OP_LT, DSL_OP_LE, DSL_OP_GT, DSL_OP_GE };
const char *dsl_op_text(int op); /* "+", "**", "<=" ... */

dsl_ast *dsl_ast_new(kiln_arena *a, dsl_kind kind, dsl_loc loc);
/* Appends kid (which may be NULL: an absent optional part); returns parent. */
dsl_ast *dsl_ast_add(kiln_arena *a, dsl_ast *parent, dsl_ast *kid);

/* ---- diagnostics (dsl_diag.c) -------------------------------------------------------- */
/* Diagnostics accumulate into one kiln_error: each is `file:line:col: error: msg`, the
 * source line, and a caret under the column, then a `note: in call of 'f'` line per user
 * function call being elaborated (a function body is elaborated once per call). The first
 * code is kept. A diagnostic given already (same place, same text: another call of the
 * same function) is counted but not repeated. */
#define DSL_MAX_CALLS 64 /* call nesting (recursion ends there) */
/* calls in all: a function calling itself twice would reach 2^64 within the nesting */
#define DSL_MAX_TOTAL_CALLS 100000
typedef struct dsl_diag {
  kiln_error *err;
  int count;
  bool full; /* the message buffer is exhausted: later diagnostics only count */
  uint64_t *seen; /* hashes of the diagnostics given */
  int nseen, seen_cap;
  struct dsl_call_frame {
    const char *name;
    dsl_loc loc;
  } calls[DSL_MAX_CALLS]; /* the calls being elaborated, outermost first */
  int ncalls;
} dsl_diag;

void dsl_error(dsl_diag *d, kiln_status code, dsl_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dsl_diag_free(dsl_diag *d);
/* Edit distance ignoring case, for "did you mean" (99 for names over 31 bytes). */
int dsl_distance(const char *a, const char *b);

/* ---- parsing (dsl_parser.y, dsl_lexer.l) --------------------------------------------- */
typedef struct dsl_parse_ctx {
  kiln_arena *arena;
  dsl_diag *diag;
  const dsl_source *src;
  dsl_ast *program;
  /* lexer state: bracket nesting decides whether a newline ends a statement */
  char nest[256];
  int depth;
  int last_token; /* 0 at the start */
  int line, col;  /* where the next token starts */
  int end_line, end_col, prev_end_line, prev_end_col; /* ends of the last two tokens */
  bool eof_nl_sent;
  char last_text[48]; /* the current token's text, for "found 'x'" */
} dsl_parse_ctx;

/* Parses src into *program (an A_PROGRAM; NULL after an unrecoverable error). Lexical and
 * syntax errors go to diag; returns false when there were any. */
bool dsl_parse(const dsl_source *src, kiln_arena *arena, dsl_diag *diag, dsl_ast **program);

#endif
