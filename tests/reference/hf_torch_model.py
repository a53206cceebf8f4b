"""Independent float64 PyTorch forward pass of Hugging Face Llama / Qwen2 / Qwen3 checkpoints
(a folder with config.json and model.safetensors or an index + shards).

Conventions implemented (those of the Hugging Face modeling code, NOT those of GGUF files; this
reference never sees a GGUF file, so comparing it with the engine on a converted model checks the
converter's names, layout and Q/K permutation):
- nn.Linear weights are [out_features, in_features]: y = x @ W.T (+ b for qwen2's q/k/v).
- RoPE in the rotate-half form: x * cos + rotate_half(x) * sin, with rotate_half(x) = (-x2, x1)
  for the halves x1, x2 of each head and cos/sin of the angles repeated over both halves.
  inv_freq[i] = theta^(-2i/head_dim); rope_scaling "linear" divides positions by the factor;
  "llama3" rescales inv_freq by wavelength (Llama 3.1): unchanged below
  original_max_position_embeddings / high_freq_factor, divided by factor above
  original_max_position_embeddings / low_freq_factor, interpolated in between.
- qwen3: q_norm / k_norm (RMSNorm over head_dim) on each head before RoPE.
- GQA (query head h uses kv head h // (n_head / n_kv)), causal softmax attention scaled by
  1/sqrt(head_dim), SwiGLU MLP, pre-norm RMSNorm, final norm, lm_head or the tied embedding.
The safetensors files are read with numpy (python3-torch in Debian has no safetensors module).
"""
import json
import math
import os
import struct

import numpy as np
import torch


def read_safetensors(path):
    """{name: float64 ndarray} of one .safetensors file (F32, F16, BF16)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        raw = data[begin:end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise ValueError(f"{path}: {name}: dtype {e['dtype']} not handled")
        out[name] = a.reshape(e["shape"])
    return out


def read_folder(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for name in files:
        w.update(read_safetensors(os.path.join(folder, name)))
    return w


class HFModel:
    def __init__(self, folder):
        cfg = json.load(open(os.path.join(folder, "config.json")))
        self.arch = cfg["architectures"][0]
        if self.arch not in ("LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"):
            raise ValueError(f"unsupported architecture {self.arch}")
        self.n_embd = cfg["hidden_size"]
        self.n_layer = cfg["num_hidden_layers"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads", self.n_head)
        self.head_dim = cfg.get("head_dim") or self.n_embd // self.n_head
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.scaling = cfg.get("rope_scaling")
        self.w = {k: torch.from_numpy(v) for k, v in read_folder(folder).items()}
        tied = cfg.get("tie_word_embeddings", False)
        self.lm_head = self.w["model.embed_tokens.weight"] if tied else self.w["lm_head.weight"]

    def inv_freq(self):
        d = self.head_dim
        inv = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        s = self.scaling
        if not s or s.get("rope_type", s.get("type")) in (None, "default", "linear"):
            return inv
        assert s.get("rope_type", s.get("type")) == "llama3"
        factor, lo, hi = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
        old = s["original_max_position_embeddings"]
        out = []
        for f in inv.tolist():
            wavelen = 2 * math.pi / f
            if wavelen < old / hi:
                out.append(f)
            elif wavelen > old / lo:
                out.append(f / factor)
            else:
                smooth = (old / wavelen - lo) / (hi - lo)
                out.append((1 - smooth) * f / factor + smooth * f)
        return torch.tensor(out, dtype=torch.float64)

    def rope(self, x, pos):
        """x: [n, heads, head_dim], rotate-half form."""
        p = pos.double()
        s = self.scaling
        if s and s.get("rope_type", s.get("type")) == "linear":
            p = p / s["factor"]
        ang = p[:, None] * self.inv_freq()[None, :]              # [n, head_dim/2]
        emb = torch.cat([ang, ang], dim=-1)[:, None, :]          # [n, 1, head_dim]
        half = self.head_dim // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * torch.cos(emb) + rotated * torch.sin(emb)

    def rms(self, x, weight):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * weight

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        if name + ".bias" in self.w:
            y = y + self.w[name + ".bias"]
        return y

    def attention(self, il, x, pos):
        p = f"model.layers.{il}.self_attn."
        n = x.shape[0]
        q = self.linear(x, p + "q_proj").view(n, self.n_head, self.head_dim)
        k = self.linear(x, p + "k_proj").view(n, self.n_kv, self.head_dim)
        v = self.linear(x, p + "v_proj").view(n, self.n_kv, self.head_dim)
        if p + "q_norm.weight" in self.w:
            q = self.rms(q, self.w[p + "q_norm.weight"])
            k = self.rms(k, self.w[p + "k_norm.weight"])
        q, k = self.rope(q, pos), self.rope(k, pos)
        rep = self.n_head // self.n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(self.head_dim)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        att = torch.softmax(scores.masked_fill(mask[None], float("-inf")), dim=-1)
        out = torch.einsum("hqk,khd->qhd", att, v).reshape(n, self.n_head * self.head_dim)
        return self.linear(out, p + "o_proj")

    def mlp(self, il, x):
        p = f"model.layers.{il}.mlp."
        return self.linear(torch.nn.functional.silu(self.linear(x, p + "gate_proj")) *
                           self.linear(x, p + "up_proj"), p + "down_proj")

    @torch.no_grad()
    def logits(self, tokens):
        """tokens: list of ids -> float64 ndarray [n_tokens, n_vocab]."""
        ids = torch.tensor(tokens, dtype=torch.long)
        pos = torch.arange(len(tokens))
        x = self.w["model.embed_tokens.weight"][ids]
        for il in range(self.n_layer):
            p = f"model.layers.{il}."
            x = x + self.attention(il, self.rms(x, self.w[p + "input_layernorm.weight"]), pos)
            x = x + self.mlp(il, self.rms(x, self.w[p + "post_attention_layernorm.weight"]))
        x = self.rms(x, self.w["model.norm.weight"])
        return (x @ self.lm_head.T).numpy()
