#!/usr/bin/python3
"""Serving throughput and time to first token of `localmax serve` and llama.cpp's llama-server.

Starts both servers on the same GGUF with the same per-request context, number of parallel
sequences and threads, waits until each answers, then for each concurrency level (1, 4, 16 by
default) runs C x --requests-per-stream streamed /v1/completions requests from C client threads
(http.client, standard library only) against one server, then the other, alternating which goes
first in each round. Every request has a fixed text prompt made unique by a leading number (so
no prefix cache makes one server's prefill free), greedy sampling, "ignore_eos": true and a fixed
max_tokens, so both servers generate the same number of tokens; the counts are checked against
each server's reported usage (stream_options.include_usage).

Measured per level: aggregate completion tokens/s (all tokens / wall time from the first request
sent to the last one finished), time to first token (request sent on a connected socket -> first
chunk with text; p50 and p95), per-stream decode speed ((tokens - 1) / (last chunk - first chunk); p50 and p95).
Printed as one table with localmax / llama-server ratios (throughput: higher is better for
localmax; TTFT: lower is better, so the ratio is llama-server's TTFT / localmax's); --json FILE
keeps every number. The issue's goal: aggregate ratio >= 1.5 at 16 streams, TTFT ratio >= 1 at 1.

llama-server is NOT built or downloaded here: build llama.cpp yourself beside localmax, e.g.
    git clone https://github.com/ggml-org/llama.cpp ../llama.cpp
    cmake -S ../llama.cpp -B ../llama.cpp/build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON
    cmake --build ../llama.cpp/build -j --target llama-server
and pass --llama-server ../llama.cpp/build/bin/llama-server (or set LLAMA_SERVER).

Context: localmax's -c is per request (each of --parallel slots holds -c tokens); llama-server's
-c is the total KV cache split between its -np slots, so it gets -c = parallel x ctx.

Example (the issue's targets: 2 threads, Llama 3.2 1B shapes from the test-model generator):
    build/bin/localmax gen-model --preset llama3.2-1b --type F16 --seed 1 -o /tmp/l1b-f16.gguf
    build/bin/localmax quantize /tmp/l1b-f16.gguf /tmp/l1b-Q4_0.gguf Q4_0
    bench/compare_llama_server.py -t 2 --parallel 16 --ctx 512 -n 64 --json /tmp/serve.json \\
        /tmp/l1b-Q4_0.gguf
"""
import argparse
import http.client
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge every "
         "box of mixed liquor near the old river bank").split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(xs, q):
    """Nearest-rank percentile (q in [0, 100]) of a non-empty list."""
    xs = sorted(xs)
    if not xs:
        return 0.0
    k = max(0, min(len(xs) - 1, math.ceil(q / 100.0 * len(xs)) - 1))
    return xs[k]


class ServerProc:
    """One server process on 127.0.0.1:port, its output in a log file."""

    def __init__(self, name, cmd, port, log_path):
        self.name, self.cmd, self.port = name, cmd, port
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/health")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become healthy in {timeout} s; see {self.log.name}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def make_prompt(i, n_words):
    return f"Request {i}: " + " ".join(WORDS[k % len(WORDS)] for k in range(n_words))


def stream_one(port, prompt, a):
    """One streamed completion: {ttft_s, decode_tps, tokens, chunks, prompt_tokens, total_s}."""
    body = {"prompt": prompt, "max_tokens": a.n, "temperature": 0, "seed": 1, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    if a.model_name:
        body["model"] = a.model_name
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=a.request_timeout)
    c.connect()   # TTFT counts from the request, not from the TCP handshake
    t0 = time.perf_counter()
    c.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    first = last = None
    chunks, usage, finish = 0, None, None
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        ev = json.loads(data)
        if ev.get("usage"):
            usage = ev["usage"]
        for ch in ev.get("choices") or []:
            if ch.get("text"):
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
                chunks += 1
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    t1 = time.perf_counter()
    c.close()
    tokens = usage["completion_tokens"] if usage else chunks
    return {"ttft_s": (first if first is not None else t1) - t0, "total_s": t1 - t0,
            "decode_tps": (tokens - 1) / (last - first) if first is not None and last > first else 0.0,
            "tokens": tokens, "chunks": chunks, "usage_reported": usage is not None,
            "prompt_tokens": usage.get("prompt_tokens") if usage else None, "finish_reason": finish}


def run_level(port, conc, a, serial, name):
    """conc client threads, each running --requests-per-stream requests one after another."""
    results, errors = [], []
    lock = threading.Lock()

    def worker(w):
        for k in range(a.requests_per_stream):
            try:
                res = stream_one(port, make_prompt(serial + w * a.requests_per_stream + k, a.prompt_words), a)
                with lock:
                    results.append(res)
            except Exception as e:  # noqa: BLE001 — reported below
                with lock:
                    errors.append(str(e))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{name}: {len(errors)} request(s) failed at concurrency {conc}: {errors[0]}")
    return {"wall_s": wall, "requests": results}


def summarize(runs):
    """Pools the requests of every round of one server at one level."""
    reqs = [r for run in runs for r in run["requests"]]
    tokens = sum(r["tokens"] for r in reqs)
    wall = sum(run["wall_s"] for run in runs)
    ttft = [r["ttft_s"] * 1000 for r in reqs]
    # A request whose chunks all arrived in one read has no measurable decode rate (0): left out;
    # the percentiles are 0 only when no request had one.
    tps = [r["decode_tps"] for r in reqs if r["decode_tps"] > 0]
    return {"requests": len(reqs), "completion_tokens": tokens, "wall_s": wall,
            "aggregate_tps": tokens / wall if wall > 0 else 0.0,
            "ttft_ms_p50": percentile(ttft, 50), "ttft_ms_p95": percentile(ttft, 95),
            "stream_tps_p50": percentile(tps, 50), "stream_tps_p95": percentile(tps, 95),
            "stream_tps_measured": len(tps),   # requests with at least two chunk times
            "tokens_per_request": sorted({r["tokens"] for r in reqs}),
            "usage_reported": all(r["usage_reported"] for r in reqs),
            "prompt_tokens": sorted({r["prompt_tokens"] for r in reqs if r["prompt_tokens"] is not None})}


def ratio(x, y):
    return x / y if y else None


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="GGUF file served by both")
    ap.add_argument("--localmax", default=os.environ.get("LM_BIN", "build/bin/localmax"))
    ap.add_argument("--llama-server", default=os.environ.get("LLAMA_SERVER", "../llama.cpp/build/bin/llama-server"))
    ap.add_argument("-t", "--threads", type=int, default=2, help="compute threads of each server")
    ap.add_argument("--parallel", type=int, default=0, help="sequence slots (default: the largest concurrency)")
    ap.add_argument("--ctx", type=int, default=512, help="context per sequence slot")
    ap.add_argument("-c", "--concurrency", default="1,4,16", help="comma-separated stream counts")
    ap.add_argument("-n", type=int, default=64, help="tokens generated per request (max_tokens, ignore_eos)")
    ap.add_argument("--prompt-words", type=int, default=48, help="words of the fixed prompt")
    ap.add_argument("--requests-per-stream", type=int, default=1, help="requests each client thread sends")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (A B, B A, ...)")
    ap.add_argument("--model-name", default="", help="'model' field of the requests (default: none)")
    ap.add_argument("--request-timeout", type=float, default=1800, help="client socket timeout, seconds")
    ap.add_argument("--startup-timeout", type=float, default=600, help="seconds to wait for /health")
    ap.add_argument("--log-dir", default="", help="server logs (default: a temporary directory)")
    ap.add_argument("--localmax-args", default="", help="extra arguments for localmax serve")
    ap.add_argument("--llama-args", default="", help="extra arguments for llama-server")
    ap.add_argument("--json", default="", help="write the results to this file")
    ap.add_argument("--localmax-only", action="store_true",
                    help="measure localmax alone (no llama-server at hand); the ratio columns are n/a")
    return ap.parse_args()


def start_servers(a, levels, lb):
    n_par = a.parallel or max(levels)
    log_dir = a.log_dir or os.path.join("/tmp", f"compare_llama_server.{os.getpid()}")
    os.makedirs(log_dir, exist_ok=True)
    p_lm, p_lc = free_port(), free_port()
    lm_cmd = [a.localmax, "serve", "-m", a.model, "--host", "127.0.0.1", "--port", str(p_lm),
              "--parallel", str(n_par), "-c", str(a.ctx), "-t", str(a.threads), "--no-webui"] + a.localmax_args.split()
    lc_cmd = [lb, "-m", a.model, "--host", "127.0.0.1", "--port", str(p_lc), "-np", str(n_par),
              "-c", str(n_par * a.ctx), "--cont-batching", "-t", str(a.threads)] + a.llama_args.split()
    servers = {"localmax": ServerProc("localmax", lm_cmd, p_lm, os.path.join(log_dir, "localmax.log"))}
    try:
        if lb:
            servers["llama"] = ServerProc("llama-server", lc_cmd, p_lc, os.path.join(log_dir, "llama-server.log"))
        for s in servers.values():
            s.wait_healthy(a.startup_timeout)
            stream_one(s.port, make_prompt(-1, a.prompt_words), a)   # warm-up (loads localmax's model)
    except Exception:
        for s in servers.values():
            s.stop()
        raise
    return servers, n_par


def measure(a, levels, servers):
    runs = {name: {c: [] for c in levels} for name in servers}
    serial = 0
    for rnd in range(a.rounds):
        for conc in levels:
            order = ["localmax", "llama"] if (rnd + levels.index(conc)) % 2 == 0 else ["llama", "localmax"]
            for name in (n for n in order if n in servers):
                print(f"round {rnd + 1}/{a.rounds}: {conc} stream(s) on {name}", file=sys.stderr, flush=True)
                runs[name][conc].append(run_level(servers[name].port, conc, a, serial, name))
                serial += conc * a.requests_per_stream
    rows = []
    for conc in levels:
        lm = summarize(runs["localmax"][conc])
        if "llama" not in servers:   # --localmax-only
            rows.append({"concurrency": conc, "localmax": lm, "llama": None, "aggregate_ratio": None,
                         "ttft_p50_ratio": None, "stream_tps_p50_ratio": None,
                         "tokens_match": lm["tokens_per_request"] == [a.n]})
            continue
        lc = summarize(runs["llama"][conc])
        rows.append({"concurrency": conc, "localmax": lm, "llama": lc,
                     "aggregate_ratio": ratio(lm["aggregate_tps"], lc["aggregate_tps"]),
                     "ttft_p50_ratio": ratio(lc["ttft_ms_p50"], lm["ttft_ms_p50"]),
                     "stream_tps_p50_ratio": ratio(lm["stream_tps_p50"], lc["stream_tps_p50"]),
                     "tokens_match": lm["tokens_per_request"] == lc["tokens_per_request"] == [a.n]})
    return rows


def print_table(a, rows, n_par):
    f = lambda x: f"{x:.2f}x" if x is not None else "n/a"
    print(f"model {os.path.basename(a.model)}; {a.threads} threads, {n_par} slots x ctx {a.ctx}; "
          f"{a.n} tokens per request (ignore_eos), prompt {a.prompt_words} words; {a.rounds} alternating rounds")
    print("| streams | localmax agg tok/s | llama-server agg tok/s | agg ratio | localmax TTFT p50/p95 ms "
          "| llama-server TTFT p50/p95 ms | TTFT ratio (llama/localmax) | localmax stream tok/s p50/p95 "
          "| llama-server stream tok/s p50/p95 | tokens checked |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lm, lc = r["localmax"], r["llama"] or summarize([])
        ok = "yes" if r["tokens_match"] and lm["usage_reported"] and (lc["usage_reported"] or not r["llama"]) else \
            f"NO ({lm['tokens_per_request']} / {lc['tokens_per_request']})"
        print(f"| {r['concurrency']} | {lm['aggregate_tps']:.2f} | {lc['aggregate_tps']:.2f} | {f(r['aggregate_ratio'])} "
              f"| {lm['ttft_ms_p50']:.0f} / {lm['ttft_ms_p95']:.0f} | {lc['ttft_ms_p50']:.0f} / {lc['ttft_ms_p95']:.0f} "
              f"| {f(r['ttft_p50_ratio'])} | {lm['stream_tps_p50']:.2f} / {lm['stream_tps_p95']:.2f} "
              f"| {lc['stream_tps_p50']:.2f} / {lc['stream_tps_p95']:.2f} | {ok} |")


def main():
    a = parse_args()
    levels = [int(x) for x in a.concurrency.split(",") if x.strip()]
    lb = shutil.which(a.llama_server) or (a.llama_server if os.access(a.llama_server, os.X_OK) else None)
    if a.localmax_only:
        lb = None
    elif not lb:
        sys.exit(f"llama-server not found at {a.llama_server}: build llama.cpp beside localmax "
                 "(see --help) and pass --llama-server PATH or set LLAMA_SERVER")
    servers, n_par = start_servers(a, levels, lb)
    try:
        rows = measure(a, levels, servers)
    finally:
        for s in servers.values():
            s.stop()
    print_table(a, rows, n_par)
    if a.json:
        load = os.getloadavg()
        out = {"model": a.model, "threads": a.threads, "parallel": n_par, "ctx": a.ctx, "max_tokens": a.n,
               "prompt_words": a.prompt_words, "rounds": a.rounds, "requests_per_stream": a.requests_per_stream,
               "loadavg_after": load, "nproc": os.cpu_count(), "localmax_cmd": servers["localmax"].cmd,
               "llama_cmd": servers["llama"].cmd if "llama" in servers else None, "results": rows}
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=2)
    if not all(r["tokens_match"] for r in rows):
        print("warning: the servers did not generate the requested token counts (see 'tokens checked')",
              file=sys.stderr)


if __name__ == "__main__":
    main()
