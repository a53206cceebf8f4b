"""numpy dequantization of GGUF tensor types, written from the published block layouts.

Block layouts (as defined by ggml, ggml-common.h; all little-endian, "f16" = IEEE half):
  Q8_0  (32 el, 34 B): f16 d; i8 qs[32]                      x = d * q
  Q4_0  (32 el, 18 B): f16 d; u8 qs[16]                      x[j] = d * (lo(qs[j]) - 8),
                                                             x[j+16] = d * (hi(qs[j]) - 8)
  Q4_1  (32 el, 20 B): f16 d, f16 m; u8 qs[16]               x = d * q + m (same nibble order)
  Q5_0  (32 el, 22 B): f16 d; u32 qh; u8 qs[16]              q = nibble | bit(qh, j or j+16) << 4; x = d*(q-16)
  Q5_1  (32 el, 24 B): f16 d, f16 m; u32 qh; u8 qs[16]       x = d * q + m
  Q2_K (256 el, 84 B): u8 scales[16] (lo: scale, hi: min); u8 qs[64]; f16 d, f16 dmin
        16 sub-blocks of 16; each 128-half reads 32 bytes of qs at shifts 0,2,4,6;
        x = d*(sc & 15) * q - dmin*(sc >> 4)
  Q3_K (256 el, 110 B): u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 six-bit scales, offset 32); f16 d
        q = 2 low bits from qs (as Q2_K) minus 4 when the hmask bit is clear; x = d*(s-32)*q
  Q4_K (256 el, 144 B): f16 d, f16 dmin; u8 scales[12] (8 six-bit scales + 8 six-bit mins); u8 qs[128]
        per 64 elements: 32 bytes of qs, low nibbles then high nibbles; x = d*sc*q - dmin*m
  Q5_K (256 el, 176 B): f16 d, f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
        as Q4_K with a fifth bit from qh (bit 2i for the low nibbles of chunk i, 2i+1 for the high)
  Q6_K (256 el, 210 B): u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
        per 128 elements: 64 bytes of ql, 32 of qh, 8 scales; q = 4 low + 2 high bits - 32;
        x = d * scale[sub-block of 16] * q
"""
import numpy as np

from gguf_read import GGML_TYPES


def _f16(b, lo):
    """Half floats at byte column `lo` of blocks `b` ([n_blocks, type_size] uint8) -> float64."""
    return b[:, lo:lo + 2].copy().view(np.float16).astype(np.float64)[:, 0]


def _nibbles(qs):
    """[n, 16] bytes -> [n, 32]: low nibbles (elements 0..15) then high nibbles (16..31)."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64)


def _q8_0(b):
    return _f16(b, 0)[:, None] * b[:, 2:34].view(np.int8).astype(np.float64)


def _q4_0(b):
    return _f16(b, 0)[:, None] * (_nibbles(b[:, 2:18]) - 8)


def _q4_1(b):
    return _f16(b, 0)[:, None] * _nibbles(b[:, 4:20]) + _f16(b, 2)[:, None]


def _q5_high(qh_bytes):
    """u32 qh -> [n, 32] values 0/16 for elements 0..31 (bit j belongs to element j)."""
    qh = qh_bytes.copy().view("<u4")[:, 0].astype(np.uint64)
    bits = (qh[:, None] >> np.arange(32, dtype=np.uint64)[None, :]) & 1
    return bits.astype(np.float64) * 16


def _q5_0(b):
    q = _nibbles(b[:, 6:22]) + _q5_high(b[:, 2:6])
    return _f16(b, 0)[:, None] * (q - 16)


def _q5_1(b):
    q = _nibbles(b[:, 8:24]) + _q5_high(b[:, 4:8])
    return _f16(b, 0)[:, None] * q + _f16(b, 2)[:, None]


def _k4_scales(s):
    """Q4_K/Q5_K packing of 8 six-bit scales and 8 six-bit mins in 12 bytes -> ([n,8], [n,8])."""
    s = s.astype(np.int64)
    sc = np.empty((s.shape[0], 8), np.int64)
    mn = np.empty((s.shape[0], 8), np.int64)
    sc[:, :4] = s[:, 0:4] & 63
    mn[:, :4] = s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc.astype(np.float64), mn.astype(np.float64)


def _q4_k(b):
    d, dmin = _f16(b, 0)[:, None], _f16(b, 2)[:, None]
    sc, mn = _k4_scales(b[:, 4:16])
    qs = b[:, 16:144].reshape(-1, 4, 32)                 # 4 chunks of 64 elements
    q = np.stack([qs & 0x0F, qs >> 4], axis=2)           # [n, 4, 2, 32]: sub-block 2c, 2c+1
    q = q.reshape(-1, 8, 32).astype(np.float64)
    return (d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]).reshape(-1, 256)


def _q5_k(b):
    d, dmin = _f16(b, 0)[:, None], _f16(b, 2)[:, None]
    sc, mn = _k4_scales(b[:, 4:16])
    qh = b[:, 16:48].astype(np.int64)                    # [n, 32]
    qs = b[:, 48:176].reshape(-1, 4, 32).astype(np.int64)
    subs = []
    for c in range(4):
        lo = (qs[:, c] & 0x0F) + ((qh >> (2 * c)) & 1) * 16
        hi = (qs[:, c] >> 4) + ((qh >> (2 * c + 1)) & 1) * 16
        subs += [lo, hi]
    q = np.stack(subs, axis=1).astype(np.float64)        # [n, 8, 32]
    return (d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]).reshape(-1, 256)


def _q6_k(b):
    ql = b[:, 0:128].astype(np.int64)
    qh = b[:, 128:192].astype(np.int64)
    scales = b[:, 192:208].view(np.int8).astype(np.float64)
    d = _f16(b, 208)[:, None]
    out = np.empty((b.shape[0], 256))
    for half in range(2):
        l0, h0, y0 = ql[:, 64 * half:64 * half + 64], qh[:, 32 * half:32 * half + 32], 128 * half
        quads = [(l0[:, :32] & 0x0F) | (((h0 >> 0) & 3) << 4),
                 (l0[:, 32:] & 0x0F) | (((h0 >> 2) & 3) << 4),
                 (l0[:, :32] >> 4) | (((h0 >> 4) & 3) << 4),
                 (l0[:, 32:] >> 4) | (((h0 >> 6) & 3) << 4)]
        for k, q in enumerate(quads):
            for s in range(2):  # 16-element sub-blocks
                sub = 8 * half + 2 * k + s
                out[:, y0 + 32 * k + 16 * s:y0 + 32 * k + 16 * s + 16] = (
                    d * scales[:, sub:sub + 1] * (q[:, 16 * s:16 * s + 16] - 32))
    return out


def _two_bit_planes(qs):
    """Q2_K/Q3_K low bits: per 128 elements 32 bytes read at shifts 0,2,4,6 -> [n, 256]."""
    qs = qs.astype(np.int64)
    parts = []
    for half in range(2):
        q = qs[:, 32 * half:32 * half + 32]
        for shift in (0, 2, 4, 6):
            parts.append((q >> shift) & 3)
    return np.concatenate(parts, axis=1)


def _q2_k(b):
    scales = b[:, 0:16].astype(np.int64)
    d, dmin = _f16(b, 80)[:, None], _f16(b, 82)[:, None]
    q = _two_bit_planes(b[:, 16:80]).reshape(-1, 16, 16).astype(np.float64)
    sc = (scales & 0x0F).astype(np.float64)[:, :, None]
    mn = (scales >> 4).astype(np.float64)[:, :, None]
    return (d[:, :, None] * sc * q - dmin[:, :, None] * mn).reshape(-1, 256)


def _q3_k_scales(s):
    """12 bytes -> 16 six-bit scales: low 4 bits from bytes 0..7 (nibbles), high 2 from 8..11."""
    s = s.astype(np.int64)
    low = np.concatenate([s[:, 0:8] & 0x0F, s[:, 0:8] >> 4], axis=1)   # scales 0..15
    high = np.concatenate([(s[:, 8:12] >> (2 * k)) & 3 for k in range(4)], axis=1)
    return (low | (high << 4)) - 32


def _q3_k(b):
    hmask = b[:, 0:32].astype(np.int64)
    d = _f16(b, 108)[:, None]
    scales = _q3_k_scales(b[:, 96:108]).astype(np.float64)
    low = _two_bit_planes(b[:, 32:96])                     # [n, 256]
    # hmask bit m (m = 0..7) covers elements 32m .. 32m+31, byte l for element 32m + l.
    high = np.concatenate([(hmask >> m) & 1 for m in range(8)], axis=1)
    q = (low - 4 * (1 - high)).reshape(-1, 16, 16).astype(np.float64)
    return (d[:, :, None] * scales[:, :, None] * q).reshape(-1, 256)


_BLOCK_FNS = {"Q8_0": _q8_0, "Q4_0": _q4_0, "Q4_1": _q4_1, "Q5_0": _q5_0, "Q5_1": _q5_1,
              "Q2_K": _q2_k, "Q3_K": _q3_k, "Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k}


def block_mins(tensor):
    """Q4_1 / Q5_1: the per-block offsets m (float64), shape [rows, row_length / 32]."""
    name, block, size = GGML_TYPES[tensor.type_id]
    if name not in ("Q4_1", "Q5_1"):
        raise ValueError(f"tensor {tensor.name}: {name} has no block minimum")
    b = np.asarray(tensor.raw).reshape(-1, size)
    return _f16(b, 2).reshape(tensor.shape[:-1] + (tensor.shape[-1] // block,))


def dequantize(tensor):
    """A gguf_read.Tensor -> float64 ndarray of tensor.shape (outermost dimension first)."""
    name, block, size = GGML_TYPES[tensor.type_id]
    raw = np.asarray(tensor.raw)
    if name == "F32":
        x = raw.view("<f4").astype(np.float64)
    elif name == "F16":
        x = raw.view("<f2").astype(np.float64)
    elif name == "BF16":
        x = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    elif name == "F64":
        x = raw.view("<f8").copy()
    elif name in _BLOCK_FNS:
        x = _BLOCK_FNS[name](raw.reshape(-1, size)).reshape(-1)
    else:
        raise ValueError(f"tensor {tensor.name}: no dequantization for {name}")
    return x.reshape(tensor.shape)
