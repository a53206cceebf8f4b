"""Spec check of tests/reference/dequant.py: for every block type, random integer quants, scales
and mins are packed element by element following the published ggml block layouts (the inverse
direction, written separately, one element at a time), dequantized, and compared exactly with
the formula x = d * scale * q - dmin * min computed from the integers."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import numpy as np  # noqa: E402

from dequant import dequantize  # noqa: E402
from gguf_read import GGML_TYPES, Tensor  # noqa: E402

RNG = np.random.default_rng(1234)


def f16(x):
    """A random-ish half value and its bytes."""
    h = np.float16(x)
    return float(h), h.tobytes()


def pack_q4_0(legacy_min=False, five_bits=False):
    """Q4_0 / Q4_1 / Q5_0 / Q5_1 block -> (bytes, expected 32 values)."""
    d, db = f16(RNG.uniform(0.01, 2))
    m, mb = f16(RNG.uniform(-3, 3))
    q = RNG.integers(0, 32 if five_bits else 16, 32)
    qs = bytearray(16)
    qh = 0
    for j in range(32):
        qs[j % 16] |= (int(q[j]) & 15) << (0 if j < 16 else 4)
        if five_bits:
            qh |= (int(q[j]) >> 4) << j
    offset = 0 if legacy_min else (16 if five_bits else 8)
    expected = [d * (int(v) - offset) + (m if legacy_min else 0) for v in q]
    body = db + (mb if legacy_min else b"") + (struct.pack("<I", qh) if five_bits else b"") + bytes(qs)
    return body, expected


def pack_q8_0():
    d, db = f16(RNG.uniform(0.01, 2))
    q = RNG.integers(-128, 128, 32)
    return db + q.astype(np.int8).tobytes(), [d * int(v) for v in q]


def pack_q2_k():
    d, db = f16(RNG.uniform(0.01, 1))
    dmin, dminb = f16(RNG.uniform(0.01, 1))
    sc, mn, q = RNG.integers(0, 16, 16), RNG.integers(0, 16, 16), RNG.integers(0, 4, 256)
    scales = bytes(int(s) | (int(m) << 4) for s, m in zip(sc, mn))
    qs = bytearray(64)
    for e in range(256):
        half, r = divmod(e, 128)
        g, l = divmod(r, 32)
        qs[32 * half + l] |= int(q[e]) << (2 * g)
    expected = [d * sc[e // 16] * q[e] - dmin * mn[e // 16] for e in range(256)]
    return scales + bytes(qs) + db + dminb, expected


def pack_q3_k():
    d, db = f16(RNG.uniform(0.01, 1))
    s, q = RNG.integers(0, 64, 16), RNG.integers(-4, 4, 256)
    hmask, qs, scales = bytearray(32), bytearray(64), bytearray(12)
    for e in range(256):
        hbit, lo = (1, int(q[e])) if q[e] >= 0 else (0, int(q[e]) + 4)
        half, r = divmod(e, 128)
        g, l = divmod(r, 32)
        qs[32 * half + l] |= lo << (2 * g)
        m, l2 = divmod(e, 32)
        hmask[l2] |= hbit << m
    for i in range(16):
        scales[i % 8] |= (int(s[i]) & 15) << (0 if i < 8 else 4)
        scales[8 + i % 4] |= (int(s[i]) >> 4) << (2 * (i // 4))
    expected = [d * (s[e // 16] - 32) * q[e] for e in range(256)]
    return bytes(hmask) + bytes(qs) + bytes(scales) + db, expected


def k4_scales(sc, mn):
    """Q4_K/Q5_K: 8 six-bit scales and mins in 12 bytes."""
    b = bytearray(12)
    for j in range(4):
        b[j] = int(sc[j]) | ((int(sc[j + 4]) >> 4) << 6)
        b[j + 4] = int(mn[j]) | ((int(mn[j + 4]) >> 4) << 6)
        b[j + 8] = (int(sc[j + 4]) & 15) | ((int(mn[j + 4]) & 15) << 4)
    return bytes(b)


def pack_q45_k(five_bits):
    d, db = f16(RNG.uniform(0.001, 0.1))
    dmin, dminb = f16(RNG.uniform(0.001, 0.1))
    sc, mn = RNG.integers(0, 64, 8), RNG.integers(0, 64, 8)
    q = RNG.integers(0, 32 if five_bits else 16, 256)
    qs, qh = bytearray(128), bytearray(32)
    for e in range(256):
        sub, l = divmod(e, 32)
        c, hi = divmod(sub, 2)
        qs[32 * c + l] |= (int(q[e]) & 15) << (4 * hi)
        if five_bits:
            qh[l] |= (int(q[e]) >> 4) << sub
    expected = [d * sc[e // 32] * q[e] - dmin * mn[e // 32] for e in range(256)]
    return db + dminb + k4_scales(sc, mn) + (bytes(qh) if five_bits else b"") + bytes(qs), expected


def pack_q6_k():
    d, db = f16(RNG.uniform(0.001, 0.1))
    sc, q = RNG.integers(-128, 128, 16), RNG.integers(0, 64, 256)
    ql, qh = bytearray(128), bytearray(64)
    for e in range(256):
        half, r = divmod(e, 128)
        k, l = divmod(r, 32)
        ql[64 * half + 32 * (k % 2) + l] |= (int(q[e]) & 15) << (4 * (k // 2))
        qh[32 * half + l] |= (int(q[e]) >> 4) << (2 * k)
    expected = [d * sc[e // 16] * (q[e] - 32) for e in range(256)]
    return bytes(ql) + bytes(qh) + sc.astype(np.int8).tobytes() + db, expected


PACKERS = {
    "Q4_0": lambda: pack_q4_0(), "Q4_1": lambda: pack_q4_0(legacy_min=True),
    "Q5_0": lambda: pack_q4_0(five_bits=True), "Q5_1": lambda: pack_q4_0(True, True),
    "Q8_0": pack_q8_0, "Q2_K": pack_q2_k, "Q3_K": pack_q3_k,
    "Q4_K": lambda: pack_q45_k(False), "Q5_K": lambda: pack_q45_k(True), "Q6_K": pack_q6_k,
}


def main():
    ids = {v[0]: k for k, v in GGML_TYPES.items()}
    failures = []
    for name, packer in PACKERS.items():
        _, block, size = GGML_TYPES[ids[name]]
        blocks = [packer() for _ in range(3)]
        raw = b"".join(b for b, _ in blocks)
        if len(raw) != 3 * size:
            failures.append(f"{name}: packed {len(raw)} bytes, expected {3 * size}")
            continue
        t = Tensor("t", [3 * block], ids[name], 0)
        t.raw = np.frombuffer(raw, dtype=np.uint8)
        got = dequantize(t)
        want = np.array([x for _, e in blocks for x in e], dtype=np.float64)
        err = float(np.abs(got - want).max())
        print(f"{name:<5} max |dequant - spec| = {err:.3g}")
        if err > 1e-12 * max(1.0, float(np.abs(want).max())):
            failures.append(f"{name}: dequantization differs from the layout spec by {err:.3g}")
    # Float types: exact conversions.
    x = RNG.standard_normal(64).astype(np.float32)
    for name, raw, want in [("F16", x.astype(np.float16).tobytes(), x.astype(np.float16)),
                            ("BF16", (x.view(np.uint32) >> 16).astype(np.uint16).tobytes(),
                             ((x.view(np.uint32) >> 16) << 16).view(np.float32))]:
        t = Tensor("t", [64], ids[name], 0)
        t.raw = np.frombuffer(raw, dtype=np.uint8)
        if not np.array_equal(dequantize(t), want.astype(np.float64)):
            failures.append(f"{name}: conversion is not exact")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("OK: every block type dequantizes as its layout specifies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
