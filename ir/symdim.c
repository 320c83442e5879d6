/* Symbolic dims as polynomials over the graph's syms (ir/symdim.h): terms kept sorted by
 * their exponents and merged, so equal polynomials have equal representations. */
#include "ir/symdim.h"

#include <stdio.h>
#include <string.h>

kiln_symdim kiln_symdim_const(int64_t c) {
  kiln_symdim r = {0};
  if (c) {
    r.nterms = 1;
    r.coef[0] = c;
  }
  return r;
}

kiln_symdim kiln_symdim_sym(int sym) {
  kiln_symdim r = kiln_symdim_const(1);
  r.pow[0][sym] = 1;
  return r;
}

static int cmp_pow(const uint8_t *a, const uint8_t *b) { return memcmp(a, b, KILN_MAX_SYMS); }

/* adds coef * x^pow to r, keeping terms sorted; false when full or on overflow */
static bool add_term(kiln_symdim *r, int64_t coef, const uint8_t *pow) {
  int i = 0;
  while (i < r->nterms && cmp_pow(r->pow[i], pow) < 0) i++;
  if (i < r->nterms && cmp_pow(r->pow[i], pow) == 0) {
    if (__builtin_add_overflow(r->coef[i], coef, &r->coef[i])) return false;
    if (!r->coef[i]) {
      memmove(&r->coef[i], &r->coef[i + 1], sizeof r->coef[0] * (size_t)(r->nterms - i - 1));
      memmove(&r->pow[i], &r->pow[i + 1], sizeof r->pow[0] * (size_t)(r->nterms - i - 1));
      r->nterms--;
    }
    return true;
  }
  if (!coef) return true;
  if (r->nterms == KILN_SYMDIM_TERMS) return false;
  memmove(&r->coef[i + 1], &r->coef[i], sizeof r->coef[0] * (size_t)(r->nterms - i));
  memmove(&r->pow[i + 1], &r->pow[i], sizeof r->pow[0] * (size_t)(r->nterms - i));
  r->coef[i] = coef;
  memcpy(r->pow[i], pow, KILN_MAX_SYMS);
  r->nterms++;
  return true;
}

bool kiln_symdim_add(const kiln_symdim *a, const kiln_symdim *b, kiln_symdim *out) {
  kiln_symdim r = *a;
  for (int i = 0; i < b->nterms; i++)
    if (!add_term(&r, b->coef[i], b->pow[i])) return false;
  *out = r;
  return true;
}

bool kiln_symdim_mul(const kiln_symdim *a, const kiln_symdim *b, kiln_symdim *out) {
  kiln_symdim r = {0};
  for (int i = 0; i < a->nterms; i++)
    for (int j = 0; j < b->nterms; j++) {
      int64_t c;
      uint8_t pow[KILN_MAX_SYMS];
      if (__builtin_mul_overflow(a->coef[i], b->coef[j], &c)) return false;
      for (int s = 0; s < KILN_MAX_SYMS; s++) {
        if (a->pow[i][s] + b->pow[j][s] > 255) return false;
        pow[s] = (uint8_t)(a->pow[i][s] + b->pow[j][s]);
      }
      if (!add_term(&r, c, pow)) return false;
    }
  *out = r;
  return true;
}

bool kiln_symdim_equal(const kiln_symdim *a, const kiln_symdim *b) {
  if (a->nterms != b->nterms) return false;
  for (int i = 0; i < a->nterms; i++)
    if (a->coef[i] != b->coef[i] || cmp_pow(a->pow[i], b->pow[i])) return false;
  return true;
}

bool kiln_symdim_is_sym(const kiln_symdim *a, int *s) {
  if (a->nterms != 1 || a->coef[0] != 1) return false;
  int found = -1;
  for (int t = 0; t < KILN_MAX_SYMS; t++) {
    if (!a->pow[0][t]) continue;
    if (a->pow[0][t] != 1 || found >= 0) return false;
    found = t;
  }
  return found >= 0 && (*s = found, true);
}

bool kiln_symdim_is_const(const kiln_symdim *a, int64_t *c) {
  static const uint8_t zero[KILN_MAX_SYMS];
  if (a->nterms == 0) return *c = 0, true;
  if (a->nterms == 1 && !cmp_pow(a->pow[0], zero)) return *c = a->coef[0], true;
  return false;
}

bool kiln_symdim_eval(const kiln_symdim *a, const int64_t *vals, int64_t *out) {
  int64_t sum = 0;
  for (int i = 0; i < a->nterms; i++) {
    int64_t t = a->coef[i];
    for (int s = 0; s < KILN_MAX_SYMS; s++)
      for (int p = 0; p < a->pow[i][s]; p++)
        if (__builtin_mul_overflow(t, vals[s], &t)) return false;
    if (__builtin_add_overflow(sum, t, &sum)) return false;
  }
  *out = sum;
  return true;
}

/* a == defs[s] + c for a derived sym s: s, else -1 */
static int derived_plus_const(const kiln_symdiv *defs, int ndefs, const kiln_symdim *a, int64_t *c) {
  static const uint8_t zero[KILN_MAX_SYMS];
  int s = -1;
  *c = 0;
  for (int i = 0; i < a->nterms; i++) {
    if (!cmp_pow(a->pow[i], zero)) {
      *c = a->coef[i];
      continue;
    }
    if (s >= 0 || a->coef[i] != 1) return -1;
    for (int j = 0; j < KILN_MAX_SYMS; j++)
      if (a->pow[i][j] > 1 || (a->pow[i][j] == 1 && s >= 0)) return -1;
      else if (a->pow[i][j] == 1) s = j;
  }
  return s >= 0 && s < ndefs && defs[s].den > 0 ? s : -1;
}

bool kiln_symdim_floordiv(const kiln_symdiv *defs, int ndefs, const kiln_symdim *a, int64_t den,
                          kiln_symdim *rest, kiln_symdiv *div) {
  static const uint8_t zero[KILN_MAX_SYMS];
  kiln_symdim num = *a;
  if (den < 1) return false;
  *rest = kiln_symdim_const(0);
  for (;;) {
    div->den = 0;
    div->num = kiln_symdim_const(0);
    int64_t r = 0, g = den, c;
    for (int i = 0; i < num.nterms; i++) {
      if (!cmp_pow(num.pow[i], zero)) {
        r = num.coef[i];
        continue;
      }
      if (num.coef[i] % den == 0) { /* floor((den*m + x) / den) = m + floor(x / den) */
        if (!add_term(rest, num.coef[i] / den, num.pow[i])) return false;
        continue;
      }
      if (!add_term(&div->num, num.coef[i], num.pow[i])) return false;
      g = kiln_gcd(g, num.coef[i]);
    }
    kiln_symdim q = kiln_symdim_const(kiln_floor_div(r, den));
    if (!kiln_symdim_add(rest, &q, rest)) return false;
    if (!div->num.nterms) return true; /* exact: 0 <= r mod den < den adds nothing */
    r -= kiln_floor_div(r, den) * den;
    for (int i = 0; i < div->num.nterms; i++) div->num.coef[i] /= g;
    div->den = den / g;
    /* x an integer: floor((g*x + r) / (g*d)) = floor((x + floor(r / g)) / d) */
    kiln_symdim rc = kiln_symdim_const(r / g);
    if (!kiln_symdim_add(&div->num, &rc, &div->num)) return false;
    int s = derived_plus_const(defs, ndefs, &div->num, &c);
    if (s < 0) return true;
    /* floor((floor(P / a) + c) / b) = floor((P + c*a) / (a*b)) */
    if (__builtin_mul_overflow(c, defs[s].den, &c) ||
        __builtin_mul_overflow(div->den, defs[s].den, &den))
      return false;
    kiln_symdim off = kiln_symdim_const(c);
    if (!kiln_symdim_add(&defs[s].num, &off, &num)) return false;
  }
}

bool kiln_symdim_derive(const kiln_symdiv *defs, int n, int64_t *vals) {
  for (int s = 0; s < n; s++) {
    int64_t x;
    if (defs[s].den <= 0) continue;
    if (!kiln_symdim_eval(&defs[s].num, vals, &x)) return false;
    vals[s] = kiln_floor_div(x, defs[s].den);
  }
  return true;
}

bool kiln_symdim_bound_data(const kiln_symdiv *defs, int n, int64_t *vals) {
  for (int s = 0; s < n; s++)
    if (defs[s].den == KILN_SYMDIV_DATA && !kiln_symdim_eval(&defs[s].num, vals, &vals[s]))
      return false;
  return true;
}

bool kiln_symdim_uses(const kiln_symdim *a, int s) {
  for (int i = 0; i < a->nterms; i++)
    if (a->pow[i][s]) return true;
  return false;
}

const char *kiln_symdim_str(const kiln_symdim *a, const char *const *names, char *buf,
                            size_t size) {
  size_t n = 0;
  if (size) buf[0] = 0;
  if (!a->nterms) snprintf(buf, size, "0");
  for (int i = 0; i < a->nterms && n < size; i++) {
    bool any = false;
    n += (size_t)snprintf(buf + n, size - n, "%s", i && a->coef[i] > 0 ? "+" : "");
    if (a->coef[i] != 1 && n < size) {
      n += (size_t)snprintf(buf + n, size - n, "%lld", (long long)a->coef[i]);
      any = true;
    }
    for (int s = 0; s < KILN_MAX_SYMS && n < size; s++)
      for (int p = 0; p < a->pow[i][s] && n < size; p++) {
        n += (size_t)snprintf(buf + n, size - n, "%s%s", any ? "*" : "", names[s]);
        any = true;
      }
    if (!any && n < size) n += (size_t)snprintf(buf + n, size - n, "1");
  }
  return buf;
}
