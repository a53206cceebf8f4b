"""bench/compare_llama_server.py end to end: localmax on demo.gguf against a stand-in llama-server.

The real llama-server is never built here (it is another project's code). The stand-in is a small
Python server that records its arguments and request bodies and streams OpenAI completion chunks
with known delays: TTFT_S before the first token and TOKEN_S between tokens. It stops at half of
max_tokens unless the request sets ignore_eos, as a model emitting EOG would. So the test checks
that the script starts both servers with matching settings (-np, -c = slots x ctx, -t,
--cont-batching), sends ignore_eos and a fixed max_tokens, verifies the counts from usage, and
computes its throughput, TTFT and ratios from what it measured: the stand-in's numbers are bounded
by its sleeps, and every ratio equals the quotient of the measured numbers it is printed beside.
"""
import json
import os
import re
import stat
import subprocess
import sys

import lmtest
from lmtest import check

MODEL = os.path.join(lmtest.SOURCE, "models", "demo.gguf")
if not os.path.exists(MODEL):
    lmtest.skip("models/demo.gguf not found")

TTFT_S, TOKEN_S, N = 0.05, 0.01, 8
d = lmtest.tmpdir("compare_llama_server")
args_log, body_log = os.path.join(d, "args.jsonl"), os.path.join(d, "bodies.jsonl")
for p in (args_log, body_log):
    if os.path.exists(p):
        os.remove(p)
fake = os.path.join(d, "llama-server")
with open(fake, "w") as f:
    f.write(f"""#!/usr/bin/python3
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
a = sys.argv[1:]
with open({args_log!r}, "a") as f:
    f.write(json.dumps(a) + "\\n")
lock = threading.Lock()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        body = b'{{"status": "ok"}}'
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def chunk(self, payload):
        data = ("data: " + payload + "\\n\\n").encode()
        self.wfile.write(f"{{len(data):x}}\\r\\n".encode() + data + b"\\r\\n")
        self.wfile.flush()
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock, open({body_log!r}, "a") as f:
            f.write(json.dumps(req) + "\\n")
        n = req["max_tokens"] if req.get("ignore_eos") else req["max_tokens"] // 2
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        time.sleep({TTFT_S})
        for i in range(n):
            if i:
                time.sleep({TOKEN_S})
            last = i == n - 1
            self.chunk(json.dumps({{"choices": [{{"index": 0, "text": f" t{{i}}",
                                    "finish_reason": "length" if last else None}}]}}))
        usage = {{"prompt_tokens": len(req["prompt"].split()), "completion_tokens": n}}
        self.chunk(json.dumps({{"choices": [], "usage": usage}}))
        self.chunk("[DONE]")
        self.wfile.write(b"0\\r\\n\\r\\n")

class S(ThreadingHTTPServer):
    request_queue_size = 64   # clients connect together

S(("127.0.0.1", int(a[a.index("--port") + 1])), H).serve_forever()
""")
os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)

script = os.path.join(lmtest.SOURCE, "bench", "compare_llama_server.py")
out_json = os.path.join(d, "result.json")
cmd = [sys.executable, script, "--localmax", lmtest.BIN, "--llama-server", fake, "-t", "1",
       "--parallel", "2", "--ctx", "128", "-c", "1,2", "-n", str(N), "--prompt-words", "6",
       "--rounds", "2", "--log-dir", d, "--json", out_json, MODEL]
p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
check(p.returncode == 0, f"comparison runs (stderr: {p.stderr[-800:]})")
out = json.load(open(out_json))
rows = {r["concurrency"]: r for r in out["results"]}
check(sorted(rows) == [1, 2], "one result per concurrency level")

calls = [json.loads(l) for l in open(args_log)]
c = calls[0] if calls else []
opt = lambda flag: c[c.index(flag) + 1] if flag in c else None
check(len(calls) == 1 and opt("-np") == "2" and opt("-c") == "256" and opt("-t") == "1" and
      "--cont-batching" in c and opt("-m") == MODEL,
      f"llama-server got -np 2, -c 2 x 128 (its -c is shared by the slots), -t 1, --cont-batching ({c})")
lm_cmd = out["localmax_cmd"]
check(lm_cmd[lm_cmd.index("--parallel") + 1] == "2" and lm_cmd[lm_cmd.index("-c") + 1] == "128" and
      lm_cmd[lm_cmd.index("-t") + 1] == "1", "localmax got --parallel 2, -c 128, -t 1")

bodies = [json.loads(l) for l in open(body_log)]
# warm-up + 2 rounds x (1 + 2) requests
check(len(bodies) == 7 and all(b["ignore_eos"] is True and b["max_tokens"] == N and b["temperature"] == 0 and
                               b["stream"] is True for b in bodies),
      f"every request streams with ignore_eos, max_tokens {N}, temperature 0 ({len(bodies)} requests)")
check(len({b["prompt"] for b in bodies}) == len(bodies), "every prompt is unique (no free prefix-cache hits)")

for conc, r in rows.items():
    lm, lc = r["localmax"], r["llama"]
    check(r["tokens_match"] and lm["usage_reported"] and lc["usage_reported"] and
          lm["tokens_per_request"] == [N] and lc["tokens_per_request"] == [N],
          f"{conc} stream(s): both generated exactly {N} tokens per request, per their usage")
    check(lm["requests"] == 2 * conc and lc["requests"] == 2 * conc, f"{conc} stream(s): 2 rounds of requests")
    # The stand-in cannot be faster than its sleeps allow: TTFT >= TTFT_S, and each stream at
    # most N tokens per (TTFT_S + (N - 1) TOKEN_S), times the streams.
    bound = conc * N / (TTFT_S + (N - 1) * TOKEN_S)
    check(0 < lc["aggregate_tps"] <= bound * 1.001 and lc["ttft_ms_p50"] >= TTFT_S * 1000 * 0.999,
          f"{conc} stream(s): stand-in measured, within its sleeps ({lc['aggregate_tps']:.1f} tok/s "
          f"<= {bound:.1f}; TTFT {lc['ttft_ms_p50']:.1f} ms)")
    check(lc["stream_tps_p50"] <= 1 / TOKEN_S * 1.001 and lc["stream_tps_p50"] > 0,
          f"{conc} stream(s): stand-in per-stream decode {lc['stream_tps_p50']:.1f} <= {1 / TOKEN_S:.0f} tok/s")
    # A request whose chunks all reach the client in one read (the demo's 8 tokens on a fast
    # machine) has no decode rate; the rate is 0 exactly when no request had one, and the stand-in,
    # which sleeps between chunks, must have one for every request.
    check(lc["stream_tps_measured"] == lc["requests"], f"{conc} stream(s): stand-in rate measured on every request")
    measured = lm["stream_tps_measured"]
    check(lm["aggregate_tps"] > 0 and lm["ttft_ms_p50"] > 0 and 0 <= measured <= lm["requests"] and
          (lm["stream_tps_p50"] > 0) == (measured > 0) and lm["ttft_ms_p95"] >= lm["ttft_ms_p50"],
          f"{conc} stream(s): localmax measured ({measured} of {lm['requests']} requests with a decode rate)")
    check(abs(lm["aggregate_tps"] - lm["completion_tokens"] / lm["wall_s"]) < 1e-9,
          f"{conc} stream(s): aggregate tok/s = tokens / wall time")
    check(abs(r["aggregate_ratio"] - lm["aggregate_tps"] / lc["aggregate_tps"]) < 1e-9 and
          abs(r["ttft_p50_ratio"] - lc["ttft_ms_p50"] / lm["ttft_ms_p50"]) < 1e-9 and
          abs(r["stream_tps_p50_ratio"] - lm["stream_tps_p50"] / lc["stream_tps_p50"]) < 1e-9,
          f"{conc} stream(s): ratios are quotients of the measured numbers")

# The printed table carries the same numbers.
table = [l for l in p.stdout.splitlines() if re.match(r"\| \d+ \|", l)]
check(len(table) == 2, f"table has a row per level ({p.stdout[-600:]})")
for line in table:
    cells = [x.strip() for x in line.strip("|").split("|")]
    r = rows[int(cells[0])]
    check(cells[3] == f"{r['aggregate_ratio']:.2f}x" and cells[6] == f"{r['ttft_p50_ratio']:.2f}x" and
          cells[1] == f"{r['localmax']['aggregate_tps']:.2f}" and cells[-1] == "yes",
          f"table row {cells[0]} matches the JSON ({line})")

# --localmax-only: no llama-server needed; localmax measured, no ratios invented.
alone_json = os.path.join(d, "alone.json")
p = subprocess.run([sys.executable, script, "--localmax", lmtest.BIN, "--localmax-only", "--llama-server",
                    os.path.join(d, "nope"), "-t", "1", "--parallel", "2", "--ctx", "128", "-c", "2", "-n", str(N),
                    "--rounds", "1", "--log-dir", d, "--json", alone_json, MODEL], capture_output=True, text=True,
                   timeout=600)
alone = json.load(open(alone_json))["results"][0] if p.returncode == 0 else {}
check(p.returncode == 0 and alone["llama"] is None and alone["aggregate_ratio"] is None and
      alone["localmax"]["aggregate_tps"] > 0 and alone["tokens_match"],
      f"--localmax-only measures localmax alone, ratios n/a ({p.stderr[-300:]})")

missing = subprocess.run([sys.executable, script, "--localmax", lmtest.BIN, "--llama-server",
                          os.path.join(d, "nope"), MODEL], capture_output=True, text=True)
check(missing.returncode != 0 and "llama-server not found" in missing.stderr,
      "a missing llama-server is a clear error")
lmtest.finish()
