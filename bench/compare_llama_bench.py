#!/usr/bin/python3
"""Side-by-side throughput of localmax and llama.cpp's llama-bench on the same GGUF files.

Runs `localmax bench --json` and `llama-bench -o json` on each model, alternating which goes first
in each round (A B, B A, ...), and prints one table: prompt processing (pp) and generation (tg)
tokens/s of both, the ratios localmax / llama.cpp, and the generation speed as a fraction of the
machine's measured read bandwidth (`localmax bench --memory`).

llama-bench is NOT built or downloaded here: build llama.cpp yourself beside localmax, e.g.
    git clone https://github.com/ggml-org/llama.cpp ../llama.cpp
    cmake -S ../llama.cpp -B ../llama.cpp/build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON
    cmake --build ../llama.cpp/build -j --target llama-bench
and pass --llama-bench ../llama.cpp/build/bin/llama-bench (or set LLAMA_BENCH).

Example (the issue's targets: 2 threads, Llama 3.2 1B shapes from the test-model generator):
    build/bin/localmax gen-model --preset llama3.2-1b --type F16 --seed 1 -o /tmp/l1b-f16.gguf
    for t in Q4_0 Q4_K_M Q6_K Q8_0; do
      build/bin/localmax quantize /tmp/l1b-f16.gguf /tmp/l1b-$t.gguf $t; done
    bench/compare_llama_bench.py -t 2 -p 512 -n 128 /tmp/l1b-{Q4_0,Q4_K_M,Q6_K,Q8_0}.gguf

Bandwidth fraction: tg tokens/s x bytes of weights read per token / read bandwidth. Every weight is
read once per generated token; the token-embedding table is read once per token only as the output
matrix of a tied model, otherwise just one row of it, so it is left out for untied models. The KV
cache read is left out (small at these lengths), which makes the fraction a slight underestimate.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys


def run_json(cmd):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def localmax_bench(lm, model, a):
    cmd = [lm, "bench", "-m", model, "-p", str(a.p), "-n", str(a.n), "-r", str(a.r), "--json"]
    if a.t:
        cmd += ["-t", str(a.t)]
    j = run_json(cmd)
    return {"pp": j["pp_tps"], "tg": j["tg_tps"], "rss": j["peak_rss_bytes"]}


def llama_bench(lb, model, a):
    cmd = [lb, "-m", model, "-p", str(a.p), "-n", str(a.n), "-r", str(a.r), "-o", "json"]
    if a.t:
        cmd += ["-t", str(a.t)]
    rows = run_json(cmd)
    res = {"pp": 0.0, "tg": 0.0}
    for row in rows:
        if row.get("n_prompt", 0) > 0 and row.get("n_gen", 0) == 0:
            res["pp"] = row["avg_ts"]
        elif row.get("n_gen", 0) > 0 and row.get("n_prompt", 0) == 0:
            res["tg"] = row["avg_ts"]
    return res


def weight_bytes_per_token(model):
    """Bytes of weights read per generated token (reads the GGUF header with tests/reference)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
    from gguf_read import GGUFFile
    tensors = GGUFFile(model).tensors
    tied = "output.weight" not in tensors
    return sum(t.n_bytes for name, t in tensors.items() if tied or name != "token_embd.weight")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="GGUF files")
    ap.add_argument("--localmax", default=os.environ.get("LM_BIN", "build/bin/localmax"))
    ap.add_argument("--llama-bench", default=os.environ.get("LLAMA_BENCH", "../llama.cpp/build/bin/llama-bench"))
    ap.add_argument("-p", type=int, default=512, help="prompt tokens (pp)")
    ap.add_argument("-n", type=int, default=128, help="generated tokens (tg)")
    ap.add_argument("-t", type=int, default=0, help="threads (default: each tool's default)")
    ap.add_argument("-r", type=int, default=3, help="repetitions inside each tool")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per model")
    ap.add_argument("--memory-mib", type=int, default=1024, help="buffer for the bandwidth probe")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args()

    lb = shutil.which(a.llama_bench) or (a.llama_bench if os.access(a.llama_bench, os.X_OK) else None)
    if not lb:
        sys.exit(f"llama-bench not found at {a.llama_bench}: build llama.cpp beside localmax "
                 "(see --help) and pass --llama-bench PATH")
    mem_cmd = [a.localmax, "bench", "--memory", "--memory-mib", str(a.memory_mib), "--json"] + (["-t", str(a.t)] if a.t else [])
    bw = run_json(mem_cmd)["read_bandwidth_gbps"] * 1e9

    results = []
    for model in a.models:
        lm_runs, lc_runs = [], []
        for rnd in range(a.rounds):
            order = [0, 1] if rnd % 2 == 0 else [1, 0]
            for which in order:
                if which == 0:
                    lm_runs.append(localmax_bench(a.localmax, model, a))
                else:
                    lc_runs.append(llama_bench(lb, model, a))
        r = {"model": os.path.basename(model), "file_bytes": os.path.getsize(model)}
        for k in ("pp", "tg"):
            r["localmax_" + k] = median([x[k] for x in lm_runs])
            r["llama_" + k] = median([x[k] for x in lc_runs])
            r[k + "_ratio"] = r["localmax_" + k] / r["llama_" + k] if r["llama_" + k] else None
        r["peak_rss_bytes"] = max(x["rss"] for x in lm_runs)
        per_tok = weight_bytes_per_token(model)
        r["tg_bandwidth_fraction_localmax"] = r["localmax_tg"] * per_tok / bw
        r["tg_bandwidth_fraction_llama"] = r["llama_tg"] * per_tok / bw
        results.append(r)

    if a.json:
        print(json.dumps({"read_bandwidth_gbps": bw / 1e9, "results": results}, indent=2))
        return
    print(f"read bandwidth {bw / 1e9:.2f} GB/s; pp{a.p} / tg{a.n}, threads {a.t or 'default'}, "
          f"medians of {a.rounds} alternating rounds x {a.r} repetitions")
    print("| model | localmax pp | llama.cpp pp | pp ratio | localmax tg | llama.cpp tg | tg ratio "
          "| tg % of bandwidth (localmax / llama.cpp) | peak RSS MiB / file MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        fmt_ratio = lambda x: f"{x:.2f}x" if x else "n/a"
        print(f"| {r['model']} | {r['localmax_pp']:.1f} | {r['llama_pp']:.1f} | {fmt_ratio(r['pp_ratio'])} "
              f"| {r['localmax_tg']:.2f} | {r['llama_tg']:.2f} | {fmt_ratio(r['tg_ratio'])} "
              f"| {100 * r['tg_bandwidth_fraction_localmax']:.0f}% / {100 * r['tg_bandwidth_fraction_llama']:.0f}% "
              f"| {r['peak_rss_bytes'] / 2**20:.0f} / {r['file_bytes'] / 2**20:.0f} |")


if __name__ == "__main__":
    main()
