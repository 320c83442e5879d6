#!/usr/bin/env python3
"""Where a GPU run's time goes, kernel by kernel: sums the log of

    ncu --clock-control none --metrics gpu__time_duration.sum --csv \
        python3 bench/gpu_sanitize.py .gpu NAME > NAME.csv

(one line a launch) by kernel, largest first, each named by the kiln kernel and stage it
runs when the model's CUDA C is given (`kiln dump MODEL --cuda > NAME.cu`, from the same
kiln that compiled the library): which kernels to look at, without hardware counters.

    python3 bench/ncu_kernels.py NAME.csv [TOP] [NAME.cu]
"""
import collections
import csv
import re
import sys

SCALE = {"ns": 1e-3, "nsecond": 1e-3, "us": 1, "usecond": 1, "ms": 1e3, "msecond": 1e3}


def main():
    rows = list(csv.reader(line for line in open(sys.argv[1]) if line.startswith('"')))
    h = rows[0]
    ki, vi, ui = h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit")
    names = {}
    if len(sys.argv) > 3:  # the comment kiln writes above each kernel function
        src = open(sys.argv[3]).read()
        for m in re.finditer(r"/\* kernel '([^']*)' \(([^)]*)\), stage '([^']*)': (\d+) blocks of "
                             r"(\d+) threads[^\n]*\n[^\n]*?(kiln_k\d+_s\d+)\(", src):
            names[m.group(6)] = f"{m.group(1)} ({m.group(2)}) {m.group(3)}, {m.group(4)} x {m.group(5)}"
    total, launches = collections.Counter(), collections.Counter()
    for r in rows[1:]:
        total[r[ki]] += float(r[vi].replace(",", "")) * SCALE[r[ui]]
        launches[r[ki]] += 1
    all_us = sum(total.values())
    print(f"{sys.argv[1]}: {len(rows) - 1} launches, {all_us:.1f} us")
    for k, us in total.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 25):
        print(f"  {k:<14}{launches[k]:>4}{us:>10.1f} us {100 * us / all_us:5.1f}%  {names.get(k, '')}")


if __name__ == "__main__":
    main()
