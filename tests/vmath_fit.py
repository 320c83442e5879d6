"""Fits the polynomials of codegen/llvm_vmath.c (not run by the test suite; a few minutes).

Each is a weighted minimax fit on a dense grid by Lawson's algorithm (iteratively
reweighted least squares), in double precision. Coefficients are then rounded to float
one at a time, lowest order first, refitting the rest after each, so the rounding of
the leading terms is compensated by the others. The weight makes the error minimised the
one that counts: relative error of the function for exp, log, tanh and small erf; the
absolute error of erfc (what 1 - erfc inherits) for log erfc.

    .venv/bin/python tests/vmath_fit.py     # prints each fit's error and C coefficients
"""
import math

import numpy as np

N = 20000


def lawson(A, y, iters=400):
    w = np.full(len(y), 1.0 / len(y))
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        r = np.abs(A @ c - y)
        w *= r
        w /= w.sum()
    return c


def fit(xs, powers, target, weight):
    """Float coefficients c_j of sum c_j xs^powers[j] ~ target, minimising the max of
    weight * error."""
    basis = np.stack([xs ** p for p in powers], 1)
    fixed = []
    for k in range(len(powers)):
        rest = target - basis[:, :k] @ np.array(fixed) if fixed else target
        c = lawson(basis[:, k:] * weight[:, None], rest * weight)
        fixed.append(float(np.float32(c[0])))
    err = np.max(np.abs((basis @ np.array(fixed) - target) * weight))
    return fixed, err


def show(name, cs, err):
    print("%s: max weighted error %.3g" % (name, err))
    print("  {" + ", ".join(float(c).hex().replace("0000000p", "p") + "f" for c in cs) + "}")


def main():
    # e^r = 1 + r + r^2 q(r), |r| <= ln2/2 (and a little: n is rounded after x/ln2 is)
    a = 0.3466 * 1.02
    r = np.linspace(-a, a, N)
    r = r[np.abs(r) > 1e-6]
    tgt = np.array([(math.expm1(v) - v) / (v * v) for v in r])
    show("exp q(r)", *fit(r, range(5), tgt, r * r / np.exp(r)))

    # log(1 + f) = f - f^2/2 + f^3 P(f), f in [sqrt(1/2) - 1, sqrt(2) - 1]
    f = np.linspace((math.sqrt(0.5) - 1) * 1.001, (math.sqrt(2) - 1) * 1.001, N)
    f = f[np.abs(f) > 1e-5]
    tgt = np.array([(math.log1p(v) - v + v * v / 2) / v ** 3 for v in f])
    show("log P(f)", *fit(f, range(8), tgt, np.abs(f ** 3 / np.log1p(f))))

    # tanh x = x + x^3 P(x^2), x in [0, 0.625]
    x = np.linspace(1e-4, 0.625, N)
    tgt = np.array([(math.tanh(v) - v) / v ** 3 for v in x])
    show("tanh P(x^2)", *fit(x, [2 * j for j in range(5)], tgt, np.abs(x ** 3 / np.tanh(x))))

    # erf x = x + x P(x^2), x in [0, 1]
    x = np.linspace(1e-4, 1, N)
    erf = np.array([math.erf(v) for v in x])
    show("erf P(x^2)", *fit(x, [2 * j for j in range(7)], erf / x - 1, x / erf))

    # log erfc x = Q(x - 2.5), x in [1, 4], for the absolute error of erfc
    x = np.linspace(1, 4, N)
    erfc = np.array([math.erfc(v) for v in x])
    show("log erfc Q(x - 2.5)", *fit(x - 2.5, range(8), np.log(erfc), erfc))


if __name__ == "__main__":
    main()
