"""Engine vs independent PyTorch reference, on random models from `localmax gen-model`.

For the real stories260K model (F32, when the fixtures are present) and for llama, qwen2 and
qwen3 (GQA, MHA, tied and untied output, Llama 3.1 rope_freqs factors, q/k/v biases, q/k RMSNorm,
head_dim != n_embd / n_head), in F32, F16, BF16 and (through `localmax quantize`) Q8_0, Q4_0 and
Q4_K (plus Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, Q6_K on one model), and for one-layer F16
models with the real shapes of the llama3.2-1b, qwen2.5-0.5b and qwen3-0.6b presets, it runs
`localmax logits` on a 24-token prompt and compares every position with tests/reference/
torch_model.py run in float64 on the weights the file holds (dequantized by dequant.py).

Error measure, per position p:   err[p] = max_v |engine[p, v] - ref[p, v]| / max_v |ref[p, v]|
Float types pass when max_p err[p] <= BOUNDS[type]. Quantized types are checked twice:
  1. against the plain reference (float activations): max_p err[p] <= QUANT_BOUND;
  2. against the reference that also rounds activations to 8-bit blocks as the engine's integer
     dot products do (torch_model act_quant=True): min_p err[p] <= EMULATED_MIN_BOUND.
See the comments on the bounds for the measurements behind them.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

# Bounds for float weights. The reference runs in float64 on exactly the weights of the file,
# so what is left is the engine's own arithmetic:
# - F32: float32 accumulation only; measured <= 1e-6 on every case, bound 1e-4 (the brief's).
# - F16 / BF16: the weights are exact in float32; the current engine widens them and measures
#   <= 1e-6 too. The bounds leave room for an engine that rounds activations to the weight type
#   before the dot product (as ggml does): one rounding step, 2^-11 for F16 and 2^-8 for BF16,
#   gives 1e-3 and 1e-2; a wrong conversion or layout gives errors of order 1.
BOUNDS = {"F32": 1e-4, "F16": 1e-3, "BF16": 1e-2}

# Quantized weights, check 1 (plain reference). The engine rounds every matmul input to 8-bit
# blocks (a step of max|x| / 127 per block); measured over 3 archs x 10 types x 3 seeds this
# gives 2.2e-2 .. 4.4e-2 (0.1 - 0.3 absolute on logits of stddev 2). Bound: 8e-2, about 2x the
# worst measured; a wrong layout or kernel gives errors of order 1.
QUANT_BOUND = 8e-2
# Check 2 (reference emulating the activation rounding): the engine then agrees to 1e-7 .. 5e-7
# (float32 arithmetic only) until the first value that float32 and float64 put on different
# sides of a rounding boundary; that one-step difference moves its own position and, through the
# KV cache, later ones, by up to ~2e-2. Measured: such flips are chaotic (perturbing the weights
# by 1e-7 in the reference alone moves the median error from 1e-7 to 1.5e-2 in 1 of 10 files),
# and they hit a few cases at some positions, never the best-agreeing one. A kernel error (a
# wrong block layout, scale or Q8_1 sum term) moves every position, so the check uses the best
# position: min_p err[p] <= 1e-5 (worst measured min: 2e-7; the wrong Q8_1 sum term gives 1e-2).
EMULATED_MIN_BOUND = 1e-5
QUANT_TYPES = ["Q8_0", "Q4_0", "Q4_K"]
REAL_SHAPE_PRESETS = ["llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b"]
EXTRA_QUANT_TYPES = ["Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q5_K", "Q6_K"]  # first model only

N_PROMPT = 24

# (label, arch, gen-model flags, features). Dims are multiples of 256 for the K-quants. The
# features name the conventions the model exercises; for F32 the test checks that breaking each of
# them in the reference moves it far away from the engine (so the case really tests it).
MODELS = [
    ("llama-gqa-untied-llama3rope", "llama",
     ["--n-embd", "256", "--n-layer", "2", "--n-head", "8", "--n-head-kv", "2", "--n-ff", "512",
      "--rope-theta", "500000", "--llama3-rope", "--untied"], ["rope_pairs", "rope_freqs", "untied"]),
    ("llama-mha-tied", "llama",
     ["--n-embd", "256", "--n-layer", "2", "--n-head", "4", "--n-head-kv", "4", "--n-ff", "768",
      "--tied"], ["rope_pairs"]),
    ("qwen2-gqa-bias-tied", "qwen2",
     ["--n-embd", "256", "--n-layer", "2", "--n-head", "4", "--n-head-kv", "2", "--n-ff", "512",
      "--tied"], ["rope_pairs", "bias"]),
    ("qwen3-qknorm-hd128-untied", "qwen3",
     ["--n-embd", "256", "--n-layer", "2", "--n-head", "4", "--n-head-kv", "2", "--head-dim", "128",
      "--n-ff", "512", "--untied"], ["rope_pairs", "qk_norm", "untied"]),
]


def break_feature(model, feature):
    """Makes the reference deliberately wrong in one convention (sensitivity check)."""
    if feature == "rope_pairs":
        model.neox = not model.neox
    elif feature == "rope_freqs":
        del model.w["rope_freqs.weight"]
    elif feature == "untied":
        model.output = model.w["token_embd.weight"]
    else:
        suffixes = {"bias": (".bias",), "qk_norm": ("attn_q_norm.weight", "attn_k_norm.weight")}[feature]
        for k in [k for k in model.w if k.endswith(suffixes)]:
            del model.w[k]


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def engine_logits(np, lm_bin, model, tokens, n_vocab, tmp):
    out = os.path.join(tmp, "logits.f32")
    r = run([lm_bin, "logits", "-m", model, "--tokens", " ".join(map(str, tokens)), "--out", out])
    if r.returncode != 0:
        raise RuntimeError(f"localmax logits failed ({r.returncode}): {r.stdout.strip()}")
    data = np.fromfile(out, dtype="<f4")
    if data.size != len(tokens) * n_vocab:
        raise RuntimeError(f"logits file has {data.size} floats, expected {len(tokens)} x {n_vocab}")
    return data.reshape(len(tokens), n_vocab).astype(np.float64)


def rel_errors(np, got, ref):
    """Per position p: max_v |got[p] - ref[p]| / max_v |ref[p]|."""
    return np.abs(got - ref).max(axis=1) / np.abs(ref).max(axis=1)


def make_models(lm_bin, tmp):
    """Yields (label, type, path, error) for every case; gen-model / quantize failures are errors."""
    # A real trained model too (when the fixtures are there): weights unlike random ones.
    stories = os.path.join(os.environ.get("LM_FIXTURES_DIR", ""), "models", "stories260K.gguf")
    if os.environ.get("LM_FIXTURES_DIR") and os.path.exists(stories):
        yield "stories260K", "F32", stories, None
    else:
        print("note: fixtures absent, stories260K case skipped")
    # The real shapes of the presets (one layer, small vocabulary to stay fast), in F16.
    for preset in REAL_SHAPE_PRESETS:
        path = os.path.join(tmp, f"{preset}-1layer-F16.gguf")
        r = run([lm_bin, "gen-model", "--preset", preset, "--n-layer", "1", "--n-vocab", "1024",
                 "--type", "F16", "--seed", "5", "-o", path])
        yield (f"{preset}-1layer", "F16", path, None) if r.returncode == 0 else \
            (f"{preset}-1layer", "F16", None, f"gen-model failed: {r.stdout.strip()}")
    for i, (label, arch, flags, _) in enumerate(MODELS):
        for dtype in ("F32", "F16", "BF16"):
            path = os.path.join(tmp, f"{label}-{dtype}.gguf")
            r = run([lm_bin, "gen-model", "--arch", arch, *flags, "--type", dtype,
                     "--seed", str(100 + i), "-o", path])
            if r.returncode != 0:
                yield label, dtype, None, f"gen-model failed: {r.stdout.strip()}"
                continue
            yield label, dtype, path, None
        src = os.path.join(tmp, f"{label}-F32.gguf")
        for qtype in QUANT_TYPES + (EXTRA_QUANT_TYPES if i == 0 else []):
            path = os.path.join(tmp, f"{label}-{qtype}.gguf")
            r = run([lm_bin, "quantize", src, path, qtype])
            if r.returncode != 0:
                yield label, qtype, None, f"quantize failed: {r.stdout.strip()}"
                continue
            yield label, qtype, path, None


def sensitivity(np, Model, path, label, tokens, got):
    """Each feature of the model, broken in the reference, must move it > 10x the bound away."""
    features = next((m[3] for m in MODELS if m[0] == label), [])
    failures = []
    for feature in features:
        broken = Model(path)
        break_feature(broken, feature)
        err = float(rel_errors(np, got, broken.logits(tokens)).max())
        print(f"       without {feature:<10}: rel err {err:.3e} (must exceed {10 * BOUNDS['F32']:.0e})")
        if err <= 10 * BOUNDS["F32"]:
            failures.append(f"{label}: breaking {feature} in the reference changes too little ({err:.2e})")
    return failures


def compare(np, Model, lm_bin, label, dtype, path, tmp):
    """Runs one case; prints a line and returns the list of failures."""
    ref_model = Model(path)
    rng = np.random.default_rng(7)
    tokens = [1] + [int(t) for t in rng.integers(3, ref_model.n_vocab, N_PROMPT - 1)]
    ref = ref_model.logits(tokens)
    got = engine_logits(np, lm_bin, path, tokens, ref_model.n_vocab, tmp)
    err = rel_errors(np, got, ref)
    agree = float((got.argmax(1) == ref.argmax(1)).mean())
    failures = []
    if dtype in BOUNDS:
        ok = err.max() <= BOUNDS[dtype]
        detail = f"rel err {err.max():.3e} (bound {BOUNDS[dtype]:.0e})"
        if not ok:
            failures.append(f"{label} {dtype}: {err.max():.3e} > {BOUNDS[dtype]:.0e}")
    else:
        emu = rel_errors(np, got, Model(path, act_quant=True).logits(tokens))
        ok = err.max() <= QUANT_BOUND and emu.min() <= EMULATED_MIN_BOUND
        detail = (f"rel err {err.max():.3e} (bound {QUANT_BOUND:.0e}); with rounded activations: "
                  f"min {emu.min():.1e} (bound {EMULATED_MIN_BOUND:.0e}), median {np.median(emu):.1e}")
        if err.max() > QUANT_BOUND:
            failures.append(f"{label} {dtype}: {err.max():.3e} > {QUANT_BOUND:.0e}")
        if emu.min() > EMULATED_MIN_BOUND:
            failures.append(
                f"{label} {dtype}: no position matches the activation-rounding reference "
                f"(best {emu.min():.2e} > {EMULATED_MIN_BOUND:.0e}): a kernel differs from the "
                f"dequantized weights times 8-bit activations (or, rarely, a rounding flip hit "
                f"the first token; per-position errors: {' '.join(f'{e:.0e}' for e in emu)})")
    print(f"{'ok  ' if ok else 'FAIL'} {label:<28} {dtype:<5} {detail}  argmax agreement {agree:.2f}",
          flush=True)
    if dtype == "F32":
        failures += sensitivity(np, Model, path, label, tokens, got)
    return failures


def main():
    try:
        import numpy as np
        import torch  # noqa: F401
    except ImportError:
        print("SKIP: torch/numpy not importable (run with /usr/bin/python3)")
        return 77
    from torch_model import Model

    lm_bin = os.environ.get("LM_BIN") or os.path.join(HERE, "..", "..", "build", "bin", "localmax")
    if not os.path.exists(lm_bin):
        print(f"SKIP: {lm_bin} not built")
        return 77

    tmp_root = os.environ.get("LM_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(tmp_root, exist_ok=True)
    failures, compared = [], 0
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        for label, dtype, path, error in make_models(lm_bin, tmp):
            try:
                if error:
                    raise RuntimeError(error)
                failures += compare(np, Model, lm_bin, label, dtype, path, tmp)
                compared += 1
            except RuntimeError as e:
                print(f"FAIL {label:<28} {dtype:<5} {e}", flush=True)
                failures.append(f"{label} {dtype}: {e}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"OK: {compared} cases match the PyTorch reference")
    return 0 if compared else 1


if __name__ == "__main__":
    sys.exit(main())
