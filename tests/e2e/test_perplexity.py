"""`localmax perplexity` against an independent computation: the same token ids (from
`localmax tokenize`) scored by the PyTorch reference with llama-perplexity's chunking, written here
from its description: chunks of n_ctx tokens (remainder dropped), first token of each chunk replaced
by BOS, logits at positions n_ctx/2 .. n_ctx-2 predict the next token, PPL = exp(mean NLL)."""
import json
import math
import os
import random
import sys

from lmtest import check, finish, fixture, run, tmpdir

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

model_path = fixture("models/stories260K.gguf")
try:
    import torch
    from torch_model import Model
except ImportError:
    from lmtest import skip
    skip("torch is not installed for this interpreter (use /usr/bin/python3)")

# A text of simple sentences (seeded), long enough for several chunks.
rng = random.Random(1234)
names = ["Lily", "Tom", "Sue", "Ben", "Max", "Anna"]
things = ["ball", "kite", "cat", "tree", "box", "cake"]
sentences = []
for _ in range(80):
    n, t = rng.choice(names), rng.choice(things)
    sentences.append(rng.choice([
        f"{n} had a big {t}.", f"One day, {n} saw a red {t} in the park.",
        f"{n} was very happy and said, \"I love my {t}!\"", f"Then {n} went home to play with the {t}."]))
text = " ".join(sentences)
d = tmpdir("perplexity")
text_path = os.path.join(d, "text.txt")
with open(text_path, "w") as f:
    f.write(text)

n_ctx, n_chunks = 64, 4
out = json.loads(run("perplexity", "-m", model_path, "-f", text_path, "-c", n_ctx, "--chunks", n_chunks,
                     "--json", "-b", 24).stdout)
tokens = json.loads(run("tokenize", "-m", model_path, "-f", text_path, "--json").stdout)
check(out["n_tokens"] == len(tokens), f"n_tokens {out['n_tokens']} equals the tokenizer's {len(tokens)}")
check(out["n_chunks"] == n_chunks and out["n_scored"] == n_chunks * (n_ctx - n_ctx // 2 - 1),
      f"scored positions: {out['n_scored']} predictions over {out['n_chunks']} chunks")

ref = Model(model_path)
bos = 1
nll, count, running = 0.0, 0, []
for c in range(n_chunks):
    chunk = tokens[c * n_ctx:(c + 1) * n_ctx]
    inp = [bos] + chunk[1:]
    logits = torch.as_tensor(ref.logits(inp), dtype=torch.float64)
    logp = torch.log_softmax(logits, dim=-1)
    for j in range(n_ctx // 2, n_ctx - 1):
        nll -= float(logp[j, chunk[j + 1]])
        count += 1
    running.append(math.exp(nll / count))
ppl = math.exp(nll / count)
rel = abs(out["perplexity"] - ppl) / ppl
check(rel < 1e-4, f"perplexity {out['perplexity']:.6f} vs reference {ppl:.6f} (relative {rel:.2e} < 1e-4)")
check(all(abs(a - b) / b < 1e-4 for a, b in zip(out["chunk_perplexity"], running)),
      "running perplexity after every chunk matches")

# Errors: too little text, missing file.
short = os.path.join(d, "short.txt")
with open(short, "w") as f:
    f.write("Once upon a time.")
e = run("perplexity", "-m", model_path, "-f", short, "-c", n_ctx, check=False)
check(e.returncode == 1 and "needs at least 128 tokens" in e.stderr, f"short text refused ({e.stderr.strip()!r})")
e = run("perplexity", "-m", model_path, "-f", os.path.join(d, "missing.txt"), check=False)
check(e.returncode == 1 and "cannot open" in e.stderr, "missing text file is a clear error")
e = run("perplexity", "-m", model_path, "-f", text_path, "-c", 4096, check=False)
check(e.returncode == 1 and "error:" in e.stderr, f"context above the model's is refused ({e.stderr.strip()!r})")
finish()
