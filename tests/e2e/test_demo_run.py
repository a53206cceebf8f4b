"""The demo model that ships in models/ runs end to end through `localmax run` (no -m), and the
engine's logits on it agree with the independent PyTorch reference."""
import json
import os
import re
import struct
import sys

from lmtest import SOURCE, check, finish, run, skip, tmpdir

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

demo = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(demo):
    skip("models/demo.gguf is absent")

# 1. The quick-start job: no -m runs the demo model; greedy output is simple English.
p = run("run", "-p", "Once upon a time", "-n", 48, "--temp", 0, "--echo")
text = p.stdout.strip()
words = re.findall(r"[A-Za-z']+", text)
check(text.startswith("Once upon a time") and len(words) >= 25,
      f"demo model continues the prompt with words ({text[:120]!r}...)")
check(re.fullmatch(r"[A-Za-z0-9 ,.!?'\"\n-]+", text) is not None, "output is plain English text")
q = run("run", "-p", "Once upon a time", "-n", 48, "--temp", 0, "--echo", "-t", 1)
check(q.stdout == p.stdout, "greedy output does not depend on the thread count")

# 2. Logits at every position equal the PyTorch reference on the same weights.
try:
    import numpy as np
    from torch_model import Model
except ImportError:
    print("note: torch is not available to this interpreter; reference comparison skipped")
    finish()
prompt = "Once upon a time, there was a little dog named Max. Max liked to play in the park."
tokens = json.loads(run("tokenize", "-m", demo, prompt, "--json").stdout)
out = os.path.join(tmpdir("demo_run"), "logits.bin")
run("logits", "-m", demo, "--tokens", " ".join(map(str, tokens)), "--out", out)
ref = Model(demo).logits(tokens)
got = np.fromfile(out, dtype="<f4").reshape(ref.shape)
# Relative error per position: max |engine - reference| / max |reference| (the engine runs float32
# activations over the file's weights; the reference float64 over the same weights).
rel = max(float(np.abs(got[i] - ref[i]).max() / np.abs(ref[i]).max()) for i in range(len(tokens)))
check(rel < 1e-4, f"demo logits match the reference at all {len(tokens)} positions (max relative {rel:.2e} < 1e-4)")
check(int((got.argmax(-1) == ref.argmax(-1)).sum()) == len(tokens), "same argmax at every position")
finish()
