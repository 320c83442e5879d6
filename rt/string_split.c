/* StringSplit's pieces (rt/strings.h): Python's str.split, which ONNX's reference applies.
 * With a delimiter, every occurrence splits, left to right ("a,,b" -> "a", "", "b"; ""
 * -> ""); without one (or ""), runs of whitespace split and whitespace at either end is
 * dropped ("  a b " -> "a", "b"; "" -> none). After maxsplit splits (when >= 0) the rest of
 * the string, from its next piece's start, is the last piece.
 *
 * A kernel walks an element's pieces in order, each from the one before, as spans: a
 * piece's start and end offsets in one i64 (30 bits each: longer strings split as their
 * first 2^30 - 1 bytes). So a row costs one pass over its string. */
#include "rt/strings.h"

#include <string.h>

#define OFF_MAX 0x3FFFFFFF
#define SPAN(start, end) ((int64_t)(start) << 30 | (int64_t)(end))

/* Python's whitespace (str.isspace): the byte length of the one at p, or 0. */
static size_t space_at(const char *p) {
  const char *q = p;
  uint32_t c = kiln_rt_utf8_next(&q);
  bool sp = (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
            c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
            c == 0x202F || c == 0x205F || c == 0x3000;
  return sp ? (size_t)(q - p) : 0;
}

static const char *str(int64_t v) {
  const char *s = (const char *)(intptr_t)v;
  return s ? s : "";
}

/* strnlen up to the offsets' reach */
static size_t length(const char *s) { return strnlen(s, OFF_MAX); }

int64_t kiln_rt_str_split_span(int64_t sv, int64_t prev, const char *delim) {
  if (prev < 0) return -1;
  const char *s = str(sv);
  size_t n = length(s), dl = strlen(delim), at = 0;
  bool rest = prev & KILN_SPLIT_REST;
  if (!(prev & KILN_SPLIT_FIRST)) {
    at = (size_t)(prev & OFF_MAX); /* the previous piece's end */
    if (at >= n) return -1;
    if (dl) at += dl; /* it ended at a delimiter; whitespace is skipped below */
  }
  if (!dl) { /* whitespace: skip it; none left, no piece */
    for (size_t w; at < n && (w = space_at(s + at)) && at + w <= n;) at += w;
    if (at >= n) return -1;
  }
  if (rest) return SPAN(at, n);
  size_t end = at;
  if (dl) {
    const char *hit = dl <= n - at ? strstr(s + at, delim) : NULL;
    end = hit && (size_t)(hit - s) + dl <= n ? (size_t)(hit - s) : n;
  } else {
    while (end < n && !space_at(s + end)) {
      const char *q = s + end;
      kiln_rt_utf8_next(&q);
      end = (size_t)(q - s) < n ? (size_t)(q - s) : n;
    }
  }
  return SPAN(at, end);
}

int64_t kiln_rt_str_split_count(int64_t s, const char *delim, int64_t maxsplit) {
  int64_t count = 0, span = KILN_SPLIT_FIRST;
  for (;;) {
    span = kiln_rt_str_split_span(s, span | (count == maxsplit ? KILN_SPLIT_REST : 0), delim);
    if (span < 0) return count;
    count++;
    if (count > maxsplit && maxsplit >= 0) return count;
  }
}

int64_t kiln_rt_str_span(kiln_rt_strings *h, int64_t s, int64_t span) {
  if (span < 0) return 0; /* no piece: "" */
  int64_t start = span >> 30 & OFF_MAX, end = span & OFF_MAX;
  return kiln_rt_str_copy(h, str(s) + start, (size_t)(end - start));
}
