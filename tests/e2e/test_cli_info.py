#!/usr/bin/env python3
"""End-to-end test of `localmax info` (env LM_BIN: the localmax binary).

Writes a small valid GGUF file with a tiny independent Python writer (from the format
description, not the C++ Writer), checks that `info` prints its metadata and tensors, then
checks that a few corrupt variants make `info` exit 1 with an "error:" line naming the problem,
never a signal. Exit code 77 = skipped.
"""
import os
import struct
import subprocess
import sys
import tempfile

GGUF_MAGIC = b"GGUF"
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY, T_U64, T_I64, T_F64 = range(13)
DT_F32, DT_F16, DT_Q8_0 = 0, 1, 8


def gguf_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, value):
    scalar = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
              T_F32: "<f", T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}
    if vtype in scalar:
        return struct.pack(scalar[vtype], value)
    if vtype == T_STRING:
        return gguf_string(value)
    elem_type, items = value
    out = struct.pack("<IQ", elem_type, len(items))
    return out + b"".join(gguf_value(elem_type, x) for x in items)


def gguf_file(kvs, tensors, version=3, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, dims, dtype, data bytes)]."""
    out = GGUF_MAGIC + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    offset, blobs = 0, []
    for name, dims, dtype, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", dtype, offset)
        pad = -len(data) % alignment
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    out += b"\0" * (-len(out) % alignment)
    return out + b"".join(blobs)


VALID_KVS = [
    ("general.architecture", T_STRING, "llama"),
    ("general.name", T_STRING, "tiny\ttest"),
    ("llama.block_count", T_U32, 2),
    ("llama.rope.freq_base", T_F32, 10000.0),
    ("llama.attention.layer_norm_rms_epsilon", T_F64, 1e-5),
    ("general.file_type", T_I32, -1),
    ("some.flag", T_BOOL, True),
    ("some.big", T_U64, 2**64 - 1),
    ("tokenizer.ggml.tokens", T_ARRAY, (T_STRING, ["<unk>", "<s>", "</s>", "hello"])),
    ("tokenizer.ggml.scores", T_ARRAY, (T_F32, [0.0, -1.5, 2.25])),
    ("nested", T_ARRAY, (T_ARRAY, [(T_U16, [1, 2]), (T_STRING, ["x"])])),
]
VALID_TENSORS = [
    ("token_embd.weight", [4, 3], DT_F32, struct.pack("<12f", *range(12))),
    ("output_norm.weight", [4], DT_F16, b"\0\x3c" * 4),
    ("blk.0.ffn_up.weight", [32, 2], DT_Q8_0, b"\1" * 68),
]


def run_info(lm_bin, path, *extra):
    return subprocess.run([lm_bin, "info", path, *extra], capture_output=True, text=True,
                          errors="replace", timeout=60)


def check_valid(lm_bin, tmp, failures):
    for version in (2, 3):
        path = os.path.join(tmp, f"valid_v{version}.gguf")
        with open(path, "wb") as f:
            f.write(gguf_file(VALID_KVS, VALID_TENSORS, version=version))
        r = run_info(lm_bin, path)
        if r.returncode != 0:
            failures.append(f"valid v{version}: exit {r.returncode}: {r.stderr.strip()}")
            continue
        expected = [
            f"version:    GGUF v{version}",
            "metadata:   11 keys",
            '"llama"',
            '"tiny\\x09test"',          # control characters are escaped
            "llama.block_count", " 2\n",
            "10000",
            "1e-05",
            "-1",
            "true",
            "18446744073709551615",   # u64 printed unsigned
            '[4 x string] ["<unk>", "<s>", "</s>", "hello"]',
            "[3 x f32] [0, -1.5, 2.25]",
            '[2 x array] [[2 x u16] [1, 2], [1 x string] ["x"]]',
            "tensors:    3 (",
            "token_embd.weight", "[4, 3]", "48 bytes",
            "output_norm.weight", "F16",
            "blk.0.ffn_up.weight", "Q8_0", "[32, 2]", "68 bytes",
        ]
        for e in expected:
            if e not in r.stdout:
                failures.append(f"valid v{version}: {e!r} not in output:\n{r.stdout}")


def corrupt_cases():
    """(name, bytes, substrings the error must contain)."""
    valid = gguf_file(VALID_KVS, VALID_TENSORS)
    header = GGUF_MAGIC + struct.pack("<IQQ", 3, 0, 1)
    one_tensor = GGUF_MAGIC + struct.pack("<IQQ", 3, 1, 0) + gguf_string("t")
    return [
        ("empty", b"", ["truncated at byte 0"]),
        ("bad magic", b"GGML" + valid[4:], ["not a GGUF file"]),
        ("version 1", GGUF_MAGIC + struct.pack("<IQQ", 1, 0, 0), ["version 1 is obsolete"]),
        ("version 7", GGUF_MAGIC + struct.pack("<IQQ", 7, 0, 0), ["unsupported GGUF version 7 at byte 4"]),
        ("big-endian", GGUF_MAGIC + struct.pack(">IQQ", 3, 0, 0), ["big-endian"]),
        ("truncated in metadata", valid[:100], ["byte"]),
        ("truncated in tensor data", valid[:len(valid) - 100], ["extends past the end of the file"]),
        ("huge metadata count", GGUF_MAGIC + struct.pack("<IQQ", 3, 0, 2**62), ["metadata count", "impossible"]),
        ("string past EOF", header + gguf_string("k") + struct.pack("<IQ", T_STRING, 2**64 - 1),
         ["claims length 18446744073709551615"]),
        ("invalid value type", header + gguf_string("k") + struct.pack("<I", 99) + b"\0" * 8,
         ["invalid value type 99 at byte 33"]),
        ("alignment not a power of two", header + gguf_string("general.alignment") + struct.pack("<II", T_U32, 48),
         ["general.alignment 48 is not a power of two"]),
        ("5 dims", one_tensor + struct.pack("<I", 5) + b"\0" * 64, ["5 dimensions at byte"]),
        ("removed type 4", one_tensor + struct.pack("<IQIQ", 1, 32, 4, 0) + b"\0" * 64,
         ["unknown tensor type id 4 at byte"]),
        ("element count overflow", one_tensor + struct.pack("<IQQIQ", 2, 2**32, 2**32, 0, 0) + b"\0" * 64,
         ["element count overflows"]),
    ]


def check_corrupt(lm_bin, tmp, failures):
    for i, (name, data, expect) in enumerate(corrupt_cases()):
        path = os.path.join(tmp, f"corrupt_{i}.gguf")
        with open(path, "wb") as f:
            f.write(data)
        r = run_info(lm_bin, path)
        if r.returncode < 0:
            failures.append(f"{name}: killed by signal {-r.returncode}\n{r.stderr}")
            continue
        if r.returncode != 1:
            failures.append(f"{name}: exit {r.returncode}, expected 1\n{r.stdout}{r.stderr}")
            continue
        lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
        if len(lines) != 1 or path not in lines[0]:
            failures.append(f"{name}: expected one 'error: {path}: ...' line, got:\n{r.stderr}")
            continue
        for e in expect:
            if e not in lines[0]:
                failures.append(f"{name}: {e!r} not in {lines[0]!r}")
    # Not a file at all.
    r = run_info(lm_bin, os.path.join(tmp, "missing.gguf"))
    if r.returncode != 1 or "error: cannot open" not in r.stderr:
        failures.append(f"missing file: exit {r.returncode}: {r.stderr}")


def main():
    lm_bin = os.environ.get("LM_BIN")
    if not lm_bin or not os.access(lm_bin, os.X_OK):
        print(f"skip: LM_BIN ({lm_bin}) is not an executable localmax binary")
        return 77
    failures = []
    tmp_root = os.environ.get("LM_TEST_TMP")
    if tmp_root:
        os.makedirs(tmp_root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        check_valid(lm_bin, tmp, failures)
        check_corrupt(lm_bin, tmp, failures)
    for f in failures:
        print("FAIL:", f)
    print(f"{'FAILED' if failures else 'OK'}: test_cli_info ({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
