#!/usr/bin/env python3
"""The router end to end (issue 5, "Done when"): thousands of mixed requests through
`localmax serve --router-config` with the default policy's rules plus `frontier`/`claude` rules
to a recording upstream on loopback. Positives come from the @faker-js/faker corpus of
test_detect_corpus.py (every structured kind) placed in user/system messages, content parts,
tool-call arguments and the `user` field; clean requests carry a unique marker.

Asserts: no recorded upstream body contains any positive value, and no request with a detection
reached it; every clean frontier/claude request did (exactly once); every response names its
route and rule in headers; the audit log verifies, has one outcome entry per request (plus an
egress entry before each upstream send) with detector counts and kinds but none of the secrets;
`localmax costs` counts the same requests; redaction (opt-in rule) sends placeholders and
restores the reply; /v1/models lists the upstream models; Ollama endpoints refuse upstream routes.
Run alone: LM_BIN=build/bin/localmax python3 tests/e2e/test_router.py [n_requests]"""
import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmtest  # noqa: E402
from lmtest import check, finish, skip  # noqa: E402
from router_upstream import DEFAULT_RULES, FRONTIER_RULES, RecordingUpstream, router_config  # noqa: E402
from server_util import Server, ndjson, sse_events  # noqa: E402
import test_detect_corpus  # noqa: E402

MODEL = os.path.join(lmtest.SOURCE, "models", "demo.gguf")
if not os.path.exists(MODEL):
    skip("models/demo.gguf not found")
N_REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

REDACT_RULE = {"name": "frontier-redacted", "when": {"model": "frontier-redact"},
               "route": {"provider": "rec", "model": "gpt-rec"}, "redact": True, "allow_detected": ["email"]}


def positives_and_negatives():
    items = test_detect_corpus.generate(7, 60)
    pos, neg = [], []
    for it in items:
        text, labels = test_detect_corpus.assemble(it)
        if it["group"].startswith("negative:"):
            neg.append(text)
        elif labels:
            raw = text.encode()
            pos.append((text, [raw[b:e].decode() for _, b, e in labels], it["group"]))
    return pos, neg


def place(text, where, model, max_tokens, stream=False):
    """A chat body with `text` in one of the places a request can carry it."""
    msgs = [{"role": "user", "content": "Please help with this."}]
    body = {"model": model, "max_tokens": max_tokens}
    if where == "user":
        msgs = [{"role": "user", "content": text}]
    elif where == "system":
        msgs = [{"role": "system", "content": text}, {"role": "user", "content": "Go on."}]
    elif where == "parts":
        msgs = [{"role": "user", "content": [{"type": "text", "text": "Look: "}, {"type": "text", "text": text}]}]
    elif where == "tool_args":
        msgs = [{"role": "user", "content": "Look up the record."},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "lookup", "arguments": json.dumps({"query": text})}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "found"},
                {"role": "user", "content": "Summarise."}]
    elif where == "user_field":
        body["user"] = text
    body["messages"] = msgs
    if stream:
        body["stream"] = True
    return body


def build_workload(pos, neg, n, rng):
    """(kind, body, secrets, marker, endpoint) tuples."""
    places = ["user", "system", "parts", "tool_args", "user_field"]
    work = []
    for i in range(n):
        r = rng.random()
        marker = f"MARK{i:06d}Z"
        if r < 0.40:    # sensitive, asking for the hosted model: must stay local
            text, secrets, group = rng.choice(pos)
            model = rng.choice(["frontier", "claude"])
            work.append(("pos_up", place(text, rng.choice(places), model, 1), secrets, None, "chat"))
        elif r < 0.55:  # sensitive, local model
            text, secrets, group = rng.choice(pos)
            work.append(("pos_local", place(text, rng.choice(places), "demo", 1), secrets, None, "chat"))
        elif r < 0.80:  # clean, frontier or claude: goes up
            model = rng.choice(["frontier", "claude"])
            text = f"Write a haiku about the sea, please ({marker})."
            body = place(text, "user", model, 16, stream=rng.random() < 0.4)
            work.append(("clean_up", body, [], marker, "chat"))
        elif r < 0.88:  # hard negatives (code, hashes, ...) to the frontier: up unless a false positive
            text = rng.choice(neg) + f" {marker}"
            work.append(("neg_up", place(text, "user", "frontier", 16), [], marker, "chat"))
        elif r < 0.95:  # clean, local
            work.append(("clean_local", place(f"Once upon a time {marker}", "user", "demo", 1), [], None, "chat"))
        else:           # Ollama endpoint, sensitive or frontier
            text, secrets, group = rng.choice(pos)
            if rng.random() < 0.5:
                body = {"model": "demo", "messages": [{"role": "user", "content": text}], "stream": False,
                        "options": {"num_predict": 1}}
                work.append(("ollama_pos", body, secrets, None, "ollama"))
            else:
                body = {"model": "frontier", "messages": [{"role": "user", "content": f"hi {marker}"}],
                        "stream": False}
                work.append(("ollama_frontier", body, [], marker, "ollama"))
    return work


def send(srv, item):
    kind, body, secrets, marker, endpoint = item
    path = "/v1/chat/completions" if endpoint == "chat" else "/api/chat"
    status, headers, data = srv.request("POST", path, body, timeout=120)
    return item, status, headers, data


def upstream_texts(up):
    """Every string inside every recorded body, joined (what left the machine)."""
    out = []

    def walk(j):
        if isinstance(j, str):
            out.append(j)
        elif isinstance(j, list):
            for v in j:
                walk(v)
        elif isinstance(j, dict):
            for k, v in j.items():
                out.append(k)
                walk(v)
    for r in up.requests():
        try:
            walk(json.loads(r["body"]))
        except ValueError:
            out.append(r["body"])
    return "\x00".join(out)


def check_results(results, up):
    routes = Counter()
    bad_headers, bad_status = [], []
    for (kind, body, secrets, marker, endpoint), status, headers, data in results:
        route, rule = headers.get("x-localmax-route", ""), headers.get("x-localmax-rule", "")
        routes[(kind, route.split(":")[0], rule)] += 1
        expect = {"pos_up": ("local", "sensitive-stays-local"), "pos_local": ("local", "sensitive-stays-local"),
                  "clean_local": ("local", "default-local"), "ollama_pos": ("local", "sensitive-stays-local"),
                  "ollama_frontier": ("refused", "frontier")}.get(kind)
        if kind == "clean_up":
            expect = ("upstream", body["model"])
        if expect and (route.split(":")[0] != expect[0] or rule != expect[1]):
            bad_headers.append((kind, route, rule))
        if not headers.get("x-localmax-request-id"):
            bad_headers.append((kind, "no request id", ""))
        ok = {"clean_up": (200,), "ollama_frontier": (400,)}.get(kind, (200, 400))
        if status not in ok:
            bad_status.append((kind, status, data[:200]))
    print("routes:", dict(routes))
    check(not bad_headers, f"every response names the expected route and rule ({bad_headers[:5]})")
    check(not bad_status, f"statuses as expected ({bad_status[:3]})")

    sent_up = upstream_texts(up)
    leaked = [s for r in results for s in r[0][2] if s and s in sent_up]
    n_secrets = sum(len(r[0][2]) for r in results)
    check(n_secrets > len(results) // 2 and not leaked,
          f"no positive example reached the upstream ({n_secrets} sent, {len(leaked)} leaked: "
          f"{[x[:8] + '...' for x in leaked[:3]]})")
    markers_up = Counter()
    for r in up.requests():
        for m in set(__import__("re").findall(r"MARK\d{6}Z", r["body"])):
            markers_up[m] += 1
    clean = [r for r in results if r[0][0] == "clean_up"]
    missing = [r[0][3] for r in clean if markers_up[r[0][3]] != 1]
    check(clean and not missing, f"every clean frontier/claude request reached the upstream exactly once "
                                 f"({len(clean)} sent, {len(missing)} not: {missing[:3]})")
    neg_up = [r for r in results if r[0][0] == "neg_up"]
    neg_ok = all((markers_up[r[0][3]] == 1) == r[2].get("x-localmax-route", "").startswith("upstream") for r in neg_up)
    check(neg_ok, f"hard negatives: upstream exactly when the header says so ({len(neg_up)} sent)")
    ollama_up = [r for r in results if r[0][0] == "ollama_frontier" and markers_up[r[0][3]]]
    check(not ollama_up, "an upstream decision on /api/chat is a refusal, nothing sent")
    n_upstream = sum(1 for r in results if r[2].get("x-localmax-route", "").startswith("upstream"))
    check(up.count() == n_upstream, f"upstream received one request per upstream route ({up.count()} vs {n_upstream})")
    for r in clean[:50]:
        if r[0][1].get("stream"):
            events, done = sse_events(r[3])
            text = "".join((e["choices"][0]["delta"].get("content") or "") for e in events if e.get("choices"))
        else:
            text = json.loads(r[3])["choices"][0]["message"]["content"]
        if r[0][3] not in text:
            check(False, f"upstream reply relayed: {text[:100]!r}")
            break
    else:
        check(True, "upstream replies (whole and streamed) relayed to the client")
    return n_upstream


def check_audit(results, audit_log, n_upstream):
    p = lmtest.run("audit", "verify", "--log", audit_log, check=False)
    check(p.returncode == 0, f"audit verify passes: {p.stdout.strip()} {p.stderr.strip()}")
    raw = open(audit_log, encoding="utf-8").read()
    entries = [json.loads(line) for line in raw.splitlines() if line.strip()]
    by_id = defaultdict(list)
    for e in entries:
        by_id[e["request_id"]].append(e)
    ids = [r[2].get("x-localmax-request-id") for r in results]
    outcome_ok = all(sum(1 for e in by_id[i] if e["route"] != "egress") == 1 for i in ids)
    check(outcome_ok and len(set(ids)) == len(ids), f"one outcome entry per request ({len(entries)} entries, "
                                                      f"{len(ids)} requests)")
    egress = [e for e in entries if e["route"] == "egress"]
    check(len(egress) == n_upstream, f"an egress entry before each upstream send ({len(egress)} vs {n_upstream})")
    egress_ok = all(any(x["route"] == "egress" and x["seq"] < e["seq"] for x in by_id[e["request_id"]])
                    for e in entries if e["route"] == "upstream")
    check(egress_ok, "every upstream outcome follows its egress entry")
    det_ok = True
    for (kind, body, secrets, marker, endpoint), status, headers, data in results:
        if kind.startswith("pos") or kind == "ollama_pos":
            outcome = [e for e in by_id[headers.get("x-localmax-request-id")] if e["route"] != "egress"]
            det_ok &= bool(outcome and outcome[0]["detectors"] and all(
                isinstance(v, int) and v > 0 for v in outcome[0]["detectors"].values()))
    check(det_ok, "every sensitive request's entry has detector kinds and counts")
    kinds = Counter(k for e in entries for k in e["detectors"])
    print("detector kinds in the audit:", dict(kinds))
    secrets = {s for r in results for s in r[0][2] if len(s) >= 6}
    leaked = [s for s in secrets if s in raw]
    check(not leaked, f"the audit log holds none of the {len(secrets)} sensitive values ({len(leaked)} found)")
    up_entries = [e for e in entries if e["route"] == "upstream"]
    check(all(e["tokens_in"] > 0 and e["tokens_out"] > 0 and e["request_sha256"] for e in up_entries),
          "upstream entries carry tokens and the request hash")
    costs = json.loads(lmtest.run("costs", "--log", audit_log, "--json").stdout)
    hosted = costs.get("hosted", {}).get("requests")
    local = costs.get("local", {}).get("requests")
    n_local = sum(1 for r in results if r[2].get("x-localmax-route", "").startswith("local")) + 2  # + 2 streams
    check(hosted == n_upstream and local == n_local,
          f"localmax costs counts the same requests (hosted {hosted}/{n_upstream}, local {local}/{n_local})")


def check_extras(srv, up):
    status, models = srv.json("GET", "/v1/models")
    owned = {m["id"]: m["owned_by"] for m in models["data"]}
    check(owned.get("gpt-rec") == "rec" and owned.get("claude-rec") == "anth",
          f"/v1/models lists the upstream models with their provider ({owned})")
    before = up.count()
    email = "jane.doe@example.org"
    body = {"model": "frontier-redact", "messages": [{"role": "user", "content": f"mail {email} now"}]}
    status, headers, data = srv.request("POST", "/v1/chat/completions", body)
    last = up.requests()[-1]["body"] if up.count() > before else ""
    reply = json.loads(data)["choices"][0]["message"]["content"] if status == 200 else data
    check(status == 200 and email not in last and "[EMAIL_1]" in last and reply == f"echo: mail {email} now",
          f"redaction: placeholder sent, reply restored ({status}, {reply!r})")
    body["stream"] = True
    status, headers, data = srv.request("POST", "/v1/chat/completions", body)
    events, done = sse_events(data) if status == 200 else ([], False)
    text = "".join((e["choices"][0]["delta"].get("content") or "") for e in events if e.get("choices"))
    check(status == 200 and done and text == f"echo: mail {email} now" and email not in up.requests()[-1]["body"],
          f"redaction, streamed: restored across chunk boundaries ({text!r})")
    body = {"model": "frontier", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    status, headers, data = srv.request("POST", "/api/generate", {"model": "frontier", "prompt": "hi", "stream": False})
    check(status == 400 and headers.get("x-localmax-route") == "refused" and "/v1/chat/completions" in data.decode(),
          f"/api/generate: an upstream decision is a refusal naming /v1/chat/completions ({status})")
    status, headers, data = srv.request("POST", "/v1/chat/completions", "{not json")
    check(status == 400 and headers.get("x-localmax-route") == "refused", f"malformed body: 400, refused ({status})")
    # Local streams (SSE and NDJSON) are audited when they end, with their token counts.
    stream_ids = []
    for path, body in [("/v1/chat/completions", {"model": "demo", "max_tokens": 3, "stream": True,
                                                 "messages": [{"role": "user", "content": "Once"}]}),
                       ("/api/chat", {"model": "demo", "options": {"num_predict": 3},
                                      "messages": [{"role": "user", "content": "Once"}]})]:
        status, headers, data = srv.request("POST", path, body)
        check(status == 200 and headers.get("x-localmax-route") == "local:demo", f"local stream on {path} ({status})")
        stream_ids.append(headers.get("x-localmax-request-id"))
    return stream_ids


def main():
    pos, neg = positives_and_negatives()
    check(len(pos) > 300 and len(neg) > 50, f"corpus: {len(pos)} positives, {len(neg)} hard negatives")
    d = lmtest.tmpdir("router")
    audit_log = os.path.join(d, "audit.jsonl")
    for f in (audit_log, audit_log + ".head"):
        if os.path.exists(f):
            os.remove(f)
    up = RecordingUpstream(os.path.join(d, "upstream.jsonl"))
    cfg = router_config(os.path.join(d, "router.json"), up, [REDACT_RULE] + DEFAULT_RULES + FRONTIER_RULES, audit_log)
    os.environ["LM_TEST_UPSTREAM_KEY"] = "sk-test-not-a-real-key-0123456789"
    srv = Server("-m", f"demo={MODEL}", "--parallel", 4, "-c", 512, "-t", 2, "--router-config", cfg)
    try:
        rng = random.Random(1234)
        work = build_workload(pos, neg, N_REQUESTS, rng)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda it: send(srv, it), work))
        n_upstream = check_results(results, up)
        stream_ids = check_extras(srv, up)
        n_upstream_total = n_upstream + 2   # the two redaction requests went up too
    finally:
        rc = srv.stop()
    check(rc == 0, f"serve exits cleanly ({rc})")
    check_audit(results, audit_log, n_upstream_total)   # the extra requests add entries of their own
    entries = {e["request_id"]: e for e in map(json.loads, open(audit_log)) if e["route"] != "egress"}
    streamed = [entries.get(i, {}) for i in stream_ids]
    check(all(e.get("route") == "local" and e.get("tokens_in", 0) > 0 and e.get("tokens_out", 0) > 0 for e in streamed),
          f"local streams audited with tokens ({[(e.get('tokens_in'), e.get('tokens_out')) for e in streamed]})")
    up.stop()
    finish()


if __name__ == "__main__":
    main()
