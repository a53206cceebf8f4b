#!/usr/bin/env python3
"""Runs an exported demo GGUF in PyTorch (read back with gguf_io's reader) to check the export.

Rebuilds the model config and the tokenizer from the GGUF metadata alone, loads the tensors, and
prints greedy and sampled continuations (BOS prepended, as the engine does). With --ckpt it also
compares the GGUF model's logits with the training checkpoint's.

Usage: generate.py --model models/demo.gguf [--prompt "Once upon a time"] [-n 120]
       [--temp 0.8] [--top-k 40] [--seed 1] [--samples 2] [--ckpt run/ckpt.pt]
"""
import argparse

import numpy as np
import torch

import gguf_io as g
from export_gguf import gguf_name
from model import Config, Llama
from tokenizer import Tokenizer


def load_gguf_model(path):
    meta, tensors = g.read_gguf(path)
    if meta.get("general.architecture") != "llama":
        raise SystemExit(f"{path}: architecture {meta.get('general.architecture')!r}, want llama")
    tied = "output.weight" not in tensors
    cfg = Config(n_vocab=len(meta["tokenizer.ggml.tokens"]),
                 n_embd=meta["llama.embedding_length"], n_layer=meta["llama.block_count"],
                 n_head=meta["llama.attention.head_count"],
                 n_head_kv=meta["llama.attention.head_count_kv"],
                 n_ff=meta["llama.feed_forward_length"], n_ctx=meta["llama.context_length"],
                 norm_eps=meta["llama.attention.layer_norm_rms_epsilon"],
                 rope_theta=meta["llama.rope.freq_base"], tied=tied)
    model = Llama(cfg)
    state = {}
    for pname, p in model.state_dict().items():
        arr = tensors[gguf_name(pname)]
        if tuple(arr.shape) != tuple(p.shape):
            raise SystemExit(f"{gguf_name(pname)}: shape {arr.shape}, model wants {tuple(p.shape)}")
        state[pname] = torch.from_numpy(arr.astype(np.float32))
    model.load_state_dict(state)
    model.eval()
    tok = Tokenizer({"tokens": meta["tokenizer.ggml.tokens"],
                     "scores": meta["tokenizer.ggml.scores"],
                     "token_types": meta["tokenizer.ggml.token_type"]})
    return model, tok, meta


@torch.no_grad()
def generate(model, ids, n_new, eos, temp=0.0, top_k=0, gen=None):
    """Appends up to n_new tokens to ids (list); temp 0 = greedy. Stops at EOS."""
    ids = list(ids)
    n_ctx = model.cfg.n_ctx
    for _ in range(n_new):
        logits = model(torch.tensor([ids[-n_ctx:]]))[0, -1]
        if temp <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temp
            if top_k > 0:
                kth = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))
        if nxt == eos:
            break
        ids.append(nxt)
    return ids


def compare_ckpt(model, ckpt_path, ids):
    ckpt = torch.load(ckpt_path, map_location="cpu")
    ref = Llama(Config(**ckpt["config"]))
    ref.load_state_dict(ckpt["model"])
    ref.eval()
    with torch.no_grad():
        diff = (model(torch.tensor([ids])) - ref(torch.tensor([ids]))).abs().max().item()
    print(f"max |logit diff| GGUF vs checkpoint: {diff:.3g}")
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", action="append")
    ap.add_argument("-n", type=int, default=120)
    ap.add_argument("--temp", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--ckpt")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok, meta = load_gguf_model(args.model)
    bos, eos = meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"]
    gen = torch.Generator().manual_seed(args.seed)
    for prompt in args.prompt or ["Once upon a time"]:
        ids = [bos] + tok.encode(prompt)
        print(f"prompt {prompt!r} -> tokens {ids}")
        if args.ckpt:
            compare_ckpt(model, args.ckpt, ids)
        print("greedy:", tok.decode(generate(model, ids, args.n, eos)[1:]))
        for i in range(args.samples):
            out = generate(model, ids, args.n, eos, args.temp, args.top_k, gen)
            print(f"sample {i + 1} (temp {args.temp}, top-k {args.top_k}):", tok.decode(out[1:]))


if __name__ == "__main__":
    main()
