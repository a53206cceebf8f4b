#!/usr/bin/env python3
"""Checks tokenizer.py's SentencePiece-BPE encoder.

1. Against llama.cpp's test vectors for the real Llama-2 SentencePiece vocabulary
   (../shared/fixtures/tokenizer/ggml-vocab-llama-spm.gguf{,.inp,.out}; skipped when absent).
2. On a freshly trained small vocabulary: the per-word fast path equals the whole-text merge loop,
   decode(encode(x)) == x, and unknown characters fall back to byte pieces.

Usage: /usr/bin/python3 tools/demo_model/test_tokenizer.py   (exit 0 = pass)
"""
import os
import sys

import corpus
import gguf_io
import tokenizer as T

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "tokenizer",
                       "ggml-vocab-llama-spm.gguf")


def check_llama_vectors():
    if not os.path.exists(FIXTURE):
        print(f"skip: {FIXTURE} absent (needs ../shared/fixtures)")
        return 0
    meta, _ = gguf_io.read_gguf(FIXTURE)
    tok = T.Tokenizer({"tokens": meta["tokenizer.ggml.tokens"],
                       "scores": meta["tokenizer.ggml.scores"],
                       "token_types": meta["tokenizer.ggml.token_type"]})
    with open(FIXTURE + ".inp", encoding="utf-8") as f:
        texts = f.read().split("\n__ggml_vocab_test__\n")
    with open(FIXTURE + ".out", encoding="utf-8") as f:
        wants = f.read().split("\n")
    bad = 0
    for text, want in zip(texts, wants):
        got = tok.encode(text) if text else []  # llama.cpp encodes "" to nothing
        if got != [int(x) for x in want.split()]:
            bad += 1
            print(f"FAIL llama vector {text[:40]!r}: got {got[:10]} want {want[:60]}")
    print(f"llama-spm vectors: {len(texts) - bad}/{len(texts)} match")
    return bad


def check_demo_vocab():
    lines = corpus.generate(seed=7, n_stories=300)
    tok = T.Tokenizer(T.train(lines, 600))
    bad = 0
    assert tok.word_split_ok, "trained pieces must not hold U+2581 after their first character"
    for s in lines[:100] + ["Zoë saw a  big   dog!", "héllo wörld \u2603"]:
        ids = tok.encode(s)
        if ids != tok.encode_normalized(T.normalize(s)) or tok.decode(ids) != s:
            bad += 1
            print(f"FAIL round trip / fast path: {s[:60]!r}")
    snow = tok.encode("\u2603")  # not in the corpus: must be its three UTF-8 bytes
    want = [tok.byte_ids[b] for b in "\u2603".encode("utf-8")]
    if snow[-3:] != want:
        bad += 1
        print(f"FAIL byte fallback: {snow} want ...{want}")
    print(f"demo vocab checks: {'ok' if not bad else f'{bad} failed'}")
    return bad


if __name__ == "__main__":
    sys.exit(1 if check_llama_vectors() + check_demo_vocab() else 0)
