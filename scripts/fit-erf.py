#!/usr/bin/env python3
"""Fits the rational erf of src/model/detops.rs and checks it in f32.

    erf(x) ~= z * P(z^2) / Q(z^2),  z = clamp(x, -C, C),  Q(0) = 1

P has degree M and Q degree N in z^2. The fit minimises the largest absolute
error of erf on [0, C] by iteratively reweighted least squares on the
linearised problem (Lawson's weights: points with large errors get heavier
each round). Then it evaluates the result exactly as the Rust code does, in
float32 with Horner's rule and one division, and prints the largest error on
[-6, 6] and the coefficients as the shortest float32 literals.

    .cache/venv/bin/python scripts/fit-erf.py [M N C]    # default: 5 5 4.0

Needs numpy only (scripts/setup.sh puts it in .cache/venv).
"""

import math
import sys

import numpy as np


def fit(m, n, c, rounds=60):
    # dense on [0, c], denser near c where erf bends flat
    z = np.concatenate(
        [np.linspace(0, c, 20000)[1:], c * (1 - np.cos(np.linspace(0, np.pi / 2, 4000)))[1:]]
    )
    z = np.sort(z)
    w = z * z
    exact = np.array([math.erf(v) for v in z])
    f = exact / z  # the function P/Q approximates
    q_prev = np.ones_like(w)
    weights = np.ones_like(w)
    for _ in range(rounds):
        # z * (P(w) - f * Q(w)) / Q(w) ~ 0, unknowns p_0..p_m, q_1..q_n
        cols = [w**i for i in range(m + 1)] + [-f * w**j for j in range(1, n + 1)]
        a = np.stack(cols, 1)
        scale = z / np.abs(q_prev) * np.sqrt(weights)
        coef, *_ = np.linalg.lstsq(a * scale[:, None], f * scale, rcond=None)
        p, q = coef[: m + 1], np.concatenate([[1.0], coef[m + 1 :]])
        q_prev = np.polyval(q[::-1], w)
        err = np.abs(z * np.polyval(p[::-1], w) / q_prev - exact)
        weights = weights * (err / err.max() + 1e-3)
        weights /= weights.mean()
    return p.astype(np.float32), q.astype(np.float32), err.max()


def erf_f32(x, p, q, c):
    """The Rust evaluation, operation for operation, in float32."""
    f32 = np.float32
    z = np.clip(x.astype(f32), f32(-c), f32(c))
    w = z * z
    pv = np.full_like(w, p[-1])
    for k in p[-2::-1]:
        pv = pv * w + k
    qv = np.full_like(w, q[-1])
    for k in q[-2::-1]:
        qv = qv * w + k
    return (z * pv) / qv


def main():
    m, n, c = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])) if len(sys.argv) > 3 else (5, 5, 4.0)
    p, q, err64 = fit(m, n, c)
    x = np.linspace(-6, 6, 240001).astype(np.float32)
    got = erf_f32(x, p, q, c).astype(np.float64)
    want = np.array([math.erf(float(v)) for v in x])
    e = np.abs(got - want)
    print(f"degree {m}/{n} on [0, {c}]: largest error {err64:.2e} in f64, {e.max():.2e} in f32 (at x = {x[e.argmax()]:.4f})")
    print("P:", ", ".join(np.format_float_positional(v, unique=True) for v in p))
    print("Q:", ", ".join(np.format_float_positional(v, unique=True) for v in q[1:]), "(after Q[0] = 1)")


if __name__ == "__main__":
    main()
