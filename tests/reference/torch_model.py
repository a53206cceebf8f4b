"""Independent float64 PyTorch forward pass of llama / qwen2 / qwen3 GGUF models.

Conventions implemented (those of GGUF files, not of Hugging Face checkpoints):
- A GGUF matrix with dims [n_in, n_out] is stored as n_out rows of n_in; y = x @ W.T.
- llama: RoPE rotates ADJACENT pairs (2i, 2i+1) (converters permute q/k rows so);
  qwen2/qwen3: "NEOX" RoPE rotates the halves (i, i + head_dim/2).
- Frequencies theta_i = freq_base^(-2i/head_dim); with rope_freqs.weight (Llama 3.1 scaling) the
  frequency is divided by factor[i].
- qwen2: q/k/v projections have biases. qwen3: per-head RMSNorm of q and k (attn_q_norm /
  attn_k_norm, over head_dim) before RoPE.
- GQA: query head h reads kv head h // (n_head / n_head_kv). Causal softmax attention, scale
  1/sqrt(head_dim). SwiGLU FFN: down(silu(gate(x)) * up(x)). Pre-norm RMSNorm with eps from the
  file. Output: output.weight, or token_embd.weight when tied (no output.weight).
Weights are dequantized with dequant.py, so quantized files give the reference of the weights
they actually hold. With act_quant=True the reference also rounds the activations entering each
matmul with a quantized weight the way GGUF engines do before their integer dot products
(ggml's vec_dot types): Q4_0/Q5_0/Q8_0 weights take Q8_0 activations, Q4_1/Q5_1 take Q8_1 (both
blocks of 32, d = max|x| / 127, q = round(x / d), d stored as F16; Q8_1 also stores the block
sum s = F16(d * sum(q)), which multiplies the weight block's minimum), K-quants take Q8_K (blocks
of 256, d = max|x| / 127 kept in float32). This isolates the engine's remaining error; note that
the rounding is discontinuous, so a float32 engine can still differ by one step on rare values.
"""
import sys

import numpy as np
import torch

from dequant import block_mins, dequantize
from gguf_read import GGUFFile


# weight type -> (activation block size, scale stored as F16)
ACT_QUANT = {"Q4_0": (32, True), "Q5_0": (32, True), "Q8_0": (32, True), "Q4_1": (32, True),
             "Q5_1": (32, True), "Q2_K": (256, False), "Q3_K": (256, False), "Q4_K": (256, False),
             "Q5_K": (256, False), "Q6_K": (256, False)}


def quantize_activations(x, block, f16_scale):
    """Round x [n_tokens, n] to 8-bit blocks along the last dim and back (round half away from
    0). Returns the rounded x and the Q8_1 block sums s = F16(d * sum(q)), [n_tokens, n / block]."""
    shape = x.shape
    b = x.reshape(-1, block)
    amax = b.abs().max(dim=1, keepdim=True).values
    d = amax / 127.0
    inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    v = b * inv
    q = torch.sign(v) * torch.floor(v.abs() + 0.5)
    sums = (d * q.sum(dim=1, keepdim=True)).to(torch.float16).to(torch.float64)
    if f16_scale:
        d = d.to(torch.float16).to(torch.float64)
    return (q * d).reshape(shape), sums.reshape(shape[0], -1)


class Model:
    def __init__(self, path, act_quant=False):
        f = GGUFFile(path)
        self.file = f
        arch = f.get("general.architecture")
        if arch not in ("llama", "qwen2", "qwen3"):
            raise ValueError(f"{path}: unsupported architecture {arch}")
        self.arch = arch
        g = lambda k, d=None: f.get(f"{arch}.{k}", d)
        self.n_embd = int(g("embedding_length"))
        self.n_layer = int(g("block_count"))
        self.n_head = int(g("attention.head_count"))
        self.n_head_kv = int(g("attention.head_count_kv", self.n_head))
        self.head_dim = int(g("attention.key_length", self.n_embd // self.n_head))
        self.n_rot = int(g("rope.dimension_count", self.head_dim))
        self.eps = float(g("attention.layer_norm_rms_epsilon", 1e-5))
        self.freq_base = float(g("rope.freq_base", 10000.0))
        self.neox = arch in ("qwen2", "qwen3")
        self.w = {name: torch.from_numpy(np.ascontiguousarray(dequantize(t)))
                  for name, t in f.tensors.items()}
        self.types = {name: t.type_name for name, t in f.tensors.items()}
        self.mins = {name: torch.from_numpy(block_mins(t)) for name, t in f.tensors.items()
                     if t.type_name in ("Q4_1", "Q5_1")}
        self.act_quant = act_quant
        self.n_vocab = self.w["token_embd.weight"].shape[0]
        self.output_name = "output.weight" if "output.weight" in self.w else "token_embd.weight"
        self.output = self.w[self.output_name]

    def _mm(self, x, name, weight=None):
        """x @ W.T for the weight `name` (rounding x first when act_quant applies)."""
        w = self.w[name] if weight is None else weight
        if not (self.act_quant and self.types[name] in ACT_QUANT):
            return x @ w.T
        block = ACT_QUANT[self.types[name]][0]
        xq, sums = quantize_activations(x, *ACT_QUANT[self.types[name]])
        y = xq @ w.T
        if name in self.mins:
            # The engine multiplies each weight block's minimum by the stored F16 sum instead of
            # the exact sum of the rounded activations.
            exact = xq.reshape(x.shape[0], -1, block).sum(dim=2)
            y = y + (sums - exact) @ self.mins[name].T
        return y

    def _rms_norm(self, x, weight):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * weight

    def _rope(self, x, pos):
        """x: [n_tokens, n_heads, head_dim]; pos: [n_tokens]."""
        half = self.n_rot // 2
        inv = self.freq_base ** (-torch.arange(0, half, dtype=torch.float64) * 2.0 / self.n_rot)
        if "rope_freqs.weight" in self.w:
            inv = inv / self.w["rope_freqs.weight"][:half]
        ang = pos.double()[:, None] * inv[None, :]                 # [n_tokens, half]
        cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
        rot, rest = x[..., :self.n_rot], x[..., self.n_rot:]
        if self.neox:
            a, b = rot[..., :half], rot[..., half:]
            out = torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
        else:
            a, b = rot[..., 0::2], rot[..., 1::2]
            out = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
        return torch.cat([out, rest], dim=-1)

    def _attention(self, il, x, pos):
        p = f"blk.{il}."
        w = self.w
        n = x.shape[0]
        q, k, v = (self._mm(x, p + f"attn_{t}.weight") for t in "qkv")
        if p + "attn_q.bias" in w:
            q, k, v = q + w[p + "attn_q.bias"], k + w[p + "attn_k.bias"], v + w[p + "attn_v.bias"]
        q = q.view(n, self.n_head, self.head_dim)
        k = k.view(n, self.n_head_kv, self.head_dim)
        v = v.view(n, self.n_head_kv, self.head_dim)
        if p + "attn_q_norm.weight" in w:
            q = self._rms_norm(q, w[p + "attn_q_norm.weight"])
            k = self._rms_norm(k, w[p + "attn_k_norm.weight"])
        q, k = self._rope(q, pos), self._rope(k, pos)
        group = self.n_head // self.n_head_kv
        k = k.repeat_interleave(group, dim=1)                       # [n, n_head, head_dim]
        v = v.repeat_interleave(group, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / np.sqrt(self.head_dim)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask[None], float("-inf"))
        att = torch.softmax(scores, dim=-1)
        out = torch.einsum("hqk,khd->qhd", att, v).reshape(n, self.n_head * self.head_dim)
        return self._mm(out, p + "attn_output.weight")

    def _ffn(self, il, x):
        p = f"blk.{il}."
        gate = self._mm(x, p + "ffn_gate.weight")
        up = self._mm(x, p + "ffn_up.weight")
        return self._mm(torch.nn.functional.silu(gate) * up, p + "ffn_down.weight")

    @torch.no_grad()
    def logits(self, tokens):
        """tokens: list of ids -> float64 ndarray [n_tokens, n_vocab], logits at every position."""
        ids = torch.tensor(tokens, dtype=torch.long)
        if int(ids.min()) < 0 or int(ids.max()) >= self.n_vocab:
            raise ValueError(f"token id out of range [0, {self.n_vocab})")
        x = self.w["token_embd.weight"][ids]
        pos = torch.arange(len(tokens))
        for il in range(self.n_layer):
            p = f"blk.{il}."
            x = x + self._attention(il, self._rms_norm(x, self.w[p + "attn_norm.weight"]), pos)
            x = x + self._ffn(il, self._rms_norm(x, self.w[p + "ffn_norm.weight"]))
        x = self._rms_norm(x, self.w["output_norm.weight"])
        return self._mm(x, self.output_name, self.output).numpy()


def greedy(model, tokens, n_new):
    """Greedy decoding (recomputes the whole sequence per step: fine for small models)."""
    out = list(tokens)
    for _ in range(n_new):
        out.append(int(np.argmax(model.logits(out)[-1])))
    return out


def decode_pieces(vocab, ids):
    """SentencePiece-style detokenization: "▁" -> space, "<0xXX>" -> that byte."""
    data = bytearray()
    for i in ids:
        piece = vocab[i]
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            data.append(int(piece[3:5], 16))
        else:
            data += piece.replace("\u2581", " ").encode("utf-8")
    return data.decode("utf-8", errors="replace")


if __name__ == "__main__":
    # python3 torch_model.py MODEL.gguf ID ID ... : prints the greedy continuation of 20 tokens.
    m = Model(sys.argv[1])
    ids = [int(t) for t in sys.argv[2:]] or [1]
    print(greedy(m, ids, 20))
