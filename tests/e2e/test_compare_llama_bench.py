"""bench/compare_llama_bench.py end to end, with a stand-in for llama-bench.

The real llama-bench is never built here (it would be another project's code); a stand-in script
prints rows in llama-bench's `-o json` format with known speeds and records its arguments, so the test
checks that the comparison passes the same settings to both tools, pairs the pp and tg rows, and
computes the ratios and the bandwidth fraction from the numbers it was given.
"""
import json
import os
import stat
import subprocess
import sys

import lmtest
from lmtest import check

d = lmtest.tmpdir("compare_llama_bench")
model = os.path.join(lmtest.SOURCE, "models", "demo.gguf")
log = os.path.join(d, "args.jsonl")
if os.path.exists(log):
    os.remove(log)
fake = os.path.join(d, "llama-bench")
with open(fake, "w") as f:
    f.write(f"""#!/usr/bin/python3
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
a = sys.argv[1:]
p = int(a[a.index("-p") + 1]); n = int(a[a.index("-n") + 1])
print(json.dumps([
    {{"model_filename": a[a.index("-m") + 1], "n_prompt": p, "n_gen": 0, "avg_ts": 1000.0, "stddev_ts": 1.0}},
    {{"model_filename": a[a.index("-m") + 1], "n_prompt": 0, "n_gen": n, "avg_ts": 50.0, "stddev_ts": 0.5}}]))
""")
os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)

script = os.path.join(lmtest.SOURCE, "bench", "compare_llama_bench.py")
p = subprocess.run([sys.executable, script, "--localmax", lmtest.BIN, "--llama-bench", fake,
                    "-p", "16", "-n", "8", "-t", "1", "-r", "1", "--rounds", "2", "--memory-mib", "64", "--json", model],
                   capture_output=True, text=True, timeout=600)
check(p.returncode == 0, f"comparison runs (stderr: {p.stderr[-500:]})")
out = json.loads(p.stdout)
r = out["results"][0]
calls = [json.loads(l) for l in open(log)]
check(len(calls) == 2, "llama-bench ran once per round")
check(all(c[c.index("-p") + 1] == "16" and c[c.index("-n") + 1] == "8" and c[c.index("-t") + 1] == "1"
          for c in calls), "llama-bench got the same -p/-n/-t as localmax")
check(r["llama_pp"] == 1000.0 and r["llama_tg"] == 50.0, "llama-bench pp and tg rows told apart")
check(r["localmax_pp"] > 0 and r["localmax_tg"] > 0, "localmax speeds measured")
check(abs(r["pp_ratio"] - r["localmax_pp"] / 1000.0) < 1e-9, "pp ratio = localmax / llama.cpp")
check(abs(r["tg_ratio"] - r["localmax_tg"] / 50.0) < 1e-9, "tg ratio = localmax / llama.cpp")
frac = r["tg_bandwidth_fraction_llama"] / r["llama_tg"] * out["read_bandwidth_gbps"] * 1e9
check(abs(frac - 7281408) < 1, "bandwidth fraction uses the weight bytes read per token")

missing = subprocess.run([sys.executable, script, "--localmax", lmtest.BIN, "--llama-bench",
                          os.path.join(d, "nope"), model], capture_output=True, text=True)
check(missing.returncode != 0 and "llama-bench not found" in missing.stderr,
      "a missing llama-bench is a clear error")
lmtest.finish()
