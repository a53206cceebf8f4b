#!/usr/bin/env python3
"""Offline mode (issue 5, item 3): with `serve --offline` (or "offline": true in the router
config, or LOCALMAX_OFFLINE=1) a request the policy would send upstream is refused with a message
naming offline mode, local requests still work, and the recording upstream receives nothing.
Then, in a network namespace without a route (`unshare -n`, loopback only), serve --offline with
an upstream at a TEST-NET address (192.0.2.1) answers at once with the offline refusal, never a
hang; without --offline the same request fails cleanly (no route), so the namespace really has
no way out. The namespace part skips (exit 77) when unshare is not permitted.
Run alone: LM_BIN=build/bin/localmax python3 tests/e2e/test_router_offline.py"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmtest  # noqa: E402
from lmtest import check, finish, skip  # noqa: E402
from router_upstream import DEFAULT_RULES, FRONTIER_RULES, RecordingUpstream, router_config  # noqa: E402
from server_util import Server  # noqa: E402

MODEL = os.path.join(lmtest.SOURCE, "models", "demo.gguf")
FRONTIER = {"model": "frontier", "messages": [{"role": "user", "content": "What is 2+2?"}], "max_tokens": 4}
LOCAL = {"model": "demo", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 1}


def fresh_log(d, name):
    p = os.path.join(d, name)
    for f in (p, p + ".head"):
        if os.path.exists(f):
            os.remove(f)
    return p


def offline_refusal(srv, label):
    t0 = time.time()
    status, h, data = srv.request("POST", "/v1/chat/completions", FRONTIER, timeout=30)
    dt = time.time() - t0
    try:
        err = json.loads(data)["error"]
    except (ValueError, KeyError):
        err = {}
    check(status == 503 and "offline mode" in err.get("message", "") and h.get("x-localmax-route") == "refused"
          and h.get("x-localmax-rule") == "frontier" and dt < 5,
          f"{label}: refused naming offline mode in {dt:.2f}s ({status} {err.get('message', data[:100])!r})")
    status, h, data = srv.request("POST", "/v1/chat/completions", dict(FRONTIER, stream=True), timeout=30)
    check(status == 503 and b"offline mode" in data, f"{label}: streamed request refused too ({status})")
    return status


def loopback_modes():
    d = lmtest.tmpdir("router_offline")
    up = RecordingUpstream(os.path.join(d, "upstream.jsonl"))
    os.environ["LM_TEST_UPSTREAM_KEY"] = "sk-test-offline-0123456789"
    rules = DEFAULT_RULES + FRONTIER_RULES
    variants = [
        ("--offline", router_config(os.path.join(d, "a.json"), up, rules, fresh_log(d, "a.jsonl")), ["--offline"], {}),
        ('"offline": true', router_config(os.path.join(d, "b.json"), up, rules, fresh_log(d, "b.jsonl"), offline=True),
         [], {}),
        ("LOCALMAX_OFFLINE=1", router_config(os.path.join(d, "c.json"), up, rules, fresh_log(d, "c.jsonl")), [],
         {"LOCALMAX_OFFLINE": "1"}),
    ]
    for label, cfg, flags, env in variants:
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            srv = Server("-m", f"demo={MODEL}", "-c", 256, "-t", 1, "--router-config", cfg, *flags)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            offline_refusal(srv, label)
            status, h, data = srv.request("POST", "/v1/chat/completions", LOCAL)
            check(status == 200 and h.get("x-localmax-route") == "local:demo", f"{label}: local requests still served")
        finally:
            srv.stop()
    check(up.count() == 0, f"the recording upstream received nothing ({up.count()} requests)")
    # Control: the same config without offline does reach it (so the zero above means something).
    srv = Server("-m", f"demo={MODEL}", "-c", 256, "-t", 1, "--router-config", variants[0][1])
    try:
        status, h, data = srv.request("POST", "/v1/chat/completions", FRONTIER)
        check(status == 200 and up.count() == 1, f"control: online, the same request goes up ({status}, {up.count()})")
    finally:
        srv.stop()
    entries = [json.loads(line) for line in open(os.path.join(d, "a.jsonl")) if line.strip()]
    refused = [e for e in entries if e["route"] == "refused" and e["rule"] == "frontier"]
    check(len(refused) == 2 and not any(e["route"] == "egress" for e in entries[:3]),
          f"audit: the offline refusals are recorded, no egress entry ({[e['route'] for e in entries]})")
    up.stop()


def pull_offline():
    """LOCALMAX_OFFLINE=1 covers every command: `localmax pull` refuses before any connection."""
    d = lmtest.tmpdir("router_offline_pull")
    up = RecordingUpstream(os.path.join(d, "hub.jsonl"))
    env = dict(os.environ, LOCALMAX_OFFLINE="1", HF_ENDPOINT=f"http://127.0.0.1:{up.port}",
               LOCALMAX_HOME=os.path.join(d, "home"))
    p = subprocess.run([lmtest.BIN, "pull", "someone/some-model/model-Q4_0.gguf"], capture_output=True,
                       text=True, timeout=60, env=env)
    check(p.returncode != 0 and "offline mode" in p.stderr,
          f"LOCALMAX_OFFLINE=1 localmax pull fails naming offline mode (rc {p.returncode}: {p.stderr.strip()[-200:]!r})")
    check(up.count() + up.get_count() == 0, f"the hub received nothing ({up.get_count()} GET requests)")
    env.pop("LOCALMAX_OFFLINE")
    subprocess.run([lmtest.BIN, "pull", "someone/some-model/model-Q4_0.gguf"], capture_output=True, timeout=60,
                   env=env)
    check(up.get_count() > 0, f"control: without it the same pull reaches the hub ({up.get_count()} GET requests)")
    up.stop()


def inside_namespace():
    """Runs in `unshare -n`: loopback up, nothing else. Prints one JSON result line."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = lmtest.tmpdir("router_offline_ns")
    os.environ["LM_TEST_UPSTREAM_KEY"] = "sk-test-offline-0123456789"
    res = {}
    for mode in ("offline", "online"):
        cfg = os.path.join(d, f"{mode}.json")
        router_config(cfg, None, DEFAULT_RULES + FRONTIER_RULES, fresh_log(d, f"{mode}.jsonl"))
        with open(cfg) as f:
            c = json.load(f)
        for p in c["providers"]:   # TEST-NET-1: never routable, and this namespace has no route at all
            p["base_url"] = "http://192.0.2.1/v1" if p["type"] == "openai" else "http://192.0.2.1"
            p["connect_timeout_ms"] = 3000
        with open(cfg, "w") as f:
            json.dump(c, f)
        srv = Server("-m", f"demo={MODEL}", "-c", 256, "-t", 1, "--router-config", cfg,
                     *(["--offline"] if mode == "offline" else []))
        try:
            t0 = time.time()
            status, h, data = srv.request("POST", "/v1/chat/completions", FRONTIER, timeout=60)
            res[mode] = {"status": status, "seconds": time.time() - t0, "body": data.decode()[:300],
                         "route": h.get("x-localmax-route")}
        finally:
            srv.stop()
    print("NSRESULT " + json.dumps(res))


def namespace_mode():
    if not shutil.which("unshare") or not shutil.which("ip"):
        return skip("unshare or ip not found: the network-namespace check needs both")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return skip(f"unshare -n is not permitted here ({probe.stderr.strip()[:100]}): network-namespace check skipped")
    p = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), "--inside"],
                       capture_output=True, text=True, timeout=300, env=os.environ)
    line = [x for x in p.stdout.splitlines() if x.startswith("NSRESULT ")]
    if not line:
        check(False, f"namespace run produced a result (rc {p.returncode}): {p.stdout[-500:]} {p.stderr[-1000:]}")
        return
    res = json.loads(line[0][len("NSRESULT "):])
    off, on = res["offline"], res["online"]
    check(off["status"] == 503 and "offline mode" in off["body"] and off["seconds"] < 5,
          f"unshare -n, --offline, upstream 192.0.2.1: the offline refusal in {off['seconds']:.2f}s ({off})")
    check(on["status"] in (502, 504) and on["seconds"] < 30,
          f"unshare -n, online: no route, a clean upstream error, no hang ({on['status']} in {on['seconds']:.1f}s)")


def main():
    if not os.path.exists(MODEL):
        skip("models/demo.gguf not found")
    if "--inside" in sys.argv:
        return inside_namespace()
    loopback_modes()
    pull_offline()
    namespace_mode()
    finish()


if __name__ == "__main__":
    main()
