#!/usr/bin/env python3
"""Trains the demo Llama model on the generated corpus (CPU, one thread, seeded).

Each training window starts at the beginning of a random story (so position 0 is always <s>, as at
inference) and runs on for n_ctx + 1 tokens across the following stories ("<s> story </s> <s> ...").
The last 2% of stories are held out for the validation loss.

Writes <out>/ckpt.pt every --ckpt-every steps and at the end (model weights, config, step, losses),
so a cut run still yields an exportable model, and appends progress to <out>/train.log.

Usage: train.py --corpus corpus.txt --tokenizer tokenizer.json --out run/ --steps 3000 --seed 1234
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from model import Config, Llama
from tokenizer import Tokenizer


def load_data(corpus, tok, val_frac=0.02):
    with open(corpus, encoding="utf-8") as f:
        stories = [ln.rstrip("\n") for ln in f if ln.strip()]
    n_val = max(1, int(len(stories) * val_frac))
    splits = {}
    for name, part in (("train", stories[:-n_val]), ("val", stories[-n_val:])):
        ids, starts = [], []
        for s in part:
            starts.append(len(ids))
            ids += [1] + tok.encode(s) + [2]
        splits[name] = (torch.tensor(ids, dtype=torch.long), torch.tensor(starts, dtype=torch.long))
    return splits


def get_batch(split, batch, n_ctx, gen):
    ids, starts = split
    starts = starts[starts + n_ctx + 1 <= len(ids)]
    pick = starts[torch.randint(len(starts), (batch,), generator=gen)]
    rows = torch.stack([ids[s:s + n_ctx + 1] for s in pick.tolist()])
    return rows[:, :-1], rows[:, 1:]


@torch.no_grad()
def evaluate(model, split, batch, n_ctx, n_batches=8):
    gen = torch.Generator().manual_seed(999)  # the same validation windows every time
    model.eval()
    losses = []
    for _ in range(n_batches):
        x, y = get_batch(split, batch, n_ctx, gen)
        losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
    model.train()
    return sum(losses) / len(losses)


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def save(path, model, cfg, step, info):
    tmp = path + ".tmp"
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "step": step, **info}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--n-layer", type=int, default=5)
    ap.add_argument("--n-head", type=int, default=8)
    ap.add_argument("--n-head-kv", type=int, default=4)
    ap.add_argument("--n-ff", type=int, default=688)
    ap.add_argument("--n-ctx", type=int, default=256)
    ap.add_argument("--untied", action="store_true")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", help="start from this checkpoint's weights (a second training stage "
                    "with a fresh optimizer and LR schedule; model dims must match)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    tok = Tokenizer.load(args.tokenizer)
    data = load_data(args.corpus, tok)
    cfg = Config(n_vocab=len(tok.tokens), n_embd=args.n_embd, n_layer=args.n_layer,
                 n_head=args.n_head, n_head_kv=args.n_head_kv, n_ff=args.n_ff, n_ctx=args.n_ctx,
                 tied=not args.untied)
    model = Llama(cfg)
    if args.init:
        init = torch.load(args.init, map_location="cpu")
        if init["config"] != cfg.to_dict():
            raise SystemExit(f"--init {args.init}: config {init['config']} differs from {cfg}")
        model.load_state_dict(init["model"])
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    log = open(os.path.join(args.out, "train.log"), "a")

    def note(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    note(f"config {json.dumps(cfg.to_dict())} params {n_params} args {json.dumps(vars(args))}")
    note(f"train tokens {len(data['train'][0])} val tokens {len(data['val'][0])} "
         f"torch {torch.__version__} threads {torch.get_num_threads()}")
    ckpt = os.path.join(args.out, "ckpt.pt")
    t0, train_loss, val_loss = time.time(), float("nan"), float("nan")
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        x, y = get_batch(data["train"], args.batch, cfg.n_ctx, gen)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        train_loss = loss.item() if step == 0 else 0.95 * train_loss + 0.05 * loss.item()
        done = step + 1
        if done % args.eval_every == 0 or done == args.steps:
            val_loss = evaluate(model, data["val"], args.batch, cfg.n_ctx)
            el = time.time() - t0
            note(f"step {done} train {train_loss:.4f} val {val_loss:.4f} lr {lr_at(step, args):.2e} "
                 f"elapsed {el:.0f}s tok/s {done * args.batch * cfg.n_ctx / el:.0f}")
        if done % args.ckpt_every == 0 or done == args.steps:
            save(ckpt, model, cfg, done, {"train_loss": train_loss, "val_loss": val_loss,
                                          "seed": args.seed, "elapsed_s": time.time() - t0})
    note(f"done: {args.steps} steps, train {train_loss:.4f} val {val_loss:.4f}, "
         f"{time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
