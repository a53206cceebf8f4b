"""`localmax bench`: the JSON report has its fields with sane values (no speed is asserted: speed is
measured in bench/, never tested), and bad input is a clear error."""
import json
import os

from lmtest import SOURCE, check, finish, run, skip

demo = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(demo):
    skip("models/demo.gguf is absent")

j = json.loads(run("bench", "-m", demo, "-p", 32, "-n", 8, "-r", 3, "--json", "-t", 1).stdout)
for key in ("pp_tps", "tg_tps", "peak_rss_bytes", "pp_tps_stddev", "tg_tps_stddev", "model_bytes", "isa"):
    check(key in j, f"bench --json has {key}")
check(j["pp_tps"] > 0 and j["tg_tps"] > 0, "throughputs are positive")
check(len(j["pp_samples_tps"]) == 3 and len(j["tg_samples_tps"]) == 3, "one sample per repetition")
check(j["threads"] == 1 and j["n_prompt"] == 32 and j["n_gen"] == 8, "options are reported back")
check(j["model_bytes"] == os.path.getsize(demo), "model size is the file size")
check(j["peak_rss_bytes"] >= j["model_bytes"] // 2, "peak RSS includes the mapped weights it read")
only_pp = json.loads(run("bench", "-m", demo, "-p", 16, "-n", 0, "-r", 1, "--json").stdout)
check(only_pp["tg_tps"] == 0 and only_pp["pp_tps"] > 0, "-n 0 skips generation")

m = json.loads(run("bench", "--memory", "--memory-mib", 64, "--json", "-t", 1).stdout)
check(m["read_bandwidth_gbps"] > 0 and m["bytes"] == 64 << 20 and len(m["passes_gbps"]) == 10,
      f"--memory reports a bandwidth ({m['read_bandwidth_gbps']:.2f} GB/s over 64 MiB)")

e = run("bench", "-m", demo, "-p", 64, "-c", 16, check=False)
check(e.returncode == 1 and "do not fit the context of 16" in e.stderr, f"too long for the context ({e.stderr.strip()!r})")
e = run("bench", "-p", 8, check=False)
check(e.returncode == 1 and "-m MODEL is required" in e.stderr, "a model is required")
e = run("bench", "-m", demo, "-r", 0, check=False)
check(e.returncode == 1 and "repetitions" in e.stderr, "zero repetitions refused")
finish()
