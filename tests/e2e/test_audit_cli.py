"""`localmax audit verify|show|append` and `localmax costs` end to end: entries written through
the CLI, tampering done with Python, verdicts and exit codes read back; cost figures checked
against hand-computed sums."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmtest  # noqa: E402
from lmtest import check  # noqa: E402

WORK = lmtest.tmpdir("audit_e2e")
DAY = 86_400_000
T0 = 1_780_272_000_000  # 2026-06-01T00:00:00Z


def fresh(name):
    p = os.path.join(WORK, name)
    for suffix in ("", ".head", ".torn"):
        if os.path.exists(p + suffix):
            os.remove(p + suffix)
    return p


def append(log, time_ms, extra=(), **rec):
    return lmtest.run("audit", "append", "--log", log, "--time-ms", time_ms, "--fsync", "never",
                      "--json", json.dumps(rec), *extra)


def verify(log, *extra):
    return lmtest.run("audit", "verify", "--log", log, *extra, check=False)


def lines(log):
    with open(log) as f:
        return f.read().splitlines()


def write_lines(log, ls):
    with open(log, "w") as f:
        f.write("".join(l + "\n" for l in ls))


def flip_hash(line):
    i = line.index('"hash":"') + len('"hash":"')
    return line[:i] + ("1" if line[i] == "0" else "0") + line[i + 1:]


SAMPLE = [
    dict(request_id="r1", key="a", rule="pii-local", route="local", destination="llama", model="llama-3b",
         detectors={"email": 2}, tokens_in=1000, tokens_out=500, cost_usd=0.002, latency_ms=120),
    dict(request_id="r2", key="b", rule="frontier", route="upstream", destination="openai", model="gpt-5.5",
         tokens_in=2_000_000, tokens_cached=1_000_000, tokens_out=100_000, cost_usd=8.5, latency_ms=900),
    dict(request_id="r3", key="b", rule="default-local", route="local", destination="llama", model="llama-3b",
         tokens_in=1_000_000, tokens_out=200_000, cost_usd=0.25, latency_ms=4000),
    dict(request_id="r4", key="a", rule="deny-secrets", route="refused", detectors={"private_key": 1}),
    dict(request_id="r5", key="a", rule="frontier", route="upstream", destination="anthropic",
         model="claude-sonnet-4-6", tokens_in=10_000, tokens_out=1000, cost_usd=0.045,
         error="upstream 429", fallback="anthropic 429 -> openrouter"),
]
TIMES = [T0 + 10 * 3_600_000, T0 + 11 * 3_600_000, T0 + DAY + 9 * 3_600_000, T0 + DAY + 10 * 3_600_000,
         T0 + 2 * DAY + 1000]


def make(name, extra=()):
    log = fresh(name)
    for t, rec in zip(TIMES, SAMPLE):
        append(log, t, extra, **rec)
    return log


def test_verify_cases():
    log = make("intact.jsonl")
    p = verify(log)
    check(p.returncode == 0 and p.stdout.startswith("OK: 5 entries"), f"intact log verifies: {p.stdout.strip()}")
    check(len(p.stdout.strip().splitlines()) == 1, "one-line summary")

    base = lines(log)
    cases = {
        "edited field": (lambda ls: ls.__setitem__(2, ls[2].replace('"cost_usd":0.25', '"cost_usd":0.0')),
                         "seq 3", "edited"),
        "edited hash": (lambda ls: ls.__setitem__(1, flip_hash(ls[1])), "seq 2", "edited"),
        "reordered pair": (lambda ls: ls.__setitem__(slice(1, 3), [ls[2], ls[1]]), "line 2", "reordered"),
        "deleted middle": (lambda ls: ls.__delitem__(2), "seq 4", "entry 3 was deleted"),
        "deleted tail": (lambda ls: ls.__delitem__(slice(3, 5)), "seq 4", "entries 4..5 were deleted from the tail"),
    }
    for name, (mutate, where, what) in cases.items():
        ls = list(base)
        mutate(ls)
        write_lines(log, ls)
        p = verify(log)
        out = p.stdout.strip()
        check(p.returncode == 1 and "TAMPERED" in out and where in out and what in out,
              f"{name}: exit {p.returncode}: {out}")
    write_lines(log, base)
    check(verify(log).returncode == 0, "restored log verifies again")

    # A torn last line (crash mid-write) is not tampering: exit 3, and the next append repairs it.
    with open(log, "a") as f:
        f.write(base[0][:40])
    p = verify(log)
    check(p.returncode == 3 and p.stdout.startswith("TORN TAIL"), f"torn tail: exit {p.returncode}: {p.stdout.strip()}")
    append(log, TIMES[-1] + 1, request_id="r6", route="local")
    p = verify(log)
    check(p.returncode == 0 and "6 entries" in p.stdout, f"append after a torn tail repairs it: {p.stdout.strip()}")
    check(os.path.exists(log + ".torn"), "torn bytes kept in <log>.torn")

    os.remove(log + ".head")
    p = verify(log)
    check(p.returncode == 1 and "anchor" in p.stdout, f"missing anchor is reported: {p.stdout.strip()}")
    check(verify(log, "--no-anchor").returncode == 0, "--no-anchor accepts it")


def test_hmac():
    keyfile = os.path.join(WORK, "key")
    with open(keyfile, "w") as f:
        f.write("s3cret\n")
    log = make("keyed.jsonl", ("--key-file", keyfile))
    check(verify(log, "--key-file", keyfile).returncode == 0, "keyed log verifies with its key")
    env_run = subprocess.run([lmtest.BIN, "audit", "verify", "--log", log], capture_output=True, text=True,
                             env={**os.environ, "LOCALMAX_AUDIT_KEY": "s3cret"})
    check(env_run.returncode == 0, "key from LOCALMAX_AUDIT_KEY")
    wrong = os.path.join(WORK, "wrongkey")
    with open(wrong, "w") as f:
        f.write("guess")
    check(verify(log, "--key-file", wrong).returncode == 1, "wrong key fails")
    # Rewrite an entry and re-hash it with plain SHA-256 (what someone without the key could do).
    import hashlib
    ls = lines(log)
    e = json.loads(ls[1])
    e["route"] = "local"
    e["hash_alg"] = "sha256"
    del e["hash"]
    canon = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    e["hash"] = hashlib.sha256(canon.encode()).hexdigest()
    ls[1] = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    write_lines(log, ls)
    p = verify(log, "--key-file", keyfile)
    check(p.returncode == 1 and "seq 2" in p.stdout, f"re-hashed entry caught with the key: {p.stdout.strip()}")


def test_canonical_form_matches_python():
    """The documented canonical form is reproducible outside localmax (sorted keys, no spaces)."""
    import hashlib
    log = make("canon.jsonl")
    for l in lines(log):
        e = json.loads(l)
        h = e.pop("hash")
        canon = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if hashlib.sha256(canon.encode()).hexdigest() != h:
            check(False, f"python recomputes the hash of seq {e['seq']}")
            return
    check(True, "python recomputes every hash from the documented canonical form")


def test_show():
    log = make("show.jsonl")
    p = lmtest.run("audit", "show", "--log", log)
    check(len(p.stdout.strip().splitlines()) == 6 and "SEQ" in p.stdout, "table: header + 5 rows")
    check("email:2" in p.stdout and "upstream 429" in p.stdout, "table shows detectors and errors")

    def ids(*args):
        out = lmtest.run("audit", "show", "--log", log, "--json", *args).stdout
        return [e["request_id"] for e in json.loads(out)]

    check(ids("--route", "upstream") == ["r2", "r5"], "--route")
    check(ids("--rule", "frontier", "--model", "gpt-5.5") == ["r2"], "--rule --model")
    check(ids("--detector", "private_key") == ["r4"], "--detector")
    check(ids("--destination", "llama") == ["r1", "r3"], "--destination")
    check(ids("--since", "2026-06-02", "--until", "2026-06-03") == ["r3", "r4"], "--since/--until")
    check(ids("--since", "2026-06-01T10:30:00Z", "--limit", "2") == ["r4", "r5"], "--limit keeps the last N")
    check(ids("--key", "b") == ["r2", "r3"], "--key")
    bad = lmtest.run("audit", "show", "--log", log, "--since", "last tuesday", check=False)
    check(bad.returncode != 0 and "--since" in bad.stderr, f"bad time is an error: {bad.stderr.strip()}")


def test_costs():
    log = make("costs.jsonl")
    out = json.loads(lmtest.run("costs", "--log", log, "--json", "--compare", "gpt-5.5", "--by", "day").stdout)
    near = lambda a, b: abs(a - b) < 1e-9  # noqa: E731
    check(near(out["hosted"]["cost_usd"], 8.545) and out["hosted"]["requests"] == 2, f"hosted spend {out['hosted']}")
    check(near(out["local"]["cost_usd"], 0.252) and out["local"]["requests"] == 2, f"local spend {out['local']}")
    # Local work at gpt-5.5 list price: (1000*5 + 500*30 + 1e6*5 + 2e5*30) / 1e6 = 11.02
    check(near(out["local"]["compare_usd"], 11.02), f"local work priced at gpt-5.5: {out['local']['compare_usd']}")
    check([r["group"] for r in out["rows"]] == ["2026-06-01", "2026-06-02", "2026-06-03"], "grouped by day")
    check(out["total"]["tokens_in"] == 3_011_000, "token totals")
    since = json.loads(lmtest.run("costs", "--log", log, "--json", "--since", "2026-06-02").stdout)
    check(since["total"]["requests"] == 3, "--since filters")
    table = lmtest.run("costs", "--log", log, "--by", "model", "--compare", "gpt-5.5").stdout
    check("would have cost 11.020000 USD on gpt-5.5" in table, "table states the hosted comparison")

    cfg = os.path.join(WORK, "costs.json")
    with open(cfg, "w") as f:
        json.dump({"prices": {"gpt-5.5": {"input": 1, "output": 2}}}, f)
    o = json.loads(lmtest.run("costs", "--log", log, "--json", "--compare", "gpt-5.5", "--config", cfg).stdout)
    # (1000*1 + 500*2 + 1e6*1 + 2e5*2) / 1e6 = 1.402
    check(near(o["local"]["compare_usd"], 1.402), f"price override applies: {o['local']['compare_usd']}")
    with open(cfg, "w") as f:
        f.write('{"budgets": [{"key": "a", "period": "week", "limit_usd": 1}]}')
    bad = lmtest.run("costs", "--log", log, "--config", cfg, check=False)
    check(bad.returncode != 0 and "budgets[0]: period" in bad.stderr, f"bad config: {bad.stderr.strip()}")
    bad = lmtest.run("costs", "--log", log, "--compare", "gpt-99", check=False)
    check(bad.returncode != 0 and "gpt-99" in bad.stderr, "unknown compare model is an error")


def test_concurrent_processes():
    log = fresh("procs.jsonl")
    procs = [subprocess.Popen([lmtest.BIN, "audit", "append", "--log", log, "--fsync", "never", "--json",
                               json.dumps({"request_id": f"p{i}", "route": "local"})],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(24)]
    rcs = [p.wait() for p in procs]
    check(all(rc == 0 for rc in rcs), "24 concurrent appending processes succeed")
    p = verify(log)
    check(p.returncode == 0 and "24 entries" in p.stdout, f"their chain is whole: {p.stdout.strip()}")


if __name__ == "__main__":
    if not os.path.exists(lmtest.BIN):
        lmtest.skip(f"{lmtest.BIN} not built")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK, exist_ok=True)
    test_verify_cases()
    test_hmac()
    test_canonical_form_matches_python()
    test_show()
    test_costs()
    test_concurrent_processes()
    lmtest.finish()
