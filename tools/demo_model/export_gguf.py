#!/usr/bin/env python3
"""Exports a train.py checkpoint and its tokenizer to a GGUF v3 llama model.

Tensor names follow the GGUF llama convention (token_embd.weight, blk.N.attn_q.weight, ...,
output_norm.weight; output.weight only when the embedding is untied). A torch Linear weight
[out, in] is stored row-major, so its GGUF dims are [in, out] (ne[0] = in). The model was trained
with adjacent-pair RoPE (model.py), which is what the GGUF llama convention applies, so Q and K are
written unchanged: no rotate_half permutation.

Usage: export_gguf.py --ckpt run/ckpt.pt --tokenizer tokenizer.json --out models/demo.gguf [--f16]
"""
import argparse
import json

import numpy as np
import torch

import gguf_io as g

TENSOR_NAMES = {  # model.py parameter suffix -> GGUF tensor name suffix
    "attn_norm.weight": "attn_norm.weight", "wq.weight": "attn_q.weight",
    "wk.weight": "attn_k.weight", "wv.weight": "attn_v.weight", "wo.weight": "attn_output.weight",
    "ffn_norm.weight": "ffn_norm.weight", "w_gate.weight": "ffn_gate.weight",
    "w_up.weight": "ffn_up.weight", "w_down.weight": "ffn_down.weight",
}


def gguf_name(pname):
    if pname == "tok_embd.weight":
        return "token_embd.weight"
    if pname == "norm.weight":
        return "output_norm.weight"
    if pname == "output.weight":
        return "output.weight"
    _, il, rest = pname.split(".", 2)  # blocks.<il>.<rest>
    return f"blk.{il}.{TENSOR_NAMES[rest]}"


def add_metadata(w, cfg, vocab, f16):
    w.add("general.architecture", g.STRING, "llama")
    w.add("general.name", g.STRING, "localmax-demo")
    w.add("general.description", g.STRING,
          "Tiny Llama trained on a procedurally generated story corpus (tools/demo_model)")
    w.add("general.file_type", g.U32, 1 if f16 else 0)  # 0 = all F32, 1 = mostly F16
    w.add("general.alignment", g.U32, g.ALIGNMENT)
    w.add("llama.context_length", g.U32, cfg["n_ctx"])
    w.add("llama.embedding_length", g.U32, cfg["n_embd"])
    w.add("llama.block_count", g.U32, cfg["n_layer"])
    w.add("llama.feed_forward_length", g.U32, cfg["n_ff"])
    w.add("llama.attention.head_count", g.U32, cfg["n_head"])
    w.add("llama.attention.head_count_kv", g.U32, cfg["n_head_kv"])
    w.add("llama.attention.layer_norm_rms_epsilon", g.F32, cfg["norm_eps"])
    w.add("llama.rope.freq_base", g.F32, cfg["rope_theta"])
    w.add("llama.rope.dimension_count", g.U32, cfg["n_embd"] // cfg["n_head"])
    w.add("llama.vocab_size", g.U32, len(vocab["tokens"]))
    w.add("tokenizer.ggml.model", g.STRING, "llama")
    w.add_array("tokenizer.ggml.tokens", g.STRING, vocab["tokens"])
    w.add_array("tokenizer.ggml.scores", g.F32, vocab["scores"])
    w.add_array("tokenizer.ggml.token_type", g.I32, vocab["token_types"])
    w.add("tokenizer.ggml.bos_token_id", g.U32, vocab["bos_id"])
    w.add("tokenizer.ggml.eos_token_id", g.U32, vocab["eos_id"])
    w.add("tokenizer.ggml.unknown_token_id", g.U32, vocab["unk_id"])
    w.add("tokenizer.ggml.add_bos_token", g.BOOL, True)
    w.add("tokenizer.ggml.add_eos_token", g.BOOL, False)
    w.add("tokenizer.ggml.add_space_prefix", g.BOOL, True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--f16", action="store_true", help="store 2-D weights as F16 (norms stay F32)")
    args = ap.parse_args()
    ckpt = torch.load(args.ckpt, map_location="cpu")
    cfg = ckpt["config"]
    with open(args.tokenizer, encoding="utf-8") as f:
        vocab = json.load(f)
    if len(vocab["tokens"]) != cfg["n_vocab"]:
        raise SystemExit(f"tokenizer has {len(vocab['tokens'])} pieces, model {cfg['n_vocab']}")
    w = g.GGUFWriter()
    add_metadata(w, cfg, vocab, args.f16)
    state = ckpt["model"]
    order = ["tok_embd.weight"] + [k for k in state if k.startswith("blocks.")] + ["norm.weight"]
    if "output.weight" in state:
        order.append("output.weight")
    for pname in order:
        arr = state[pname].float().numpy()
        if args.f16 and arr.ndim == 2:
            arr = arr.astype(np.float16)
        w.add_tensor(gguf_name(pname), arr)
    w.write(args.out)
    print(f"wrote {args.out}: {len(order)} tensors, step {ckpt['step']}, "
          f"train loss {ckpt['train_loss']:.4f}, val loss {ckpt['val_loss']:.4f}")


if __name__ == "__main__":
    main()
