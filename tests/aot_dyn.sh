#!/usr/bin/env bash
# AOT libraries with free dims: each model of gen_dyn_models.py compiled once by
# `kiln compile --shape` with its dim left free, its host (tests/aot_dyn_host.c) built by a
# plain cc against the generated header and library, run at every case's shape against
# onnxruntime's outputs, and on shapes the model cannot take; again with a shape bucket.
# Then objects for this host (two linked into one host), a NonZero and a NonMaxSuppression
# of run-time values (sizes the run computes: their outputs' shapes come back from the
# run), and what AOT with
# free dims refuses: another architecture's object.
#   aot_dyn.sh KILN DYN_MODELS_DIR
set -euo pipefail
kiln="$(realpath "$1")"
models="$(realpath "$2")"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
build() { # name shape [bucket case]
  local name="$1" up cases=("$models/$1"/case_*)
  up="$(echo "$1" | tr a-z A-Z)"
  mkdir -p "$dir/$name"
  local bucket=()
  if [ $# -gt 2 ]; then
    bucket=(--bucket "$3")
    cases[$4]="bucket:${cases[$4]}"
  fi
  "$kiln" compile "$models/$name/model.onnx" --shape "$2" "${bucket[@]}" --name "$name" \
    -o "$dir/$name/lib$name.so"
  cc -O1 -std=c11 -Wall -Wextra -Werror -DMODEL="$name" -DMODEL_UP="$up" -DHEADER="\"$name.h\"" \
    -I"$dir/$name" "$root/tests/aot_dyn_host.c" -L"$dir/$name" -l"$name" \
    -Wl,-rpath,"$dir/$name" -lm -o "$dir/$name/host"
  "$dir/$name/host" "${cases[@]}"
}
build mlp_dyn 'x=?x64'
build attention_dyn 'x=1x?x32'
# with a shape bucket at one case's shape: that case runs it, the others the generic code
build mlp_dyn 'x=?x64' x=7x64 1
grep -q "bucket 0: x \[7,64\]" "$dir/mlp_dyn/mlp_dyn.h" || { echo "FAIL: no bucket in the header"; exit 1; }
build attention_dyn 'x=1x?x32' x=1x33x32 2
build cnn_dyn "x=?x3x?x?"
build cnn_dyn "x=?x3x?x?" x=2x3x45x33 1
build stem_dyn "x=?x3x?x?"
build resnet_dyn "x=?x3x?x?"
build unet_dyn "x=?x3x?x?"
build export_dyn "x=?x?x32"
build loop_dyn "x=?x8"
# no header macro for a free dim's size: the library must not say a fixed workspace
if grep -q WORKSPACE_BYTES "$dir/mlp_dyn/mlp_dyn.h"; then echo "FAIL: WORKSPACE_BYTES"; exit 1; fi
# an object file for this host carries the pool and the run-time planner itself: a host
# links two of them (all symbols but the models' own local) with plain cc -pthread -lm
mkdir -p "$dir/obj"
"$kiln" compile "$models/resnet_dyn/model.onnx" --shape "x=?x3x?x?" --name resnet_dyn -o "$dir/obj/resnet_dyn.o"
"$kiln" compile "$models/unet_dyn/model.onnx" --shape "x=?x3x?x?" --name unet_dyn -o "$dir/obj/unet_dyn.o"
for name in resnet_dyn unet_dyn; do
  up="$(echo "$name" | tr a-z A-Z)"
  other=unet_dyn
  [ $name = unet_dyn ] && other=resnet_dyn
  cc -O1 -std=c11 -Wall -Wextra -Werror -DMODEL="$name" -DMODEL_UP="$up" -DHEADER="\"$name.h\"" \
    -I"$dir/obj" "$root/tests/aot_dyn_host.c" "$dir/obj/$name.o" "$dir/obj/$other.o" -pthread -lm \
    -o "$dir/obj/host_$name"
  "$dir/obj/host_$name" "$models/$name"/case_*
done
# NonZero of a run-time value, with a free dim and without: output_shapes gives the count's
# bound (the element count), run_dims the count the run found, checked against a loop here;
# c, a Range to the count, is a shape computed from it; d, of a static empty input, stays
# empty beside them
mkdir -p "$dir/nz"
cat >"$dir/nz/nz.kiln" <<'EOF'
model nz(x: f32[N, 4], m: f32[3, 4], e: f32[0, 3]) {
  param zero: i64[] = 0
  param one: i64[] = 1
  a = NonZero(x)
  n = Gather(Shape(a), one)
  return a = Identity(a), b = NonZero(m), c = Range(zero, n, one), d = Neg(e)
}
EOF
"$kiln" compile "$dir/nz/nz.kiln" --shape 'x=?x4' --name nz -o "$dir/nz/libnz.so"
cat >"$dir/nz/host.c" <<'EOF'
#include "nz.h"
#include <stdio.h>
#include <stdlib.h>

static int fails;
#define CHECK(c, ...) ((c) ? (void)0 : (fails++, printf("FAIL: " __VA_ARGS__), (void)printf("\n")))

/* the coordinates of x's nonzeros, [2, count] */
static int64_t expect(const float *x, int64_t rows, int64_t *want) {
  int64_t count = 0;
  for (int64_t i = 0; i < rows * 4; i++) count += x[i] != 0;
  for (int64_t i = 0, j = 0; i < rows * 4; i++)
    if (x[i] != 0) want[j] = i / 4, want[count + j] = i % 4, j++;
  return count;
}

static void check(const nz_tensor *o, const float *x, int64_t rows, const char *what) {
  int64_t want[2 * 5 * 4], count = expect(x, rows, want);
  const int64_t *got = o->data;
  CHECK(o->rank == 2 && o->dims[0] == 2 && o->dims[1] == count, "%s: dims [%lld, %lld], "
        "want [2, %lld]", what, (long long)o->dims[0], (long long)o->dims[1], (long long)count);
  for (int64_t i = 0; i < 2 * count && o->dims[1] == count; i++)
    CHECK(got[i] == want[i], "%s: element %lld is %lld, want %lld", what, (long long)i,
          (long long)got[i], (long long)want[i]);
}

int main(void) {
  float x[5 * 4], m[3 * 4], e[1], d[1];
  int64_t a[2 * 5 * 4], b[2 * 3 * 4], c[5 * 4];
  for (int round = 0; round < 3; round++) { /* round 2: all zeros, counts 0 */
    int64_t rows = round == 1 ? 5 : 3;
    for (int i = 0; i < 5 * 4; i++) x[i] = round == 2 || rand() % 3 ? 0.0f : 1.5f;
    for (int i = 0; i < 3 * 4; i++) m[i] = round == 2 ? 0.0f : (float)(rand() % 2);
    nz_tensor in[3] = {{x, NZ_INPUT_0_DTYPE, 2, {rows, 4, 0, 0, 0, 0, 0, 0}},
                       {m, NZ_INPUT_1_DTYPE, 2, {3, 4, 0, 0, 0, 0, 0, 0}},
                       {e, NZ_INPUT_2_DTYPE, 2, {0, 3, 0, 0, 0, 0, 0, 0}}};
    nz_tensor out[4] = {{a, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}}, {b, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}},
                        {c, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}}, {d, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}}};
    CHECK(nz_output_shapes(in, out) == NZ_OK && out[0].dims[1] == rows * 4 &&
          out[1].dims[1] == 12, "output_shapes: the counts' bounds");
    CHECK(nz_run_dims(in, out, NULL) == NZ_OK, "run_dims");
    CHECK(out[3].rank == 2 && out[3].dims[0] == 0 && out[3].dims[1] == 3, "d: dims [%lld, %lld], "
          "want [0, 3]", (long long)out[3].dims[0], (long long)out[3].dims[1]);
    check(&out[0], x, rows, "a");
    check(&out[1], m, 3, "b");
    /* c: Range(0, the count), a shape computed from the count */
    CHECK(out[2].rank == 1 && out[2].dims[0] == out[0].dims[1], "c: dims [%lld], want [%lld]",
          (long long)out[2].dims[0], (long long)out[0].dims[1]);
    for (int64_t i = 0; i < out[2].dims[0] && i < 5 * 4; i++)
      CHECK(c[i] == i, "c: element %lld is %lld", (long long)i, (long long)c[i]);
  }
  printf("nz: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
EOF
cc -O1 -std=c11 -Wall -Wextra -Werror -I"$dir/nz" "$dir/nz/host.c" -L"$dir/nz" -lnz \
  -Wl,-rpath,"$dir/nz" -lm -o "$dir/nz/host"
"$dir/nz/host"
# a shape clamped to constants (a Slice from 3 to 1000): the library takes S from 3 to 1000
# (the sizes where the compile found the output S - 3; 3 itself then fails as an empty
# output) and refuses the others by name
mkdir -p "$dir/cl"
cat >"$dir/cl/cl.kiln" <<'EOF'
model cl(x: f32[1, S]) {
  return y = Slice(x, [3], [1000], [1])
}
EOF
"$kiln" compile "$dir/cl/cl.kiln" --shape 'x=1x?' --name cl -o "$dir/cl/libcl.so"
cat >"$dir/cl/host.c" <<'EOF'
#include "cl.h"
#include <stdio.h>
#include <string.h>

int main(void) {
  static float x[2000], y[2000];
  int fails = 0;
  for (int i = 0; i < 2000; i++) x[i] = (float)i;
  const long long sizes[] = {2, 4, 1000, 1001};
  for (int k = 0; k < 4; k++) {
    cl_tensor in = {x, CL_INPUT_0_DTYPE, 2, {1, sizes[k], 0, 0, 0, 0, 0, 0}};
    cl_tensor out = {y, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
    char msg[300] = "";
    int bad = k == 0 || k == 3, want = bad ? CL_ERR_INVALID_INPUT : CL_OK;
    int rc = cl_check_inputs(&in, msg, sizeof msg);
    const char *says = k == 0 ? "from 3 up" : k == 3 ? "up to 1000" : "";
    if (rc != want || !strstr(msg, says)) fails++, printf("FAIL: S = %lld: %d %s\n", sizes[k], rc, msg);
    if (cl_run_dims(&in, &out, NULL) != want) fails++, printf("FAIL: S = %lld: run_dims\n", sizes[k]);
    if (!bad && (out.dims[1] != sizes[k] - 3 || y[0] != 3.0f || y[out.dims[1] - 1] != (float)(sizes[k] - 1)))
      fails++, printf("FAIL: S = %lld: output dims [1, %lld]\n", sizes[k], (long long)out.dims[1]);
  }
  printf("cl: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
EOF
cc -O1 -std=c11 -Wall -Wextra -Werror -I"$dir/cl" "$dir/cl/host.c" -L"$dir/cl" -lcl \
  -Wl,-rpath,"$dir/cl" -lm -o "$dir/cl/host"
# SpaceToDepth over free H and W: the run takes multiples of the block only, and says so
mkdir -p "$dir/sd"
cat >"$dir/sd/sd.kiln" <<'EOF'
model sd(x: f32[1, 2, H, W]) {
  return y = SpaceToDepth(x, blocksize=2)
}
EOF
"$kiln" compile "$dir/sd/sd.kiln" --shape 'x=1x2x?x?' --name sd -o "$dir/sd/libsd.so"
cat >"$dir/sd/host.c" <<'EOF'
#include "sd.h"
#include <stdio.h>
#include <string.h>

int main(void) {
  static float x[2 * 6 * 8], y[2 * 6 * 8];
  int fails = 0;
  for (int i = 0; i < 2 * 6 * 8; i++) x[i] = (float)i;
  const long long hw[3][2] = {{4, 6}, {6, 8}, {3, 8}};
  for (int k = 0; k < 3; k++) {
    long long h = hw[k][0], w = hw[k][1];
    sd_tensor in = {x, SD_INPUT_0_DTYPE, 4, {1, 2, h, w, 0, 0, 0, 0}};
    sd_tensor out = {y, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
    char msg[300] = "";
    int want = k == 2 ? SD_ERR_INVALID_INPUT : SD_OK;
    int rc = sd_check_inputs(&in, msg, sizeof msg);
    if (rc != want || (k == 2 && !strstr(msg, "is 3: this model cuts it into blocks of 2")))
      fails++, printf("FAIL: %lldx%lld: %d %s\n", h, w, rc, msg);
    if (sd_run_dims(&in, &out, NULL) != want) fails++, printf("FAIL: %lldx%lld: run_dims\n", h, w);
    /* y[0, (bh * 2 + bw) * 2 + c, i, j] = x[0, c, 2i + bh, 2j + bw]: channel 3 is c 1, bw 1 */
    if (k < 2 && (out.dims[1] != 8 || out.dims[2] != h / 2 || out.dims[3] != w / 2 ||
                  y[3 * (h / 2) * (w / 2) + 1] != x[h * w + 3]))
      fails++, printf("FAIL: %lldx%lld: output [%lld, %lld, %lld]\n", h, w,
                      (long long)out.dims[1], (long long)out.dims[2], (long long)out.dims[3]);
  }
  printf("sd: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
EOF
cc -O1 -std=c11 -Wall -Wextra -Werror -I"$dir/sd" "$dir/sd/host.c" -L"$dir/sd" -lsd \
  -Wl,-rpath,"$dir/sd" -lm -o "$dir/sd/host"
"$dir/sd/host"
"$dir/cl/host"
# NonMaxSuppression of run-time boxes and scores over a free box count: two sizes the run
# computes (the most candidates of a class, the selected count), checked against a greedy
# selection here
mkdir -p "$dir/nms"
cat >"$dir/nms/nms.kiln" <<'EOF'
model nms(b: f32[1, N, 4], s: f32[1, 2, N]) {
  param k: i64[1] = [3]
  param iou: f32[] = 0.5
  param t: f32[] = 0.2
  return y = NonMaxSuppression(b, s, k, iou, t)
}
EOF
"$kiln" compile "$dir/nms/nms.kiln" --shape 'b=1x?x4' --shape 's=1x2x?' --name nms \
  -o "$dir/nms/libnms.so"
cat >"$dir/nms/host.c" <<'EOF'
#include "nms.h"
#include <stdio.h>
#include <stdlib.h>

static int fails;
#define CHECK(c, ...) ((c) ? (void)0 : (fails++, printf("FAIL: " __VA_ARGS__), (void)printf("\n")))
#define MAXB 20

/* boxes [y1, x1, y2, x2] with y1 < y2, x1 < x2: IoU above 0.5? */
static int overlap(const float *a, const float *b) {
  float w = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
  float h = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
  if (w <= 0 || h <= 0) return 0;
  float inter = w * h, ua = (a[2] - a[0]) * (a[3] - a[1]), ub = (b[2] - b[0]) * (b[3] - b[1]);
  return inter / (ua + ub - inter) > 0.5f;
}

/* per class: candidates above 0.2 by descending score (ties: lower index), each kept
 * unless it overlaps one kept before, at most 3 */
static int64_t expect(const float *b, const float *s, int64_t n, int64_t *want) {
  int64_t count = 0;
  for (int c = 0; c < 2; c++) {
    int used[MAXB] = {0}, kept[3], nk = 0;
    for (;;) {
      int best = -1;
      for (int i = 0; i < n; i++)
        if (!used[i] && s[c * n + i] > 0.2f && (best < 0 || s[c * n + i] > s[c * n + best])) best = i;
      if (best < 0 || nk == 3) break;
      used[best] = 1;
      int ok = 1;
      for (int j = 0; j < nk; j++) ok &= !overlap(b + 4 * best, b + 4 * kept[j]);
      if (!ok) continue;
      kept[nk++] = best;
      want[3 * count] = 0, want[3 * count + 1] = c, want[3 * count + 2] = best, count++;
    }
  }
  return count;
}

int main(void) {
  float b[MAXB * 4], s[2 * MAXB];
  int64_t y[2 * MAXB * 3], want[2 * 3 * 3];
  const int64_t sizes[4] = {5, 9, 20, 7};
  for (int round = 0; round < 4; round++) { /* round 3: no candidates, count 0 */
    int64_t n = sizes[round];
    for (int i = 0; i < n; i++) {
      float y0 = (float)(rand() % 8), x0 = (float)(rand() % 8);
      b[4 * i] = y0, b[4 * i + 1] = x0;
      b[4 * i + 2] = y0 + 1 + (float)(rand() % 4), b[4 * i + 3] = x0 + 1 + (float)(rand() % 4);
    }
    for (int i = 0; i < 2 * n; i++) s[i] = round == 3 ? 0.1f : (float)(rand() % 1000) / 1000;
    nms_tensor in[2] = {{b, NMS_INPUT_0_DTYPE, 3, {1, n, 4, 0, 0, 0, 0, 0}},
                        {s, NMS_INPUT_1_DTYPE, 3, {1, 2, n, 0, 0, 0, 0, 0}}};
    nms_tensor out[1] = {{y, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}}};
    CHECK(nms_output_shapes(in, out) == NMS_OK && out[0].dims[0] == 2 * n &&
          out[0].dims[1] == 3, "output_shapes: the count's bound");
    CHECK(nms_run_dims(in, out, NULL) == NMS_OK, "run_dims");
    int64_t count = expect(b, s, n, want);
    CHECK(out[0].rank == 2 && out[0].dims[0] == count && out[0].dims[1] == 3,
          "boxes %lld: dims [%lld, %lld], want [%lld, 3]", (long long)n,
          (long long)out[0].dims[0], (long long)out[0].dims[1], (long long)count);
    for (int64_t i = 0; i < 3 * count && out[0].dims[0] == count; i++)
      CHECK(y[i] == want[i], "boxes %lld: element %lld is %lld, want %lld", (long long)n,
            (long long)i, (long long)y[i], (long long)want[i]);
  }
  printf("nms: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
EOF
cc -O1 -std=c11 -Wall -Wextra -Werror -I"$dir/nms" "$dir/nms/host.c" -L"$dir/nms" -lnms \
  -Wl,-rpath,"$dir/nms" -lm -o "$dir/nms/host"
"$dir/nms/host"
# another architecture's object has no planner to carry
set +e
out="$("$kiln" compile "$models/mlp_dyn/model.onnx" --shape 'x=?x64' --triple aarch64-linux-gnu -o "$dir/m.o" 2>&1)"
rc=$?
set -e
echo "$out"
if [ $rc -ne 4 ] || ! grep -q "for this host" <<<"$out" || [ -e "$dir/m.o" ]; then
  echo "FAIL: a foreign object file with free dims: rc $rc"
  exit 1
fi
echo "aot_dyn: ok"
