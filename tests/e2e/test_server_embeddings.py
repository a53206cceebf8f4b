"""Embeddings through `localmax serve`: POST /v1/embeddings (OpenAI), /api/embed and the legacy
/api/embeddings (Ollama) on models/demo.gguf, and on stories260K when ../shared is present.

Each vector is compared with an independent reference: the float64 PyTorch forward pass of
tests/reference/torch_model.py run on the same GGUF's weights, its final hidden states (after
output_norm, before the LM head) mean-pooled and L2-normalised here; bound 1e-4 (F32 models,
float32 engine arithmetic: measured ~1e-6). Also: batched inputs equal single ones, base64 decodes
to the float list, `dimensions`, truncation rules, every error case, embeddings while 4 chat
streams run, and the metrics counters."""
import base64
import json
import math
import os
import struct
import sys
import threading

from lmtest import FIXTURES, SOURCE, check, finish, run, skip
from server_util import Server, metric

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
try:
    import numpy as np
    import torch
    from torch_model import Model
except ImportError as e:   # python3-torch / numpy missing
    skip(f"the PyTorch reference needs python3-torch and numpy ({e})")

MODEL = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(MODEL):
    skip("models/demo.gguf not found")
STORIES = os.path.join(FIXTURES, "models", "stories260K.gguf")
BOUND = 1e-4
N_CTX = 256


@torch.no_grad()
def reference(model, ids):
    """Mean-pooled, L2-normalised final hidden state of the token ids (float64)."""
    x = model.w["token_embd.weight"][torch.tensor(ids, dtype=torch.long)]
    pos = torch.arange(len(ids))
    for il in range(model.n_layer):
        p = f"blk.{il}."
        x = x + model._attention(il, model._rms_norm(x, model.w[p + "attn_norm.weight"]), pos)
        x = x + model._ffn(il, model._rms_norm(x, model.w[p + "ffn_norm.weight"]))
    x = model._rms_norm(x, model.w["output_norm.weight"])
    v = x.mean(dim=0).numpy()
    return v / np.linalg.norm(v)


def metric_of(srv, name):
    _, _, data = srv.request("GET", "/metrics")
    return metric(data.decode(), name)


def err(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def tokens(path, text):
    return json.loads(run("tokenize", "-m", path, "--json", text).stdout)


def embed(srv, body, path="/v1/embeddings"):
    return srv.json("POST", path, body)


def check_error(srv, body, status, needles, what, path="/v1/embeddings"):
    st, e = embed(srv, body, path)
    msg = e["error"]["message"] if isinstance(e, dict) and isinstance(e.get("error"), dict) else \
        (e.get("error", "") if isinstance(e, dict) else str(e))
    check(st == status and all(n in msg for n in needles), f"{what} → {st} {msg!r}")
    return e


def openai_basics(srv, model, path, name):
    text = "Once upon a time there was a little girl"
    ids = tokens(path, text)
    st, r = embed(srv, {"model": name, "input": text})
    check(st == 200 and r["object"] == "list" and r["model"] == name, f"{name}: /v1/embeddings ok ({st})")
    d = r["data"][0]
    v = d["embedding"]
    check(d["object"] == "embedding" and d["index"] == 0 and len(v) == model.n_embd,
          f"{name}: one embedding of n_embd = {model.n_embd} floats")
    check(r["usage"] == {"prompt_tokens": len(ids), "total_tokens": len(ids)},
          f"{name}: usage counts the input tokens ({r['usage']}, {len(ids)} ids)")
    e = err(v, reference(model, ids))
    check(e <= BOUND, f"{name}: vector equals the PyTorch reference (max err {e:.2e} <= {BOUND})")
    check(abs(math.fsum(x * x for x in v) - 1) < 1e-5, f"{name}: unit length")
    return text, ids, v


def test_demo(srv, model):
    text, ids, v = openai_basics(srv, model, MODEL, "demo")
    texts = ["The cat", text, "Lily and Tom went to the park. They saw a big dog", "Sue"]
    st, r = embed(srv, {"input": texts})
    check(st == 200 and [d["index"] for d in r["data"]] == [0, 1, 2, 3], "4 inputs → 4 indexed vectors")
    check(err(r["data"][1]["embedding"], v) <= 1e-6, "an input in a batch equals the input alone")
    for i, t in enumerate(texts):
        e = err(r["data"][i]["embedding"], reference(model, tokens(MODEL, t)))
        check(e <= BOUND, f"batched input {i} equals the reference ({e:.2e})")
    check(r["usage"]["prompt_tokens"] == sum(len(tokens(MODEL, t)) for t in texts), "batch usage")

    st, r = embed(srv, {"input": ids})
    check(st == 200 and err(r["data"][0]["embedding"], v) <= 1e-6, "int[] input equals the text's vector")
    st, r = embed(srv, {"input": [ids, ids[:3]]})
    check(st == 200 and len(r["data"]) == 2 and err(r["data"][0]["embedding"], v) <= 1e-6 and
          err(r["data"][1]["embedding"], reference(model, ids[:3])) <= BOUND, "int[][] input")

    st, r = embed(srv, {"input": text, "encoding_format": "base64"})
    raw = base64.b64decode(r["data"][0]["embedding"])
    dec = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    f32 = list(struct.unpack(f"<{len(v)}f", struct.pack(f"<{len(v)}f", *v)))
    check(st == 200 and dec == f32, "base64 decodes to the float list (little-endian float32)")

    st, r = embed(srv, {"input": text, "dimensions": 64})
    w = np.asarray(v[:64]) / np.linalg.norm(v[:64])
    check(st == 200 and len(r["data"][0]["embedding"]) == 64 and err(r["data"][0]["embedding"], w) <= 1e-6,
          "dimensions 64: the first 64 components, re-normalised")

    # ---- errors ----
    check_error(srv, {"input": ""}, 400, ["input", "empty"], "empty string")
    check_error(srv, {"input": []}, 400, ["input", "empty"], "empty array")
    check_error(srv, {"model": "demo"}, 400, ["input", "required"], "no input")
    check_error(srv, {"input": ["a", ""]}, 400, ["input[1]", "empty"], "an empty string in a list")
    check_error(srv, {"input": ["a"] * 2049}, 400, ["2049", "2048"], "too many inputs")
    check_error(srv, {"input": [300] * 300}, 400, ["300 tokens", str(N_CTX)], "too long (never truncated)")
    check_error(srv, {"input": ["a", [300] * 10]}, 400, ["input[1]"], "mixed input types")
    check_error(srv, {"input": [1, 99999]}, 400, ["99999", "vocabulary"], "token id out of range")
    check_error(srv, {"input": "a", "dimensions": model.n_embd + 1}, 400,
                ["dimensions", str(model.n_embd + 1), str(model.n_embd)], "dimensions > n_embd")
    check_error(srv, {"input": "a", "dimensions": 0}, 400, ["dimensions"], "dimensions 0")
    check_error(srv, {"input": "a", "encoding_format": "int8"}, 400, ["encoding_format"], "bad encoding_format")
    check_error(srv, {"input": "a", "model": "nope"}, 404, ["nope"], "unknown model")
    check_error(srv, "{bad json", 400, ["JSON"], "malformed JSON")
    st, _, _ = srv.request("GET", "/v1/embeddings")
    check(st == 405, "GET /v1/embeddings → 405")
    return text, ids, v


def test_ollama(srv, model, text, ids, v):
    st, r = embed(srv, {"model": "demo", "input": text}, "/api/embed")
    check(st == 200 and r["model"].startswith("demo") and len(r["embeddings"]) == 1 and
          err(r["embeddings"][0], v) <= 1e-6, f"/api/embed equals /v1/embeddings ({st})")
    check(r["prompt_eval_count"] == len(ids) and r["total_duration"] > 0 and "load_duration" in r,
          "/api/embed counts and durations")
    st, r = embed(srv, {"model": "demo", "input": [text, "The cat"], "keep_alive": "5m",
                        "options": {"temperature": 0}, "dimensions": 32}, "/api/embed")
    check(st == 200 and len(r["embeddings"]) == 2 and len(r["embeddings"][0]) == 32, "/api/embed list, dimensions")
    long_text = " ".join(["the big dog ran to the park"] * 60)
    long_ids = tokens(MODEL, long_text)
    check(len(long_ids) > N_CTX, f"long input is {len(long_ids)} tokens")
    st, r = embed(srv, {"input": long_text}, "/api/embed")
    st2, r2 = embed(srv, {"input": long_ids[:N_CTX]})
    check(st == 200 and r["prompt_eval_count"] == N_CTX and
          err(r["embeddings"][0], r2["data"][0]["embedding"]) <= 1e-6,
          "/api/embed truncates to the context by default (the first n_ctx tokens)")
    check_error(srv, {"input": long_text, "truncate": False}, 400, [str(len(long_ids)), str(N_CTX)],
                "truncate: false and too long", "/api/embed")
    check_error(srv, {"input": "a", "options": {"num_ctx": 100000}}, 400, ["num_ctx"], "num_ctx", "/api/embed")
    check_error(srv, {"input": 5}, 400, ["input"], "/api/embed input of a wrong type", "/api/embed")
    check_error(srv, {"model": "nope", "input": "a"}, 404, ["nope"], "/api/embed unknown model", "/api/embed")
    st, r = embed(srv, {"model": "demo"}, "/api/embed")
    check(st == 200 and r["embeddings"] == [], "/api/embed without input loads the model")
    st, r = embed(srv, {"model": "demo", "prompt": text}, "/api/embeddings")
    check(st == 200 and err(r["embedding"], v) <= 1e-6, "legacy /api/embeddings")
    st, r = embed(srv, {"model": "demo", "prompt": ""}, "/api/embeddings")
    check(st == 200 and r == {"embedding": []}, "legacy /api/embeddings with an empty prompt")


def test_beside_streams(srv, text, v):
    """Embeddings while 4 chat streams decode are unchanged."""
    done = []

    def stream(i):
        st, _, data = srv.request("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": f"Tell me story {i}."}], "stream": True,
            "max_tokens": 150, "temperature": 0}, timeout=120)
        done.append(st)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    errs, running = [], []
    for _ in range(6):
        st, r = embed(srv, {"input": [text, text]})
        errs.append(max(err(d["embedding"], v) for d in r["data"]) if st == 200 else 1.0)
        running.append(metric_of(srv, "localmax_requests_running"))
    for t in threads:
        t.join()
    check(max(errs) <= 1e-6 and done == [200] * 4,
          f"embeddings unchanged while 4 streams run (max err {max(errs):.1e}, running {running})")
    check(max(running) >= 1, "the streams were running meanwhile")


srv = Server("-m", MODEL, "--parallel", 6, "-c", N_CTX, "-t", 2)
try:
    demo = Model(MODEL)
    before = metric_of(srv, "localmax_embedding_tokens_total")
    text, ids, v = test_demo(srv, demo)
    test_ollama(srv, demo, text, ids, v)
    test_beside_streams(srv, text, v)
    cli = json.loads(run("embed", "-m", MODEL, "-c", N_CTX, "-t", 2, text, "The cat").stdout)
    check(cli["pooling"] == "mean" and [d["tokens"] for d in cli["data"]] == [len(ids), 3] and
          err(cli["data"][0]["embedding"], v) <= 1e-6, "`localmax embed` prints the same vector")
    after = metric_of(srv, "localmax_embedding_tokens_total")
    check(after > before + len(ids), f"metrics count embedding tokens in ({before} → {after})")
finally:
    srv.stop()

if os.path.exists(STORIES):
    srv = Server("-m", STORIES, "--parallel", 2, "-c", 128, "-t", 2)
    try:
        openai_basics(srv, Model(STORIES), STORIES, "stories260K")
    finally:
        srv.stop()
else:
    print("stories260K: skipped (needs ../shared/fixtures)")

finish()
