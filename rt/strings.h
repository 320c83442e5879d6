/* String tensors at run time (rt/strings.c). A string element is a pointer to a NUL-terminated
 * UTF-8 string (NULL reads as ""); graph inputs point at the caller's strings, and every
 * string a run makes lives in the run's string heap: a list of blocks whose head lies in
 * the arena (kiln_program.strings_offset), freed when the run ends, after the outputs'
 * strings are copied out for the caller (kiln_rt_strings_finish). Generated code and the
 * interpreter call the same functions, strings passed as int64_t (the register type of a
 * string element in the kernel IR). Case mapping covers ASCII, Latin-1, Greek and Cyrillic
 * letters; other characters are kept. Numbers are read and written with the C library,
 * whose LC_NUMERIC must be "C" (kiln never sets a locale). */
#ifndef KILN_RT_STRINGS_H
#define KILN_RT_STRINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kiln_rt_strings {
  void *head;       /* the newest block (atomic: kernels allocate from several threads) */
  int64_t failed;   /* an allocation failed: the run fails with KILN_ERR_OUT_OF_MEMORY */
} kiln_rt_strings;

/* Frees every block and empties the heap. */
void kiln_rt_strings_free(kiln_rt_strings *h);
/* Replaces each of the n strings of out with a malloc'd copy the caller owns (NULL -> "");
 * false when memory runs out (then every element is NULL, nothing leaks). */
bool kiln_rt_strings_own(char **out, int64_t n);
/* After a failed run: sets the n elements NULL, so that none points into a freed heap. */
void kiln_rt_strings_clear(char **out, int64_t n);
/* The end of a run that made strings in h, which ended with status st (0: success): the
 * n[i] elements of each string output i (0 for the others) become malloc'd copies the
 * caller owns, or, after a failure or when memory runs out (for h's strings or a copy),
 * all NULL; then h is freed. Returns st, or when st was 0, 7 (KILN_ERR_OUT_OF_MEMORY) when
 * memory ran out, *which then the output whose copy failed (-1: h's strings). */
int kiln_rt_strings_end(kiln_rt_strings *h, int st, void *const *outputs, const int64_t *n,
                        int64_t noutputs, int64_t *which);

/* A copy of the n bytes at s in h, NUL-terminated ("" when h fails). */
int64_t kiln_rt_str_copy(kiln_rt_strings *h, const char *s, size_t n);

/* The code point at *s, advancing *s past it; a byte that starts no valid UTF-8 sequence
 * is 0x80000000 | the byte, so it maps and matches as itself. */
uint32_t kiln_rt_utf8_next(const char **s);

/* The functions kernels call (KX_CALL, ir/kernel.h), in kiln_rt_fn order. A string made on a
 * failed allocation is "" and sets h->failed. */
int64_t kiln_rt_str_concat(kiln_rt_strings *h, int64_t a, int64_t b);
int64_t kiln_rt_str_case(kiln_rt_strings *h, int64_t s, int64_t upper);
int8_t kiln_rt_str_eq(int64_t a, int64_t b);
/* The last position of s among the words of `set` (a set of kiln_rt_words_build, folded
 * when fold is nonzero, so s is compared without case then); -1 when it is none of them. */
int64_t kiln_rt_str_index(int64_t s, const char *set, int64_t fold);
/* A copy of word i of `set` (a list of kiln_rt_words_build); "" when there is no word i. */
int64_t kiln_rt_str_word(kiln_rt_strings *h, int64_t i, const char *set);
/* StringSplit (rt/string_split.c): the number of pieces of s; the span of the piece after
 * the one at span prev, KILN_SPLIT_FIRST for the first, with KILN_SPLIT_REST: the rest of s
 * from that piece on (-1: none); a copy of the piece at a span ("" for -1). */
#define KILN_SPLIT_FIRST ((int64_t)1 << 61)
#define KILN_SPLIT_REST ((int64_t)1 << 60)
int64_t kiln_rt_str_split_count(int64_t s, const char *delim, int64_t maxsplit);
int64_t kiln_rt_str_split_span(int64_t s, int64_t prev, const char *delim);
int64_t kiln_rt_str_span(kiln_rt_strings *h, int64_t s, int64_t span);
double kiln_rt_str_to_f64(int64_t s);
int64_t kiln_rt_str_to_i64(int64_t s);
/* v's shortest decimal that reads back as the same value: of a float when single is
 * nonzero, else of a double ("NaN", "INF", "-INF" for those). */
int64_t kiln_rt_str_from_f64(kiln_rt_strings *h, double v, int64_t single);
int64_t kiln_rt_str_from_i64(kiln_rt_strings *h, int64_t v, int64_t is_unsigned);
/* Does s match all of pattern (RE2's syntax, rt/regex.c)? A pattern kiln_rt_regex_check
 * refuses matches nothing; out of memory, h fails. */
int8_t kiln_rt_str_match(kiln_rt_strings *h, int64_t s, const char *pattern);
/* s lower-cased as kiln_rt_str_case does, into out (as long as s: a mapped code point keeps
 * its length) and NUL-terminated; returns the length. */
size_t kiln_rt_fold(const char *s, char *out);

/* Word lists and sets (rt/word_sets.c): n words as one constant string a kernel call
 * reads, indexed: a list (KILN_WORDS_LIST) finds word i, a set finds a word's last position
 * (KILN_WORDS_SET_FOLD: without case). malloc'd; NULL when memory runs out. */
enum { KILN_WORDS_LIST, KILN_WORDS_SET, KILN_WORDS_SET_FOLD };
char *kiln_rt_words_build(const char *const *words, int n, int kind);
/* Word i of a list (its length in *len, not NUL-terminated), NULL when there is none. */
const char *kiln_rt_words_at(const char *set, int64_t i, size_t *len);

/* NULL, or what is wrong with pattern ("an unclosed (") */
const char *kiln_rt_regex_check(const char *pattern);

#endif
