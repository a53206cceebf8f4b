"""`localmax bench --parallel N`: N streams through the scheduler against one stream; the JSON report
counts every generated token (no speed is asserted), and bad input is a clear error."""
import json
import os

from lmtest import SOURCE, check, finish, run, skip

demo = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(demo):
    skip("models/demo.gguf is absent")

j = json.loads(run("bench", "-m", demo, "--parallel", 3, "-p", 16, "-n", 12, "--json", "-t", 1).stdout)
single, par = j["single"], j["parallel"]
check(single["streams"] == 1 and par["streams"] == 3, "one stream, then three")
check(single["generated"] == 12 and par["generated"] == 36, "every stream generates -n tokens")
check(single["tps"] > 0 and par["tps"] > 0 and j["speedup"] > 0, "throughputs are positive")
check(par["mean_ttft_ms"] > 0 and par["mean_itl_ms"] > 0, "latencies are reported")
check(j["n_prompt"] == 16 and j["n_gen"] == 12, "options are reported back")

t = run("bench", "-m", demo, "--parallel", 2, "-p", 8, "-n", 4, "-t", 1).stdout
check("speedup of 2 streams over 1" in t, "the table ends with the speedup")

e = run("bench", "-m", demo, "--parallel", 2, "-p", 64, "-n", 8, "-c", 16, check=False)
check(e.returncode == 1 and "do not fit the context of 16" in e.stderr, f"too long for the context ({e.stderr.strip()!r})")
finish()
