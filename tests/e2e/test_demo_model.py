#!/usr/bin/env python3
"""Checks the shipped demo model: models/demo.gguf matches the sha256 in models/README.md, and its
GGUF metadata, vocabulary layout and tensor table are what tools/demo_model/export_gguf.py writes
for a Llama model. Reads it with tests/reference/gguf_read.py (independent of the exporter's reader).

Env: LM_SOURCE_DIR (project root; default: two folders up), LM_BIN (localmax binary; optional:
when present, `localmax info` must also accept the file).
"""
import hashlib
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.environ.get("LM_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "models", "demo.gguf")
README = os.path.join(ROOT, "models", "README.md")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from gguf_read import GGUFFile  # noqa: E402
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg)


def parse(path):
    """-> (version, metadata with arrays as lists, {name: (dims, ggml type, offset)}, data offset)."""
    f = GGUFFile(path, strict_utf8=True)
    meta = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in f.metadata.items()}
    tensors = {name: (t.dims, t.type_id, t.offset) for name, t in f.tensors.items()}
    return f.version, meta, tensors, f.data_offset


def expected_tensors(meta):
    n_embd, n_ff = meta["llama.embedding_length"], meta["llama.feed_forward_length"]
    n_head, n_head_kv = meta["llama.attention.head_count"], meta["llama.attention.head_count_kv"]
    head_dim, n_vocab = n_embd // n_head, len(meta["tokenizer.ggml.tokens"])
    want = {"token_embd.weight": [n_embd, n_vocab], "output_norm.weight": [n_embd]}
    for il in range(meta["llama.block_count"]):
        want.update({
            f"blk.{il}.attn_norm.weight": [n_embd], f"blk.{il}.ffn_norm.weight": [n_embd],
            f"blk.{il}.attn_q.weight": [n_embd, n_head * head_dim],
            f"blk.{il}.attn_k.weight": [n_embd, n_head_kv * head_dim],
            f"blk.{il}.attn_v.weight": [n_embd, n_head_kv * head_dim],
            f"blk.{il}.attn_output.weight": [n_head * head_dim, n_embd],
            f"blk.{il}.ffn_gate.weight": [n_embd, n_ff], f"blk.{il}.ffn_up.weight": [n_embd, n_ff],
            f"blk.{il}.ffn_down.weight": [n_ff, n_embd]})
    return want


def check_vocab(meta):
    toks, scores = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"]
    types = meta["tokenizer.ggml.token_type"]
    check(len(toks) == len(scores) == len(types) == meta.get("llama.vocab_size", len(toks)),
          "tokens/scores/token_type lengths differ")
    check(toks[:3] == ["<unk>", "<s>", "</s>"] and types[:3] == [2, 3, 3], "special pieces 0..2")
    check(toks[3:259] == [f"<0x{b:02X}>" for b in range(256)] and set(types[3:259]) == {6},
          "byte pieces <0x00>..<0xFF> must be ids 3..258 with type 6")
    check(set(types[259:]) == {1}, "pieces after the bytes must all be normal (type 1)")
    check(len(set(toks)) == len(toks), "duplicate pieces")
    check(all(a > b for a, b in zip(scores[259:], scores[260:])), "scores must fall with rank")
    check("\u2581" in toks and "\u2581the" in toks, "space pieces use U+2581")
    for k, v in (("bos_token_id", 1), ("eos_token_id", 2), ("unknown_token_id", 0)):
        check(meta.get("tokenizer.ggml." + k) == v, f"tokenizer.ggml.{k} must be {v}")
    for k in ("add_bos_token", "add_space_prefix"):
        check(meta.get("tokenizer.ggml." + k) is True, f"tokenizer.ggml.{k} must be true")
    check(meta.get("tokenizer.ggml.model") == "llama", "tokenizer.ggml.model must be llama")


def check_model(path, file_size):
    try:
        version, meta, tensors, data_start = parse(path)
    except ValueError as e:  # bad header, unknown tensor type, tensor data past the end, ...
        check(False, f"GGUF parse: {e}")
        return
    check(version == 3, f"GGUF version {version}, expected 3")
    check(meta.get("general.architecture") == "llama", "general.architecture must be llama")
    check(meta.get("general.name") == "localmax-demo", "general.name must be localmax-demo")
    for k in ("context_length", "embedding_length", "block_count", "feed_forward_length",
              "attention.head_count", "attention.head_count_kv"):
        check(isinstance(meta.get("llama." + k), int) and meta["llama." + k] > 0, f"llama.{k}")
    n_embd, n_head = meta["llama.embedding_length"], meta["llama.attention.head_count"]
    check(n_embd % n_head == 0 and n_head % meta["llama.attention.head_count_kv"] == 0, "head dims")
    check(meta.get("llama.rope.dimension_count") == n_embd // n_head, "rope.dimension_count")
    check(abs(meta.get("llama.attention.layer_norm_rms_epsilon", 0) - 1e-5) < 1e-9, "rms eps 1e-5")
    check(meta.get("llama.rope.freq_base") == 10000.0, "rope.freq_base 10000")
    check_vocab(meta)
    want = expected_tensors(meta)
    extra = set(tensors) - set(want) - {"output.weight"}
    check(not extra and set(want) <= set(tensors), f"tensor names: missing "
          f"{sorted(set(want) - set(tensors))[:5]}, unexpected {sorted(extra)[:5]}")
    end = data_start
    for name, (dims, dtype, off) in tensors.items():
        check(name not in want or dims == want[name], f"{name}: dims {dims}, want {want.get(name)}")
        check(dtype in (0, 1) and (dtype == 0 or len(dims) == 2), f"{name}: dtype {dtype}")
        check(off % 32 == 0, f"{name}: offset {off} not aligned")
        n = 1
        for d in dims:
            n *= d
        end = max(end, data_start + off + n * (4 if dtype == 0 else 2))
    check(end <= file_size, f"tensor data ends at {end}, past the file size {file_size}")
    if "output.weight" in tensors:
        check(tensors["output.weight"][0] == want["token_embd.weight"], "output.weight dims")


def main():
    if not os.path.exists(MODEL):
        print(f"FAIL: {MODEL} is missing")
        return 1
    with open(MODEL, "rb") as f:
        buf = f.read()
    with open(README, encoding="utf-8") as f:
        m = re.search(r"sha256:\s*`?([0-9a-f]{64})", f.read())
    check(m is not None, "models/README.md has no line 'sha256: `<hex>`'")
    digest = hashlib.sha256(buf).hexdigest()
    check(m is None or m.group(1) == digest, f"sha256 {digest} differs from models/README.md")
    check(len(buf) < 8 * 1024 * 1024, f"demo.gguf is {len(buf)} bytes, over 8 MiB")
    check_model(MODEL, len(buf))
    lm_bin = os.environ.get("LM_BIN")
    if lm_bin and os.path.exists(lm_bin):
        res = subprocess.run([lm_bin, "info", MODEL], capture_output=True, text=True, timeout=60)
        check(res.returncode == 0 and "localmax-demo" in res.stdout,
              f"`localmax info` rc {res.returncode}: {res.stderr[-300:]}")
    else:
        print("note: LM_BIN not set or missing; skipped the `localmax info` check")
    print("OK" if not FAILURES else f"{len(FAILURES)} check(s) failed")
    return 0 if not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())
