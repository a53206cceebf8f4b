"""`localmax serve --kv-pool`: 8 concurrent greedy completions through 4 slots that share a KV pool
of 4 blocks (128 positions, where 4 slots of -c 256 would hold 1024): every request is answered
(200, finish_reason stop or length), each equal to the same request run alone on a server with
the default pool unless the full pool cut it short (then a prefix of it); /metrics reports the
pool's blocks; a prompt larger than the pool is a 400 naming the pool."""
import json
import os
import threading

from lmtest import SOURCE, check, finish, skip
from server_util import Server, metric

DEMO = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(DEMO):
    skip("models/demo.gguf not found")

PROMPTS = ["Once upon a time", "The cat", "Lily and Tom went to the park.", "A boy named Max",
           "Tim had a red ball", "The sun was shining", "Anna found a box", "Spot the dog"]


def complete(srv, prompt, n):
    return srv.json("POST", "/v1/completions", {"model": "demo", "prompt": prompt, "max_tokens": n,
                                                "temperature": 0})


alone = {}
srv = Server("-m", f"demo={DEMO}", "-t", 1, "--parallel", 1, "-c", 128)
try:
    for p in PROMPTS:
        st, body = complete(srv, p, 60)
        assert st == 200, body
        alone[p] = body["choices"][0]["text"]
finally:
    srv.stop()

srv = Server("-m", f"demo={DEMO}", "-t", 1, "--parallel", 4, "-c", 256, "--kv-pool", 128)
try:
    results = {}

    def worker(p):
        results[p] = complete(srv, p, 60)

    threads = [threading.Thread(target=worker, args=(p,)) for p in PROMPTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = True
    for p in PROMPTS:
        st, body = results[p]
        if st != 200:
            ok = False
            print(f"{p!r}: {st} {body}")
            continue
        ch = body["choices"][0]
        same = ch["text"] == alone[p] or (ch["finish_reason"] == "length" and alone[p].startswith(ch["text"]))
        if not same or ch["finish_reason"] not in ("stop", "length"):
            ok = False
            print(f"{p!r}: {json.dumps(ch)} vs alone {alone[p]!r}")
    check(ok, "8 concurrent requests through a 4-block KV pool: each as alone (or a prefix, cut by the pool)")
    st, _, m = srv.request("GET", "/metrics")
    m = m.decode()
    check(metric(m, "localmax_kv_blocks_total") == 4 and metric(m, "localmax_kv_cells_total") == 128,
          "/metrics reports the pool (4 blocks, 128 positions)")
    st, body = complete(srv, "Once upon a time " * 40, 4)   # 162 tokens: within -c, not the pool
    check(st == 400 and "KV cache pool" in json.dumps(body), f"a prompt larger than the pool is a 400 ({st})")
finally:
    srv.stop()

finish()
