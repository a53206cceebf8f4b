"""`localmax serve` with several models: load on first request, /api/ps and /api/tags contents,
per-model settings from --models-config (ctx_size in /api/show and in the 400 for an over-long
prompt), a broken model file (clear 500, retried, the server keeps serving the others),
keep_alive 0 and "1s", and a memory budget that fits one model: the other evicts it, unless it is
busy (503 + Retry-After)."""
import calendar
import json
import os
import socket
import time

from lmtest import SOURCE, check, finish, run, skip, tmpdir
from server_util import Server, metric, ndjson

DEMO = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(DEMO):
    skip("models/demo.gguf not found")

d = tmpdir("server_models")
alpha = os.path.join(d, "alpha.gguf")
beta = os.path.join(d, "beta.gguf")
broken = os.path.join(d, "broken.gguf")
gamma = os.path.join(d, "gamma.gguf")   # long context, random weights: long streams (EOS is rare)
run("gen-model", "--arch", "llama", "--preset", "micro", "--type", "F32", "--seed", "1", "-o", alpha)
run("gen-model", "--arch", "qwen2", "--preset", "micro", "--n-layer", "3", "--type", "F32", "--seed", "2",
    "-o", beta)
run("gen-model", "--arch", "llama", "--preset", "micro", "--n-ctx", "4096", "--type", "F32", "--seed", "3",
    "-o", gamma)
with open(broken, "wb") as f:
    f.write(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)   # a header that claims absurd counts
config = os.path.join(d, "models.json")
with open(config, "w") as f:
    json.dump({"alpha": {"path": "alpha.gguf", "ctx_size": 96},
               "beta": {"path": beta, "ctx_size": 64, "keep_alive": "1s", "parallel": 1},
               "gamma": {"path": gamma, "ctx_size": 4096},
               "broken": {"path": broken}}, f)

COMMON = ["--models-config", config, "-t", 1, "--parallel", 2, "-c", 256]


def ps(srv):
    st, body = srv.json("GET", "/api/ps")
    assert st == 200, body
    return {m["name"]: m for m in body["models"]}


def generate(srv, model, prompt="Once upon a time", n=4, **extra):
    return srv.json("POST", "/api/generate", dict({"model": model, "prompt": prompt, "stream": False,
                                                   "options": {"num_predict": n, "temperature": 0}},
                                                  **extra))


def wait_for(pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


# ---- bad configurations are refused at start-up ---------------------------------------------
bad_cfg = os.path.join(d, "bad.json")
with open(bad_cfg, "w") as f:
    json.dump({"alpha": {"path": alpha, "ctx": 5, "threads": 2}}, f)
p = run("serve", "--port", "0", "--models-config", bad_cfg, check=False, timeout=60)
check(p.returncode != 0 and "'ctx'" in p.stderr and "'threads'" in p.stderr,
      f"unknown config keys are named ({p.stderr.strip()})")

# ---- --models-dir lists every *.gguf by file name; -m NAME=PATH adds an alias ----------------------
srv = Server("--models-dir", d, "-m", f"storyteller={DEMO}", "-t", 1)
try:
    st, tags = srv.json("GET", "/api/tags")
    names = sorted(m["name"] for m in tags["models"])
    check(names == ["alpha:latest", "beta:latest", "broken:latest", "gamma:latest", "storyteller:latest"],
          f"--models-dir and -m NAME=PATH ({names})")
    st, g = generate(srv, "storyteller")
    check(st == 200 and g["model"] == "storyteller:latest", "the alias answers")
finally:
    srv.stop()

sizes = {}
srv = Server("-m", f"demo={DEMO}", *COMMON)
try:
    # ---- listing without loading ----------------------------------------------------------------
    st, tags = srv.json("GET", "/api/tags")
    names = sorted(m["name"] for m in tags["models"])
    check(st == 200 and names == ["alpha:latest", "beta:latest", "broken:latest", "demo:latest", "gamma:latest"],
          f"/api/tags lists every configured model ({names})")
    st, models = srv.json("GET", "/v1/models")
    check(sorted(m["id"] for m in models["data"]) == ["alpha", "beta", "broken", "demo", "gamma"],
          "/v1/models lists every configured model")
    check(ps(srv) == {}, "nothing is loaded before the first request")
    st, show = srv.json("POST", "/api/show", {"model": "alpha"})
    check(st == 200 and "num_ctx 96" in show["parameters"] and
          show["model_info"]["llama.context_length"] == 128,
          f"/api/show has the per-model ctx_size without loading ({show.get('parameters')})")
    check(ps(srv) == {}, "/api/show does not load the model")

    # ---- first request loads ----------------------------------------------------------------------
    t0 = time.time()
    st, g = generate(srv, "alpha")
    check(st == 200 and g["done"] and g["eval_count"] == 4, f"first request to alpha answers ({st} {g})")
    loaded = ps(srv)
    check(list(loaded) == ["alpha:latest"], f"/api/ps shows alpha only ({list(loaded)})")
    a = loaded.get("alpha:latest", {})
    check(a.get("context_length") == 96 and a.get("size_vram") == 0 and
          a.get("size", 0) > os.path.getsize(alpha) and a.get("details", {}).get("family") == "llama",
          f"/api/ps entry: context 96, size_vram 0, size above the file's ({a})")
    exp = a.get("expires_at", "")
    exp_t = calendar.timegm(time.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")) if exp else 0
    check(abs(exp_t - (t0 + 300)) < 30, f"expires_at is about 5 minutes away ({exp})")
    sizes["alpha"] = a.get("size", 0)

    # ---- per-model ctx_size in the 400 for an over-long prompt ----------------------------------
    st, e = srv.json("POST", "/v1/completions", {"model": "alpha", "prompt": list(range(3, 103)),
                                                 "max_tokens": 2})
    msg = e.get("error", {}).get("message", "") if isinstance(e, dict) else ""
    check(st == 400 and "100" in msg and "96" in msg, f"over-long prompt: 400 with 100 and 96 ({msg})")

    # ---- a broken file: clear error, retried, others still served -------------------------------
    st, e = generate(srv, "broken")
    msg = e.get("error", "") if isinstance(e, dict) else str(e)
    check(st == 500 and "broken" in msg and "loading model" in msg, f"broken model: 500 naming it ({st} {msg})")
    st, g = generate(srv, "demo")
    check(st == 200 and len(g["response"]) > 0, "the demo model still answers after the failure")
    st, e = srv.json("POST", "/v1/chat/completions", {"model": "broken", "messages": [{"role": "user",
                                                                                       "content": "hi"}]})
    check(st == 500 and e["error"]["code"] == "model_load_failed",
          f"the broken model is tried again and fails again, OpenAI style ({st} {e})")
    st, g = generate(srv, "gamma")
    check(st == 200 and ps(srv)["gamma:latest"]["context_length"] == 4096, "gamma loads with ctx_size 4096")
    sizes["gamma"] = ps(srv)["gamma:latest"]["size"]
    mtext = srv.request("GET", "/metrics")[2].decode()
    check(metric(mtext, "localmax_model_load_failures_total") == 2 and
          metric(mtext, "localmax_model_loads_total") == 3 and metric(mtext, "localmax_models_loaded") == 3,
          "metrics: 3 loads, 2 failures, 3 loaded")
    st, e = generate(srv, "nope")
    check(st == 404, f"an unknown model is 404 ({st})")

    # ---- keep_alive 0 unloads; an empty prompt just loads ---------------------------------------
    st, g = srv.json("POST", "/api/generate", {"model": "alpha", "keep_alive": 0})
    check(st == 200 and g.get("done_reason") == "unload" and "alpha:latest" not in ps(srv),
          f"/api/generate keep_alive 0 with no prompt unloads ({g}, {list(ps(srv))})")
    st, g = srv.json("POST", "/api/generate", {"model": "alpha"})
    check(st == 200 and g.get("done_reason") == "load" and "alpha:latest" in ps(srv),
          f"/api/generate with no prompt loads ({g})")
    st, g = generate(srv, "alpha", keep_alive=0)
    check(st == 200 and g["eval_count"] == 4 and "alpha:latest" not in ps(srv),
          "a request with keep_alive 0 answers, then the model is unloaded")
    st, g = srv.json("POST", "/api/chat", {"model": "demo", "messages": [], "keep_alive": 0})
    check(st == 200 and "demo:latest" not in ps(srv), "/api/chat keep_alive 0 with no messages unloads")
    # A whole (non-streamed) response releases its model as soon as it is written, too.
    st, g = srv.json("POST", "/api/embed", {"model": "demo", "input": "Once upon a time", "keep_alive": 0})
    check(st == 200 and len(g["embeddings"]) == 1 and "demo:latest" not in ps(srv),
          f"/api/embed with keep_alive 0 answers, then the model is unloaded ({list(ps(srv))})")
    st, e = srv.json("POST", "/api/generate", {"model": "alpha", "prompt": "x", "keep_alive": "soon"})
    check(st == 400 and "keep_alive" in json.dumps(e), f"a bad keep_alive is a 400 naming it ({e})")

    # ---- keep_alive "1s" expires (request field, and beta's config setting) ----------------------
    st, g = generate(srv, "demo", keep_alive="1s")
    check(st == 200 and "demo:latest" in ps(srv), "demo loaded with the request's keep_alive 1s")
    st, g = generate(srv, "beta")
    check(st == 200 and "beta:latest" in ps(srv), "beta loaded (keep_alive 1s from the config)")
    gone = wait_for(lambda: not ({"demo:latest", "beta:latest"} & set(ps(srv))))
    check(gone, f"both expire within seconds ({list(ps(srv))})")
    mtext = srv.request("GET", "/metrics")[2].decode()
    check(metric(mtext, "localmax_model_expirations_total") >= 5, "metrics count the unloads")
finally:
    rc = srv.stop()
check(rc == 0, f"server 1 exits cleanly ({rc})")

# ---- a memory budget that fits one of gamma and alpha --------------------------------------------
if sizes.get("alpha") and sizes.get("gamma"):
    budget = max(sizes.values()) + min(sizes.values()) // 2
    srv = Server("-m", f"demo={DEMO}", *COMMON, "--max-memory", budget, "--load-wait", 0)
    try:
        st, _ = generate(srv, "alpha")
        st2, _ = generate(srv, "gamma")
        check(st == 200 and st2 == 200 and list(ps(srv)) == ["gamma:latest"],
              f"loading gamma evicts the idle alpha ({list(ps(srv))})")
        mtext = srv.request("GET", "/metrics")[2].decode()
        check(metric(mtext, "localmax_model_evictions_total") == 1, "one eviction counted")

        # Keep gamma busy: a long stream (about 1.3 MB) whose client reads nothing, so the server
        # blocks writing it and the request stays running.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", srv.port))
        body = json.dumps({"model": "gamma", "prompt": "Once upon a time", "max_tokens": 4000,
                           "temperature": 0, "logprobs": 5, "stream": True})
        sock.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
        time.sleep(1.0)
        st, h, data = srv.request("POST", "/api/generate", {"model": "alpha", "prompt": "hi",
                                                            "stream": False})
        check(st == 503 and "retry-after" in h and b"busy" in data,
              f"a busy model is not evicted: 503 + Retry-After ({st} {data[:200]})")
        check(list(ps(srv)) == ["gamma:latest"], "gamma is still loaded")
        sock.close()   # the client goes: its request ends and gamma becomes idle
        ok = wait_for(lambda: generate(srv, "alpha")[0] == 200, timeout=20)
        check(ok and list(ps(srv)) == ["alpha:latest"], f"then alpha loads, evicting gamma ({list(ps(srv))})")
        st, g = generate(srv, "gamma")
        check(st == 200 and list(ps(srv)) == ["gamma:latest"], "and gamma comes back on demand")
    finally:
        rc = srv.stop()
    check(rc == 0, f"server 2 exits cleanly ({rc})")
else:
    check(False, f"sizes from /api/ps were recorded ({sizes})")

finish()
