#!/usr/bin/python3
"""End-to-end test of `localmax quantize` against an independent NumPy decoder.

The GGUF reader (tests/reference/gguf_read.py) and the dequantizers below are written separately
from the C++ code, from the GGUF / ggml block-format description (the same facts tensor/quants.h
documents), so a layout mistake shared by our encoder and decoder would show up here as a large
reconstruction error.

For every type: quantize a synthetic F32 model (rows of 512, so every block size fits) and the
real stories260K fixture (rows of 64/172: exercises the Q8_0 -> F16 fallbacks), then decode
every tensor with NumPy and compare with the source: weights within a per-type relative RMSE
bound, everything else byte-identical; metadata, general.file_type and alignment kept.
Exit code 77 = skipped (binary or fixtures missing).
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy not available")
    sys.exit(77)

BIN = os.environ.get("LM_BIN", "")
FIXTURES = os.environ.get("LM_FIXTURES_DIR", "")
TMP = os.environ.get("LM_TEST_TMP", tempfile.gettempdir())

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from gguf_read import GGML_TYPES as TYPES, GGUFFile  # noqa: E402  # ggml id -> (name, block, bytes)
from gguf_write import DT_F32, T_STRING, gguf_file  # noqa: E402

# ---- GGUF files, read and written with tests/reference/gguf_read.py and gguf_write.py -------


def read_gguf(path):
    """-> (metadata {key: (value type, value)}, tensors {name: (dims, ggml type, raw bytes)})."""
    f = GGUFFile(path, strict_utf8=True)
    kv = {k: (f.metadata_types[k], v.tolist() if isinstance(v, np.ndarray) else v)
          for k, v in f.metadata.items()}
    tensors = {}
    for name, t in f.tensors.items():
        assert (f.data_offset + t.offset) % f.alignment == 0, f"{name} misaligned"
        tensors[name] = (t.dims, t.type_id, bytes(t.raw))
    return kv, tensors


def write_gguf(path, kv_strings, tensors):
    """tensors: list of (name, float32 array [rows, row_len])."""
    kvs = [(k, T_STRING, v) for k, v in kv_strings.items()]
    tensors = [(name, list(reversed(np.shape(a))), DT_F32,
                np.ascontiguousarray(a, dtype="<f4").tobytes()) for name, a in tensors]
    with open(path, "wb") as f:
        f.write(gguf_file(kvs, tensors))

# ---- dequantizers, from the format description ----------------------------------------------


def f16(b):
    return b.view("<f2").astype(np.float32)


def nibbles(qs):  # [nb, 16] -> [nb, 32]: low nibbles are elements 0..15, high 16..31
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int32)


def fifth_bits(qh):  # [nb, 4] little-endian u32 -> [nb, 32]
    h = qh.copy().view("<u4").astype(np.int64)
    return ((h >> np.arange(32)) & 1).astype(np.int32) << 4


def k4_scales(s):  # [nb, 12] -> sc [nb, 8], m [nb, 8]
    s = s.astype(np.int32)
    sc = np.empty((s.shape[0], 8), np.int32)
    m = np.empty_like(sc)
    sc[:, :4], m[:, :4] = s[:, 0:4] & 63, s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)
    m[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, m


E = np.arange(256)
# Q2_K / Q3_K 2-bit layout: element 128 h + 32 g + l lives in bits 2g of qs[32 h + l].
E_H, E_G, E_L = E // 128, (E % 128) // 32, E % 32
# Q4_K / Q5_K: element 64 c + 32 nib + l is nibble `nib` of qs[32 c + l].
E_C, E_NIB = E // 64, (E % 64) // 32


def deq(t, raw, n):
    name, bs, ts = TYPES[t]
    if name == "F32":
        return np.frombuffer(raw, "<f4").astype(np.float32)
    if name == "F16":
        return np.frombuffer(raw, "<f2").astype(np.float32)
    if name == "BF16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
    b = np.frombuffer(raw, np.uint8).reshape(n // bs, ts)
    if name == "Q4_0":
        return ((nibbles(b[:, 2:]) - 8) * f16(b[:, 0:2])).ravel()
    if name == "Q4_1":
        return (nibbles(b[:, 4:]) * f16(b[:, 0:2]) + f16(b[:, 2:4])).ravel()
    if name == "Q5_0":
        q = nibbles(b[:, 6:]) | fifth_bits(b[:, 2:6])
        return ((q - 16) * f16(b[:, 0:2])).ravel()
    if name == "Q5_1":
        q = nibbles(b[:, 8:]) | fifth_bits(b[:, 4:8])
        return (q * f16(b[:, 0:2]) + f16(b[:, 2:4])).ravel()
    if name == "Q8_0":
        return (b[:, 2:].view(np.int8).astype(np.float32) * f16(b[:, 0:2])).ravel()
    if name == "Q2_K":
        sc, qs = b[:, 0:16].astype(np.int32), b[:, 16:80].astype(np.int32)
        d, dmin = f16(b[:, 80:82]), f16(b[:, 82:84])
        q = (qs[:, 32 * E_H + E_L] >> (2 * E_G)) & 3
        return (d * (sc[:, E // 16] & 15) * q - dmin * (sc[:, E // 16] >> 4)).ravel()
    if name == "Q3_K":
        hm, qs, s = b[:, 0:32].astype(np.int32), b[:, 32:96].astype(np.int32), b[:, 96:108].astype(np.int32)
        d = f16(b[:, 108:110])
        j = np.arange(16)
        low = np.where(j < 8, s[:, j % 8] & 15, s[:, j % 8] >> 4)
        high = (s[:, 8 + j % 4] >> (2 * (j // 4))) & 3
        scale = (low | (high << 4)) - 32
        q = ((qs[:, 32 * E_H + E_L] >> (2 * E_G)) & 3) | (((hm[:, E_L] >> (4 * E_H + E_G)) & 1) << 2)
        return (d * scale[:, E // 16] * (q - 4)).ravel()
    if name in ("Q4_K", "Q5_K"):
        d, dmin = f16(b[:, 0:2]), f16(b[:, 2:4])
        sc, m = k4_scales(b[:, 4:16])
        qs = b[:, -128:].astype(np.int32)
        q = (qs[:, 32 * E_C + E_L] >> (4 * E_NIB)) & 15
        if name == "Q5_K":
            qh = b[:, 16:48].astype(np.int32)
            q |= ((qh[:, E_L] >> (2 * E_C + E_NIB)) & 1) << 4
        return (d * sc[:, E // 32] * q - dmin * m[:, E // 32]).ravel()
    if name == "Q6_K":
        ql, qh = b[:, 0:128].astype(np.int32), b[:, 128:192].astype(np.int32)
        sc, d = b[:, 192:208].view(np.int8).astype(np.int32), f16(b[:, 208:210])
        grp, l = (E % 128) // 32, E % 32
        lo = (ql[:, 64 * E_H + l + 32 * (grp & 1)] >> (4 * (grp >> 1))) & 15
        hi = (qh[:, 32 * E_H + l] >> (2 * grp)) & 3
        return (d * sc[:, E // 16] * ((lo | (hi << 4)) - 32)).ravel()
    raise ValueError(name)

# ---- the test -------------------------------------------------------------------------------

# Relative RMSE bounds on Gaussian weights (1.5x the uniform-data bounds of the unit tests).
BOUND = {"Q4_0": 0.12, "Q4_1": 0.12, "Q5_0": 0.06, "Q5_1": 0.06, "Q8_0": 0.0075, "Q2_K": 0.405,
         "Q3_K": 0.21, "Q4_K": 0.105, "Q5_K": 0.053, "Q6_K": 0.026, "F16": 1e-3, "BF16": 8e-3}
# target name -> ggml type id of its base type
FTYPE_DTYPE = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11,
               "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "F16": 1, "BF16": 30, "Q4_K_M": 12}
FTYPE = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "Q8_0": 7, "Q2_K": 10, "Q3_K": 11,
         "Q4_K": 14, "Q5_K": 16, "Q6_K": 18, "F16": 1, "BF16": 32, "Q4_K_M": 15}


def check(src_path, target, failures):
    """Quantizes src_path to target and checks the result; appends problems to failures."""
    before = len(failures)
    out = os.path.join(TMP, f"e2e_quant_{os.path.basename(src_path)}_{target}.gguf")
    p = subprocess.run([BIN, "quantize", src_path, out, target, "--threads", "2"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        failures.append(f"{target}: exit {p.returncode}: {p.stderr}")
        return
    skv, src = read_gguf(src_path)
    okv, dst = read_gguf(out)
    for k, v in skv.items():
        if k != "general.file_type" and okv.get(k) != v:
            failures.append(f"{target}: metadata {k} changed")
    if okv.get("general.file_type", (0, None))[1] != FTYPE[target]:
        failures.append(f"{target}: general.file_type {okv.get('general.file_type')}")
    worst = 0.0
    for name, (dims, t, raw) in src.items():
        ddims, dt, draw = dst[name]
        if ddims != dims:
            failures.append(f"{target}: {name} dims {ddims}")
            continue
        if len(dims) < 2 or not name.endswith(".weight"):
            if (dt, draw) != (t, raw):
                failures.append(f"{target}: {name} not copied unchanged")
            continue
        tname = TYPES[dt][0]
        if target in BOUND and dims[0] % TYPES[FTYPE_DTYPE[target]][1] == 0 and tname != target:
            failures.append(f"{target}: {name} stored as {tname}")
        n = int(np.prod(dims))
        x, y = deq(t, raw, n), deq(dt, draw, n)
        rel = float(np.sqrt(np.mean((x - y) ** 2) / np.mean(x ** 2)))
        worst = max(worst, rel / BOUND[tname])
        if rel > BOUND[tname]:
            failures.append(f"{target}: {name} as {tname}: rel rmse {rel:.4f} > {BOUND[tname]}")
    status = "ok" if len(failures) == before else "FAILED"
    print(f"  {target:<6} {os.path.basename(src_path):<24} {status} (worst error {worst:.2f} of bound)")


def main():
    if not BIN or not os.path.exists(BIN):
        print("SKIP: LM_BIN not set or missing")
        return 77
    os.makedirs(TMP, exist_ok=True)
    rng = np.random.default_rng(1)
    synth = [("token_embd.weight", rng.normal(0, 0.02, (16, 512))),
             ("output_norm.weight", rng.normal(1, 0.1, (1, 512))[0]),
             ("blk.0.attn_v.weight", rng.normal(0, 0.02, (8, 512))),
             ("blk.0.ffn_down.weight", rng.standard_t(4, (4, 1024)) * 0.02),
             ("output.weight", rng.normal(0, 0.05, (16, 512)))]
    synth_path = os.path.join(TMP, "e2e_quant_synth_f32.gguf")
    write_gguf(synth_path, {"general.architecture": "llama", "general.name": "synth"}, synth)
    sources = [synth_path]
    stories = os.path.join(FIXTURES, "models", "stories260K.gguf")
    if os.path.exists(stories):
        sources.append(stories)
    else:
        print("note: ../shared/fixtures absent; stories260K part skipped")
    failures = []
    for src in sources:
        for target in FTYPE:
            check(src, target, failures)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
