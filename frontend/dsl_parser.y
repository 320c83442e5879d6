/* The kiln model language's grammar (docs/dsl.md gives it in EBNF). Statements end at a
 * newline (or ';'); after a syntax error the parser skips to the end of the line, so one
 * run reports every independent mistake. Tree nodes go to the import's arena. */
%define api.pure full
%define parse.error custom
%locations
%param {void *scanner}
%parse-param {dsl_parse_ctx *ctx}

%code requires {
#include "frontend/dsl_ast.h"
}

%code {
#include "dsl_lexer.h"

#include <string.h>

static dsl_loc L(const dsl_parse_ctx *c, YYLTYPE l) {
  return (dsl_loc){c->src, l.first_line, l.first_column};
}
static dsl_ast *node(dsl_parse_ctx *c, dsl_kind k, YYLTYPE l) {
  return dsl_ast_new(c->arena, k, L(c, l));
}
static dsl_ast *add(dsl_parse_ctx *c, dsl_ast *p, dsl_ast *kid) {
  return dsl_ast_add(c->arena, p, kid);
}
static dsl_ast *named(dsl_parse_ctx *c, dsl_kind k, YYLTYPE l, char *s) {
  dsl_ast *n = node(c, k, l);
  n->s = s;
  return n;
}
/* A backquoted name (A_NAME with i = 1). */
static dsl_ast *quoted(dsl_parse_ctx *c, YYLTYPE l, char *s) {
  dsl_ast *n = named(c, A_NAME, l, s);
  n->i = 1;
  return n;
}
static dsl_ast *binop(dsl_parse_ctx *c, YYLTYPE l, int op, dsl_ast *a, dsl_ast *b) {
  dsl_ast *n = node(c, A_BINOP, l);
  n->op = op;
  return add(c, add(c, n, a), b);
}
static void yyerror(YYLTYPE *l, void *scanner, dsl_parse_ctx *c, const char *msg) {
  (void)scanner;
  dsl_error(c->diag, KILN_ERR_INVALID_MODEL, L(c, *l), "%s", msg);
}
}

%union {
  dsl_ast *node;
  char *str;
  int64_t i;
  double f;
}

%token <str> IDENT "name" QIDENT "quoted name" STRING "string"
%token <i> INT "integer"
%token <f> FLOAT "number"
%token MODEL "'model'" DEF "'def'" IMPORT "'import'" PARAM "'param'" REPEAT "'repeat'"
%token RETURN "'return'" NL "end of line"
%token POW "'**'" EQ "'=='" NE "'!='" LE "'<='" GE "'>='"

%type <node> items item names opt_names inputs opt_inputs input type dims opt_dims block
%type <node> stmts stmt targets rets ret expr primary exprs opt_exprs args opt_args arg
%type <node> opt_seed
%type <str> name

%nonassoc EQ NE '<' LE '>' GE
%left '+' '-'
%left '*' '/'
%precedence UMINUS
%right POW

%%

program: items                     { ctx->program = $1; }
       ;

items: %empty                      { $$ = node(ctx, A_PROGRAM, @$); }
     | items NL                    { $$ = $1; }
     | items item NL               { $$ = add(ctx, $1, $2); }
     | items error NL              { $$ = $1; yyerrok; }
     | items error block NL        { $$ = $1; yyerrok; } /* a bad first line: skip its block */
     ;

item: IMPORT STRING                { $$ = named(ctx, A_IMPORT, @2, $2); }
    | DEF name '(' opt_names ')' '=' expr
                                   { $$ = add(ctx, add(ctx, named(ctx, A_DEF, @2, $2), $4), $7); }
    | DEF name '(' opt_names ')' block
                                   { $$ = add(ctx, add(ctx, named(ctx, A_DEF, @2, $2), $4), $6); }
    | MODEL name '(' opt_inputs ')' opt_seed block
                                   { $$ = add(ctx, add(ctx, add(ctx, named(ctx, A_MODEL, @2, $2), $4), $7), $6); }
    ;

opt_seed: %empty                   { $$ = NULL; }
        | IDENT INT                { /* `seed` is a keyword only here: attributes may be named seed */
                                     if (strcmp($1, "seed") != 0)
                                       dsl_error(ctx->diag, KILN_ERR_INVALID_MODEL, L(ctx, @1),
                                                 "syntax error: expected 'seed' or '{', found '%s'", $1);
                                     $$ = node(ctx, A_INT, @2); $$->i = $2; }
        ;

opt_names: %empty                  { $$ = node(ctx, A_LIST, @$); }
         | names
         ;
names: name                        { $$ = add(ctx, node(ctx, A_LIST, @1), named(ctx, A_NAME, @1, $1)); }
     | names ',' name              { $$ = add(ctx, $1, named(ctx, A_NAME, @3, $3)); }
     ;

opt_inputs: %empty                 { $$ = node(ctx, A_LIST, @$); }
          | inputs
          ;
inputs: input                      { $$ = add(ctx, node(ctx, A_LIST, @1), $1); }
      | inputs ',' input           { $$ = add(ctx, $1, $3); }
      ;
input: name ':' type               { $$ = add(ctx, named(ctx, A_INPUT, @1, $1), $3); }
     ;

type: IDENT '[' opt_dims ']'       { $$ = $3; $$->s = $1; $$->loc = L(ctx, @1); }
    | IDENT '[' '*' ']'            { $$ = named(ctx, A_TYPE, @1, $1); $$->i = 1; } /* any rank */
    ;
opt_dims: %empty                   { $$ = node(ctx, A_TYPE, @$); }
        | dims
        ;
dims: expr                         { $$ = add(ctx, node(ctx, A_TYPE, @1), $1); }
    | dims ',' expr                { $$ = add(ctx, $1, $3); }
    ;

block: '{' stmts '}'               { $$ = $2; $$->loc = L(ctx, @1); }
     ;
stmts: %empty                      { $$ = node(ctx, A_BLOCK, @$); }
     | stmts NL                    { $$ = $1; }
     | stmts stmt NL               { $$ = add(ctx, $1, $2); }
     | stmts error NL              { $$ = $1; yyerrok; }
     ;

stmt: PARAM name ':' type '=' expr
                                   { $$ = add(ctx, add(ctx, named(ctx, A_PARAM, @2, $2), $4), $6); }
    | targets '=' expr             { $$ = add(ctx, add(ctx, node(ctx, A_ASSIGN, @1), $1), $3); }
    | REPEAT expr block            { $$ = add(ctx, add(ctx, node(ctx, A_REPEAT, @1), $2), $3); }
    | RETURN rets                  { $$ = $2; $$->loc = L(ctx, @1); }
    ;

targets: IDENT                     { $$ = add(ctx, node(ctx, A_LIST, @1), named(ctx, A_NAME, @1, $1)); }
       | QIDENT                    { $$ = add(ctx, node(ctx, A_LIST, @1), quoted(ctx, @1, $1)); }
       | targets ',' IDENT         { $$ = add(ctx, $1, named(ctx, A_NAME, @3, $3)); }
       | targets ',' QIDENT        { $$ = add(ctx, $1, quoted(ctx, @3, $3)); }
       ;

/* A backquoted name is only a name: `_` and `none` are values called so, not "omitted". */
name: IDENT
    | QIDENT
    ;

rets: ret                          { $$ = add(ctx, node(ctx, A_RETURN, @1), $1); }
    | rets ',' ret                 { $$ = add(ctx, $1, $3); }
    ;
ret: expr                          { $$ = add(ctx, node(ctx, A_ARG, @1), $1); }
   | name '=' expr                 { $$ = add(ctx, named(ctx, A_ARG, @1, $1), $3); }
   ;

expr: expr '+' expr                { $$ = binop(ctx, @2, DSL_OP_ADD, $1, $3); }
    | expr '-' expr                { $$ = binop(ctx, @2, DSL_OP_SUB, $1, $3); }
    | expr '*' expr                { $$ = binop(ctx, @2, DSL_OP_MUL, $1, $3); }
    | expr '/' expr                { $$ = binop(ctx, @2, DSL_OP_DIV, $1, $3); }
    | expr POW expr                { $$ = binop(ctx, @2, DSL_OP_POW, $1, $3); }
    | expr EQ expr                 { $$ = binop(ctx, @2, DSL_OP_EQ, $1, $3); }
    | expr NE expr                 { $$ = binop(ctx, @2, DSL_OP_NE, $1, $3); }
    | expr '<' expr                { $$ = binop(ctx, @2, DSL_OP_LT, $1, $3); }
    | expr LE expr                 { $$ = binop(ctx, @2, DSL_OP_LE, $1, $3); }
    | expr '>' expr                { $$ = binop(ctx, @2, DSL_OP_GT, $1, $3); }
    | expr GE expr                 { $$ = binop(ctx, @2, DSL_OP_GE, $1, $3); }
    | '-' expr %prec UMINUS        { $$ = add(ctx, node(ctx, A_NEG, @1), $2); }
    | primary
    ;

primary: INT                       { $$ = node(ctx, A_INT, @1); $$->i = $1; }
       | FLOAT                     { $$ = node(ctx, A_FLOAT, @1); $$->f = $1; }
       | STRING                    { $$ = named(ctx, A_STRING, @1, $1); }
       | IDENT                     { $$ = named(ctx, A_NAME, @1, $1); }
       | QIDENT                    { $$ = quoted(ctx, @1, $1); }
       | '(' expr ')'              { $$ = $2; }
       | '[' opt_exprs ']'         { $$ = $2; $$->loc = L(ctx, @1); }
       | name '(' opt_args ')'     { $$ = $3; $$->s = $1; $$->loc = L(ctx, @1); }
       ;

opt_exprs: %empty                  { $$ = node(ctx, A_LIST, @$); }
         | exprs
         ;
exprs: expr                        { $$ = add(ctx, node(ctx, A_LIST, @1), $1); }
     | exprs ',' expr              { $$ = add(ctx, $1, $3); }
     ;

opt_args: %empty                   { $$ = node(ctx, A_CALL, @$); }
        | args
        ;
args: arg                          { $$ = add(ctx, node(ctx, A_CALL, @1), $1); }
    | args ',' arg                 { $$ = add(ctx, $1, $3); }
    ;
arg: expr                          { $$ = add(ctx, node(ctx, A_ARG, @1), $1); }
   | name '=' expr                 { $$ = add(ctx, named(ctx, A_ARG, @1, $1), $3); }
   | name '=' block                { $$ = add(ctx, named(ctx, A_ARG, @1, $1), $3); }
   ;

%%

/* A token's name as users know it ("end of file" rather than bison's "end of file"). */
static const char *token_name(yysymbol_kind_t s) {
  return s == YYSYMBOL_YYEOF ? "end of file" : yysymbol_name(s);
}

static void append(char *buf, size_t size, const char *s) {
  size_t len = strlen(buf);
  if (*s == '"') {
    snprintf(buf + len, size - len, "%.*s", (int)strlen(s) - 2, s + 1);
  } else {
    snprintf(buf + len, size - len, "%s", s);
  }
}

/* "expected A, B or C, found X": the tokens that could come next (when few enough to
 * help), and what came instead. */
static int yyreport_syntax_error(const yypcontext_t *pc, void *scanner, dsl_parse_ctx *c) {
  (void)scanner;
  bool open_block = c->depth > 0;
  /* An unclosed bracket would hide every later newline: recovery resumes at the
   * enclosing block's level, at the end of the line. */
  while (c->depth > 0 && (c->depth > (int)sizeof c->nest || c->nest[c->depth - 1] != '{')) c->depth--;
  yysymbol_kind_t expected[YYNTOKENS];
  int n = yypcontext_expected_tokens(pc, expected, YYNTOKENS);
  yysymbol_kind_t found = yypcontext_token(pc);
  char want[256] = "", got[96] = "";
  bool expression = false;
  for (int i = 0; i < n; i++) expression |= expected[i] == YYSYMBOL_INT;
  /* a quoted name goes wherever a name does: "name" says both */
  int kept = 0;
  for (int i = 0; i < n; i++)
    if (expected[i] != YYSYMBOL_QIDENT) expected[kept++] = expected[i];
  n = kept;
  if (found == YYSYMBOL_YYEOF && open_block) {
    snprintf(want, sizeof want, "'}' (a block is not closed)");
  } else if (expression) {
    snprintf(want, sizeof want, "an expression");
  } else if (n > 0 && n <= 5) {
    for (int i = 0; i < n; i++) {
      if (i) append(want, sizeof want, i == n - 1 ? " or " : ", ");
      append(want, sizeof want, token_name(expected[i]));
    }
  }
  /* Something missing at the end of a line is reported there, not on the next line. */
  dsl_loc at = L(c, *yypcontext_location(pc));
  if (c->prev_end_line > 0 && at.line > c->prev_end_line)
    at = (dsl_loc){c->src, c->prev_end_line, c->prev_end_col};
  if (found == YYSYMBOL_YYEOF) snprintf(got, sizeof got, "end of file");
  else if (found == YYSYMBOL_NL) snprintf(got, sizeof got, "end of line");
  else snprintf(got, sizeof got, "'%s'", c->last_text);
  /* a misspelt keyword starting an item (`modle m(...)`) */
  const char *guess = NULL;
  for (int i = 0; i < n && found == YYSYMBOL_IDENT; i++) {
    const char *kw = expected[i] == YYSYMBOL_MODEL ? "model" : expected[i] == YYSYMBOL_DEF ? "def"
                     : expected[i] == YYSYMBOL_IMPORT ? "import" : NULL;
    if (kw && dsl_distance(c->last_text, kw) <= (strlen(kw) > 3 ? 2 : 1)) guess = kw;
  }
  if (*want && guess)
    dsl_error(c->diag, KILN_ERR_INVALID_MODEL, at, "syntax error: expected %s, found %s (did you mean '%s'?)",
              want, got, guess);
  else if (*want)
    dsl_error(c->diag, KILN_ERR_INVALID_MODEL, at, "syntax error: expected %s, found %s", want, got);
  else
    dsl_error(c->diag, KILN_ERR_INVALID_MODEL, at, "syntax error: unexpected %s", got);
  return 0;
}

bool dsl_parse(const dsl_source *src, kiln_arena *arena, dsl_diag *diag, dsl_ast **program) {
  dsl_parse_ctx c;
  memset(&c, 0, sizeof c);
  c.arena = arena;
  c.diag = diag;
  c.src = src;
  c.line = c.col = 1;
  int before = diag->count;
  yyscan_t scanner;
  if (yylex_init_extra(&c, &scanner)) {
    dsl_error(diag, KILN_ERR_OUT_OF_MEMORY, (dsl_loc){src, 1, 1}, "cannot start the lexer");
    return false;
  }
  YY_BUFFER_STATE buf = yy_scan_bytes(src->text, (int)src->size, scanner);
  int rc = yyparse(scanner, &c);
  yy_delete_buffer(buf, scanner);
  yylex_destroy(scanner);
  *program = rc == 0 ? c.program : NULL;
  if (rc != 0 && diag->count == before)
    dsl_error(diag, KILN_ERR_INVALID_MODEL, (dsl_loc){src, c.line, c.col}, "cannot parse this file");
  return rc == 0 && diag->count == before;
}
