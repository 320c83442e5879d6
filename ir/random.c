/* The counter-based generator of ir/random.h, built as kernel-IR expressions, and the
 * keys of random ops' streams. */
#include "ir/random.h"

#include "ir/op.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define GAMMA UINT64_C(0x9E3779B97F4A7C15)
#define MIX1 UINT64_C(0xBF58476D1CE4E5B9)
#define MIX2 UINT64_C(0x94D049BB133111EB)

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * MIX1;
  z = (z ^ (z >> 27)) * MIX2;
  return z ^ (z >> 31);
}

/* Drawn once per process from the clock (never 0: 0 means not drawn yet). */
static uint64_t process_key(void) {
  static _Atomic uint64_t key;
  uint64_t k = atomic_load(&key);
  if (k) return k;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t drawn = mix64((uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec) | 1;
  atomic_compare_exchange_strong(&key, &k, drawn); /* the first thread's draw wins */
  return atomic_load(&key);
}

uint64_t kiln_random_key(const kiln_node *n) {
  if (kiln_node_attr(n, "seed")) {
    double seed = kiln_attr_float(n, "seed", 0);
    uint64_t bits;
    memcpy(&bits, &seed, sizeof bits);
    return mix64(bits);
  }
  uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a of the node's name */
  for (const char *c = n->name; *c; c++) h = (h ^ (uint8_t)*c) * UINT64_C(0x100000001b3);
  return mix64(process_key() ^ h);
}

static kiln_expr *u64c(kiln_kernel *k, uint64_t v) { return kx_const_i(k, KILN_U64, (int64_t)v); }

static kiln_expr *xorshift(kiln_kernel *k, kiln_expr *z, int s) {
  return kx_binary(k, KB_XOR, z, kx_binary(k, KB_SHR, z, u64c(k, (uint64_t)s)));
}

kiln_expr *kiln_random_bits(kiln_kernel *k, uint64_t key, kiln_expr *counter) {
  kiln_expr *z = kx_binary(k, KB_MUL, kx_cast(k, counter, KILN_U64), u64c(k, GAMMA));
  z = kx_binary(k, KB_ADD, z, u64c(k, key + GAMMA));
  z = kx_binary(k, KB_MUL, xorshift(k, z, 30), u64c(k, MIX1));
  z = kx_binary(k, KB_MUL, xorshift(k, z, 27), u64c(k, MIX2));
  return xorshift(k, z, 31);
}

kiln_expr *kiln_random_unit(kiln_kernel *k, kiln_expr *random_bits, int bits) {
  kiln_expr *top = kx_binary(k, KB_SHR, random_bits, u64c(k, (uint64_t)(64 - bits)));
  return kx_binary(k, KB_MUL, kx_cast(k, top, KILN_F64), kx_const_f(k, KILN_F64, ldexp(1, -bits)));
}

kiln_expr *kiln_random_normal(kiln_kernel *k, uint64_t key, kiln_expr *counter) {
  kiln_expr *c2 = kx_muli(k, counter, 2);
  /* u1 in (0, 1]: its log is finite */
  kiln_expr *top = kx_binary(k, KB_SHR, kiln_random_bits(k, key, c2), u64c(k, 11));
  kiln_expr *u1 = kx_binary(k, KB_MUL, kx_cast(k, kx_binary(k, KB_ADD, top, u64c(k, 1)), KILN_F64),
                            kx_const_f(k, KILN_F64, ldexp(1, -53)));
  kiln_expr *u2 = kiln_random_unit(k, kiln_random_bits(k, key, kx_addi(k, c2, 1)), 53);
  kiln_expr *r = kx_binary(k, KB_MUL, kx_const_f(k, KILN_F64, -2), kx_unary(k, KU_LOG, u1));
  kiln_expr *theta = kx_binary(k, KB_MUL, kx_const_f(k, KILN_F64, 6.283185307179586), u2);
  return kx_binary(k, KB_MUL, kx_unary(k, KU_SQRT, r), kx_unary(k, KU_COS, theta));
}

kiln_expr *kiln_linear_index(kiln_kernel *k, int rank, const int64_t *dims,
                             kiln_expr *const *vars) {
  kiln_expr *i = kx_idx(k, 0);
  for (int d = 0; d < rank; d++) i = kx_add(k, kx_muli(k, i, dims[d]), vars[d]);
  return i;
}
