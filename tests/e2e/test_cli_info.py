#!/usr/bin/env python3
"""End-to-end test of `localmax info` (env LM_BIN: the localmax binary).

Writes a small valid GGUF file with tests/reference/gguf_write.py (from the format description,
not the C++ Writer), checks that `info` prints its metadata and tensors, then
checks that a few corrupt variants make `info` exit 1 with an "error:" line naming the problem,
never a signal. Exit code 77 = skipped.
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from gguf_write import (DT_F16, DT_F32, DT_Q8_0, GGUF_MAGIC, T_ARRAY, T_BOOL, T_F32,  # noqa: E402
                        T_F64, T_I32, T_STRING, T_U16, T_U32, T_U64, gguf_file, gguf_string)

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
