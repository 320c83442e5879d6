#!/usr/bin/env bash
# AOT libraries of a model with string tensors (StringNormalizer, StringConcat,
# RegexFullMatch, LabelEncoder both ways, a Gather of strings): a shared library and an
# object for this host, each run by a C host (built with AddressSanitizer where the compiler
# has it, so a string left unfreed or freed twice fails) against onnx.reference's outputs,
# with and without a workspace, and on an index out of range (an error, every string output
# NULL); the shared library run again by `kiln run LIB`. A library with a free dim and a
# size the run computes (StringSplit's width) at two shapes; another architecture refused.
#   aot_strings.sh KILN PYTHON
set -euo pipefail
kiln="$(realpath "$1")"
py="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$py" - "$dir" <<'PY'
import os, sys
import numpy as np
import onnx
from onnx import TensorProto as T, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
d = sys.argv[1]
ml = lambda op, i, o, **a: helper.make_node(op, i, o, domain="ai.onnx.ml", **a)
nodes = [helper.make_node("StringNormalizer", ["s"], ["low"], case_change_action="LOWER"),
         helper.make_node("StringConcat", ["low", "s"], ["cat"]),
         helper.make_node("RegexFullMatch", ["s"], ["caps"], pattern="[A-ZÄÖÜ].*"),
         ml("LabelEncoder", ["low"], ["ids"], keys_strings=["muller", "zeta", ""], values_int64s=[7, 8, 9],
            default_int64=-1),
         ml("LabelEncoder", ["i"], ["names"], keys_int64s=[1, 2], values_strings=["eins", "zwölf"],
            default_string="?"),
         helper.make_node("Gather", ["s", "j"], ["pick"], axis=1)]
g = helper.make_graph(nodes, "words", [helper.make_tensor_value_info("s", T.STRING, [1, 4]),
                                       helper.make_tensor_value_info("i", T.INT64, [3]),
                                       helper.make_tensor_value_info("j", T.INT64, [2])],
                      [helper.make_tensor_value_info(n, t, None) for n, t in
                       (("cat", T.STRING), ("caps", T.BOOL), ("ids", T.INT64), ("names", T.STRING),
                        ("pick", T.STRING))])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("ai.onnx.ml", 2)])
m.ir_version = 9
onnx.save(m, os.path.join(d, "model.onnx"))
feeds = {"s": np.array([["Muller", "ZETA", "Zz", "x y"]], dtype=object), "i": np.array([2, 5, 1], np.int64),
         "j": np.array([3, 0], np.int64)}
outs = ReferenceEvaluator(m).run(None, feeds)
os.makedirs(os.path.join(d, "data"))
for k, (n, v) in enumerate(feeds.items()):
    onnx.save_tensor(numpy_helper.from_array(v, n), os.path.join(d, "data", f"input_{k}.pb"))
for k, v in enumerate(outs):
    onnx.save_tensor(numpy_helper.from_array(v, g.output[k].name), os.path.join(d, "data", f"want_{k}.pb"))
c = lambda s: '"' + "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else
                            "".join(f"\\{b:03o}" for b in ch.encode()) for ch in s) + '"'
strs = lambda xs: "{" + ", ".join(c(x) for x in np.ravel(xs)) + "}"
ints = lambda xs: "{" + ", ".join(str(int(x)) for x in np.ravel(xs)) + "}"
with open(os.path.join(d, "expect.h"), "w") as f:
    f.write(f"static const char *const IN_S[] = {strs(feeds['s'])};\n")
    f.write(f"static const int64_t IN_I[] = {ints(feeds['i'])}, IN_J[] = {ints(feeds['j'])};\n")
    f.write(f"static const char *const WANT_CAT[] = {strs(outs[0])};\n")
    f.write(f"static const uint8_t WANT_CAPS[] = {ints(outs[1])};\n")
    f.write(f"static const int64_t WANT_IDS[] = {ints(outs[2])};\n")
    f.write(f"static const char *const WANT_NAMES[] = {strs(outs[3])};\n")
    f.write(f"static const char *const WANT_PICK[] = {strs(outs[4])};\n")
PY
cat >"$dir/check.h" <<'EOF2'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define CHECK(c, ...) ((c) ? (void)0 : (fails++, printf("FAIL: " __VA_ARGS__), (void)printf("\n")))

/* got[0..n) are want's strings; each is freed */
static void same(char **got, const char *const *want, int64_t n, const char *what) {
  for (int64_t e = 0; e < n; e++) {
    CHECK(got[e] && !strcmp(got[e], want[e]), "%s[%lld] is \"%s\", want \"%s\"", what,
          (long long)e, got[e] ? got[e] : "(NULL)", want[e]);
    free(got[e]);
  }
}
EOF2
cat >"$dir/host.c" <<'EOF2'
#include "words.h"
#include "expect.h"
#include "check.h"

int main(void) {
  for (int round = 0; round < 3; round++) {
    void *ws = round == 1 ? aligned_alloc(64, (WORDS_WORKSPACE_BYTES + 63) / 64 * 64) : NULL;
    char *cat[4], *names[3], *pick[2];
    uint8_t caps[4];
    int64_t ids[4];
    int rc = words_run(IN_S, IN_I, IN_J, cat, caps, ids, names, pick, ws);
    CHECK(rc == WORDS_OK, "round %d: rc %d", round, rc);
    if (rc == WORDS_OK) {
      same(cat, WANT_CAT, 4, "cat");
      same(names, WANT_NAMES, 3, "names");
      same(pick, WANT_PICK, 2, "pick");
      for (int e = 0; e < 4; e++) CHECK(caps[e] == WANT_CAPS[e] && ids[e] == WANT_IDS[e], "caps/ids[%d]", e);
    }
    free(ws);
  }
  /* an index out of range: the run fails, and no string output points anywhere */
  const int64_t bad[2] = {1, 4};
  char *cat[4], *names[3], *pick[2];
  uint8_t caps[4];
  int64_t ids[4];
  int rc = words_run(IN_S, IN_I, bad, cat, caps, ids, names, pick, NULL);
  CHECK(rc == WORDS_ERR_INVALID_INPUT, "bad index: rc %d", rc);
  for (int e = 0; e < 4; e++) CHECK(!cat[e], "bad index: cat[%d] is not NULL", e);
  for (int e = 0; e < 3; e++) CHECK(!names[e], "bad index: names[%d] is not NULL", e);
  printf("words: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
EOF2
asan=()
if echo 'int main(void){return 0;}' | cc -fsanitize=address -x c - -o "$dir/probe" 2>/dev/null && "$dir/probe"; then
  asan=(-fsanitize=address -fno-omit-frame-pointer)
fi
"$kiln" compile "$dir/model.onnx" --name words -o "$dir/libwords.so"
grep -q 'const char \*const \*s,' "$dir/words.h"
grep -q 'char \*\*cat,' "$dir/words.h"
cc -O1 -std=c11 -Wall -Wextra -Werror "${asan[@]}" -I"$dir" "$dir/host.c" -L"$dir" -lwords \
  -Wl,-rpath,"$dir" -lm -o "$dir/host"
"$dir/host"
# an object file for this host, linked into the host itself
mkdir -p "$dir/obj"
"$kiln" compile "$dir/model.onnx" --name words -o "$dir/obj/words.o"
cc -O1 -std=c11 -Wall -Wextra -Werror "${asan[@]}" -I"$dir/obj" -I"$dir" "$dir/host.c" \
  "$dir/obj/words.o" -pthread -lm -o "$dir/host_obj"
"$dir/host_obj"
# `kiln run LIB`: the library's outputs are the reference's
"$kiln" run "$dir/libwords.so" --inputs "$dir/data" --output-dir "$dir/out" --repeat 2 >/dev/null
"$py" - "$dir" <<'PY'
import os, sys
import numpy as np
import onnx
from onnx import numpy_helper
d = sys.argv[1]
for k in range(5):
    got = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "out", f"output_{k}.pb")))
    want = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "data", f"want_{k}.pb")))
    assert got.shape == want.shape and (got == want).all(), (k, got, want)
print("kiln run LIB: ok")
PY
# free dims and a size the run computes: StringSplit's width, with N free
"$py" - "$dir" <<'PY'
import os, sys
import numpy as np
import onnx
from onnx import TensorProto as T, helper
from onnx.reference import ReferenceEvaluator
d = sys.argv[1]
g = helper.make_graph([helper.make_node("StringSplit", ["s"], ["pieces", "count"], delimiter=","),
                       helper.make_node("StringNormalizer", ["s"], ["low"], case_change_action="LOWER")],
                      "split", [helper.make_tensor_value_info("s", T.STRING, ["N"])],
                      [helper.make_tensor_value_info("pieces", T.STRING, None),
                       helper.make_tensor_value_info("count", T.INT64, None),
                       helper.make_tensor_value_info("low", T.STRING, None)])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
onnx.save(m, os.path.join(d, "split.onnx"))
cases = [["A,b,,C", "x", "Yy,z"], ["ONE,two,three,four,five"]]
c = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
with open(os.path.join(d, "expect_split.h"), "w") as f:
    for k, words in enumerate(cases):
        x = np.array(words, dtype=object)
        pieces, count, low = ReferenceEvaluator(m).run(None, {"s": x})
        f.write(f"static const char *const IN{k}[] = {{{', '.join(c(w) for w in words)}}};\n")
        f.write(f"static const char *const PIECES{k}[] = {{{', '.join(c(w) for w in pieces.ravel())}}};\n")
        f.write(f"static const int64_t COUNT{k}[] = {{{', '.join(str(int(v)) for v in count)}}};\n")
        f.write(f"static const char *const LOW{k}[] = {{{', '.join(c(w) for w in low)}}};\n")
        f.write(f"enum {{ N{k} = {len(words)}, W{k} = {pieces.shape[1]} }};\n")
PY
cat >"$dir/split_host.c" <<'EOF2'
#include "split.h"
#include "expect_split.h"
#include "check.h"

static void run(const char *const *in, int64_t n, const char *const *pieces, int64_t w,
                const int64_t *count, const char *const *low) {
  split_tensor x = {(void *)in, SPLIT_INPUT_0_DTYPE, 1, {n}};
  split_tensor o[3];
  memset(o, 0, sizeof o);
  CHECK(split_output_shapes(&x, o) == SPLIT_OK, "output_shapes");
  for (int i = 0; i < 3; i++) { /* room at the bounds (the width's: 4096) */
    int64_t e = 1;
    for (int d = 0; d < o[i].rank; d++) e *= o[i].dims[d];
    o[i].data = calloc((size_t)e + 1, 8);
  }
  int rc = split_run_dims(&x, o, NULL);
  CHECK(rc == SPLIT_OK, "run_dims: rc %d", rc);
  if (rc == SPLIT_OK) {
    CHECK(o[0].rank == 2 && o[0].dims[0] == n && o[0].dims[1] == w, "pieces: [%lld, %lld], want [%lld, %lld]",
          (long long)o[0].dims[0], (long long)o[0].dims[1], (long long)n, (long long)w);
    if (o[0].dims[1] == w) same(o[0].data, pieces, n * w, "pieces");
    for (int64_t e = 0; e < n; e++) CHECK(((int64_t *)o[1].data)[e] == count[e], "count[%lld]", (long long)e);
    same(o[2].data, low, n, "low");
  }
  for (int i = 0; i < 3; i++) free(o[i].data);
}

int main(void) {
  run(IN0, N0, PIECES0, W0, COUNT0, LOW0);
  run(IN1, N1, PIECES1, W1, COUNT1, LOW1);
  run(IN0, N0, PIECES0, W0, COUNT0, LOW0);
  printf("split: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
EOF2
mkdir -p "$dir/split"
"$kiln" compile "$dir/split.onnx" --shape 's=?' --name split -o "$dir/split/libsplit.so"
cc -O1 -std=c11 -Wall -Wextra -Werror "${asan[@]}" -I"$dir/split" -I"$dir" "$dir/split_host.c" \
  -L"$dir/split" -lsplit -Wl,-rpath,"$dir/split" -lm -o "$dir/split_host"
"$dir/split_host"
# another architecture: the string functions are this host's run-time library
if out="$("$kiln" compile "$dir/model.onnx" --triple aarch64-linux-gnu --name words -o "$dir/x.o" 2>&1)"; then
  echo "FAIL: a foreign object of a string model compiled"; exit 1
fi
echo "$out" | grep -q "string tensors: an AOT library of it is for this host"
echo "aot_strings: ok"
