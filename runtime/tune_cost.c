/* Which candidate nests the tuner never compiles: those LLVM takes seconds over. A tuning
 * budget is seconds, and one such compile (up to 88 s on an AVX-512 machine, for a nest
 * the edits reach in a minute of search) spends it all, far past the end the user set.
 * Measured there (Zen 5, LLVM 19), each pattern below cost 2-88 s where the default
 * scheduler's nests compile in 0.05-0.5 s; none of the default's nests has any of them. */
#include "runtime/tune.h"

#include "ir/util.h"

#define MAX_COPIES 512 /* of a stage's body in its unrolled code */

/* Vector instructions (or scalar copies) one iteration of loop lp stands for. */
static int64_t copies(const kiln_loop *lp, int vf) {
  return lp->kind == KILN_LOOP_VECTOR ? (lp->extent + vf - 1) / vf : lp->extent;
}

static bool replicated(const kiln_loop *lp) {
  return lp->kind == KILN_LOOP_VECTOR || lp->kind == KILN_LOOP_UNROLL;
}

bool kiln_tune_too_costly(const kiln_stage *s, int vf) {
  const kiln_schedule *sc = &s->sched;
  int64_t n = 1, spatial = 1, acc = 1;
  bool inside = false, spatial_outside = false;
  for (int l = 0; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    bool reduce = s->axes[lp->axis].reduce;
    /* a serial loop inside unrolled ones: LLVM unrolls a short constant loop fully and
     * SLP-vectorizes the copies (10.9 s: 16 x 8 unrolled around a serial 4) */
    if (inside && !replicated(lp) && lp->extent > 1) return true;
    /* an unrolled reduction step inside an unrolled spatial loop: the tile's accumulators
     * are finished one group after another rather than stepped together (7.0 s: 2 x 16 x 7
     * vectors, the 16 reduction steps between the two spatial loops) */
    if (reduce && replicated(lp) && lp->extent > 1 && spatial_outside) return true;
    spatial_outside = spatial_outside || (!reduce && replicated(lp) && lp->extent > 1);
    /* an axis split into vectors of a width the registers do not divide, with a tail
     * (16 lanes as 12 + 4 of AVX-512's 16: 7.3 s); a whole axis of 10 is one vector */
    if (lp->kind == KILN_LOOP_VECTOR && lp->extent % vf && (lp->extent & (lp->extent - 1)) &&
        lp->extent < s->axes[lp->axis].extent)
      return true;
    inside = inside || replicated(lp);
    /* the copies of the body, from the outermost unrolled loop inward */
    if (inside && kiln_mul_overflows(n, copies(lp, vf), &n)) return true;
  }
  /* the accumulators a reduction keeps live (the spatial copies inside it) outnumbering
   * the vector registers: the register allocator spills for seconds (19 s: 6 x 33
   * vectors) a tile that runs slowly anyway */
  for (int l = sc->nloops - 1; l >= 0; l--) {
    const kiln_loop *lp = &sc->loops[l];
    if (s->axes[lp->axis].reduce) {
      if (lp->extent > 1 && spatial > acc) acc = spatial;
    } else if (replicated(lp) && kiln_mul_overflows(spatial, copies(lp, vf), &spatial)) {
      return true;
    }
  }
  return n > MAX_COPIES || acc > (vf >= 16 ? 30 : 14);
}
