#!/usr/bin/env python3
"""Writes test/fixtures/svd-reference.json: small matrices and torch.linalg.svd's singular values.

The reference for exactSvd (src/engine/linalg/svd.ts). Inputs are stored exactly as torch saw
them (integers, or values rounded to 8 decimals), so the test needs no Python:

    /usr/bin/python3 scripts/svd-reference.py    # Debian's python3-torch 1.13 + numpy
"""
import json
import pathlib

import numpy as np
import torch

rng = np.random.default_rng(20240611)


def gaussian(m, n):
    return np.round(rng.standard_normal((m, n)), 8)


def integer_low_rank(m, n, r):
    # Small integer factors: the product is exact, so the rank really is r.
    return rng.integers(-3, 4, (m, r)) @ rng.integers(-3, 4, (r, n))


def orthonormal(m, k):
    q, _ = np.linalg.qr(rng.standard_normal((m, k)))
    return q


def from_spectrum(m, n, s):
    k = len(s)
    return np.round(orthonormal(m, k) @ np.diag(s) @ orthonormal(n, k).T, 8)


cases = [
    ("1x1", gaussian(1, 1)),
    ("row 1x7", gaussian(1, 7)),
    ("column 7x1", gaussian(7, 1)),
    ("gaussian 5x5", gaussian(5, 5)),
    ("tall 8x3", gaussian(8, 3)),
    ("wide 3x8", gaussian(3, 8)),
    ("gaussian 40x40", gaussian(40, 40)),
    ("tall 40x17", gaussian(40, 17)),
    ("rank 3 of 12x12", integer_low_rank(12, 12, 3)),
    ("rank 5 of 20x15", integer_low_rank(20, 15, 5)),
    ("rank 4 of 15x30", integer_low_rank(15, 30, 4)),
    ("rank 1 of 9x6", integer_low_rank(9, 6, 1)),
    ("zero 4x6", np.zeros((4, 6))),
    ("geometric decay 40x25", from_spectrum(40, 25, 10.0 ** -np.linspace(0, 6, 25))),
    ("repeated values 10x10", from_spectrum(10, 10, np.array([3.0] * 4 + [1.0] * 4 + [0.5] * 2))),
]

out = {
    "generator": "scripts/svd-reference.py",
    "torch": torch.__version__,
    "note": "singular values from torch.linalg.svd(float64 input, full_matrices=False).S",
    "cases": [],
}
for name, a in cases:
    a = np.asarray(a, dtype=np.float64)
    s = torch.linalg.svd(torch.from_numpy(a), full_matrices=False).S.numpy()
    out["cases"].append({
        "name": name,
        "m": a.shape[0],
        "n": a.shape[1],
        "a": [float(x) if x != int(x) else int(x) for x in a.ravel()],
        "s": [float(x) for x in s],
    })

path = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "svd-reference.json"
path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
print(f"wrote {path} ({len(out['cases'])} cases)")
