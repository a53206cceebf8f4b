#!/usr/bin/env python3
"""Upstream faults through `localmax serve --router-config` (issue 5, "Done when"): a timeout,
429 with Retry-After, 500, a reset mid-stream, malformed JSON (whole and streamed), connection
refused, and policy fallbacks (to another upstream, to the local model). Each gives the client a
clean OpenAI error (or the fallback's answer), names the route and rule in headers, and is in the
audit log with its error kind.
Run alone: LM_BIN=build/bin/localmax python3 tests/e2e/test_router_faults.py"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmtest  # noqa: E402
from lmtest import check, finish, skip  # noqa: E402
from router_upstream import RecordingUpstream, router_config  # noqa: E402
from server_util import Server, sse_events  # noqa: E402

MODEL = os.path.join(lmtest.SOURCE, "models", "demo.gguf")
if not os.path.exists(MODEL):
    skip("models/demo.gguf not found")


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there now: connection refused
    return port


def providers(up):
    def p(name, fault, **kw):
        d = {"name": name, "type": "openai", "base_url": up.base_url, "api_key_env": "LM_TEST_UPSTREAM_KEY",
             "models": ["gpt-rec"], "max_retries": 0, "connect_timeout_ms": 1000, "timeout_ms": 5000,
             "headers": {"X-Fault": fault} if fault else {}}
        d.update(kw)
        return d
    return [p("slow", "delay-4000", timeout_ms=1000), p("limited", "429-7"), p("broken", "500"),
            p("resetting", "reset"), p("garbage", "malformed"),
            p("nowhere", "", base_url=f"http://127.0.0.1:{closed_port()}/v1"),
            p("flaky", "500", max_retries=2, backoff_ms=50)]


def rules():
    out = []
    for name in ["slow", "limited", "broken", "resetting", "garbage", "nowhere", "flaky"]:
        out.append({"name": f"to-{name}", "when": {"model": f"m-{name}"},
                    "route": {"provider": name, "model": "gpt-rec"}})
    out.append({"name": "fb-upstream", "when": {"model": "m-fb-upstream"},
                "route": {"provider": "limited", "model": "gpt-rec"},
                "fallback": [{"provider": "broken", "model": "gpt-rec"}, {"provider": "rec", "model": "gpt-rec"}]})
    out.append({"name": "fb-local", "when": {"model": "m-fb-local"},
                "route": {"provider": "nowhere", "model": "gpt-rec"}, "fallback": [{"local": "demo"}]})
    out.append({"name": "default-local", "route": "local"})
    return out


def chat(srv, model, stream=False):
    body = {"model": model, "messages": [{"role": "user", "content": "hello upstream world"}], "max_tokens": 4}
    if stream:
        body["stream"] = True
    t0 = time.time()
    status, headers, data = srv.request("POST", "/v1/chat/completions", body, timeout=60)
    return status, headers, data, time.time() - t0


def error_of(data):
    try:
        return json.loads(data)["error"]
    except (ValueError, KeyError, TypeError):
        return {}


def main():
    d = lmtest.tmpdir("router_faults")
    audit_log = os.path.join(d, "audit.jsonl")
    for f in (audit_log, audit_log + ".head"):
        if os.path.exists(f):
            os.remove(f)
    up = RecordingUpstream(os.path.join(d, "upstream.jsonl"))
    cfg = router_config(os.path.join(d, "router.json"), up, rules(), audit_log, extra_providers=providers(up))
    os.environ["LM_TEST_UPSTREAM_KEY"] = "sk-test-fault-key-abcdef0123456789"
    srv = Server("-m", f"demo={MODEL}", "-c", 256, "-t", 2, "--router-config", cfg)
    ids = {}
    try:
        status, h, data, dt = chat(srv, "m-slow")
        e = error_of(data)
        check(status == 504 and e.get("code") == "upstream_timeout" and dt < 4,
              f"timeout: 504 upstream_timeout in {dt:.1f}s ({status} {e})")
        ids["timeout"] = h.get("x-localmax-request-id")

        status, h, data, dt = chat(srv, "m-limited")
        e = error_of(data)
        check(status == 429 and h.get("retry-after") == "7" and e.get("type") == "rate_limit_error",
              f"429: passed through with Retry-After 7 ({status} {h.get('retry-after')} {e})")
        ids["rate_limited"] = h.get("x-localmax-request-id")

        status, h, data, dt = chat(srv, "m-broken")
        check(status == 502 and error_of(data).get("code") == "upstream_server_error",
              f"500 upstream: 502 upstream_server_error ({status} {error_of(data)})")
        ids["server_error"] = h.get("x-localmax-request-id")

        n0 = up.count()
        status, h, data, dt = chat(srv, "m-flaky")
        check(status == 502 and up.count() - n0 == 3, f"retries: 3 attempts (1 + max_retries 2) then 502 "
                                                       f"({status}, {up.count() - n0} attempts)")

        status, h, data, dt = chat(srv, "m-resetting", stream=True)
        events, done = sse_events(data) if status == 200 else ([], False)
        got_text = any(e.get("choices") and e["choices"][0]["delta"].get("content") for e in events)
        err = [e for e in events if "error" in e]
        check(status == 200 and got_text and err and done and h.get("x-localmax-route") == "upstream:resetting/gpt-rec",
              f"reset mid-stream: chunks, then an SSE error event and [DONE] ({status}, {len(events)} events, {err[:1]})")
        ids["reset_mid_stream"] = h.get("x-localmax-request-id")

        status, h, data, dt = chat(srv, "m-garbage")
        check(status == 502 and error_of(data).get("code") == "upstream_malformed",
              f"malformed JSON: 502 upstream_malformed ({status} {error_of(data)})")
        ids["malformed"] = h.get("x-localmax-request-id")
        status, h, data, dt = chat(srv, "m-garbage", stream=True)
        check(status == 502 and error_of(data).get("code") == "upstream_malformed",
              f"malformed first SSE chunk: a clean 502 before any chunk ({status} {data[:120]!r})")

        status, h, data, dt = chat(srv, "m-nowhere")
        check(status == 502 and error_of(data).get("code") == "upstream_connect",
              f"connection refused: 502 upstream_connect ({status} {error_of(data)})")
        ids["connect"] = h.get("x-localmax-request-id")

        for stream in (False, True):
            status, h, data, dt = chat(srv, "m-fb-upstream", stream=stream)
            if stream:
                events, done = sse_events(data) if status == 200 else ([], False)
                text = "".join((e["choices"][0]["delta"].get("content") or "") for e in events if e.get("choices"))
            else:
                text = json.loads(data)["choices"][0]["message"]["content"] if status == 200 else ""
            check(status == 200 and text == "echo: hello upstream world" and
                  h.get("x-localmax-route") == "upstream:rec/gpt-rec" and h.get("x-localmax-rule") == "fb-upstream",
                  f"fallback to another upstream after 429 and 500 (stream={stream}: {status} {h.get('x-localmax-route')})")
            ids[f"fb_upstream_{stream}"] = h.get("x-localmax-request-id")

        status, h, data, dt = chat(srv, "m-fb-local")
        check(status == 200 and h.get("x-localmax-route") == "local:demo" and json.loads(data)["choices"],
              f"fallback to the local model after connection refused ({status} {h.get('x-localmax-route')})")
        ids["fb_local"] = h.get("x-localmax-request-id")
    finally:
        rc = srv.stop()
    check(rc == 0, f"serve exits cleanly ({rc})")
    up.stop()

    p = lmtest.run("audit", "verify", "--log", audit_log, check=False)
    check(p.returncode == 0, f"audit verify: {p.stdout.strip()}")
    entries = [json.loads(line) for line in open(audit_log) if line.strip()]
    outcome = {e["request_id"]: e for e in entries if e["route"] != "egress"}
    for kind in ["timeout", "rate_limited", "server_error", "reset_mid_stream", "malformed", "connect"]:
        e = outcome.get(ids.get(kind), {})
        check(e.get("route") == "upstream" and e.get("error", "").startswith(kind + ":"),
              f"audit: {kind} recorded as the error kind ({e.get('error')!r})")
    for stream in (False, True):
        e = outcome.get(ids.get(f"fb_upstream_{stream}"), {})
        check(e.get("route") == "upstream" and e.get("destination") == "rec" and not e.get("error") and
              e.get("fallback", "").startswith("limited/gpt-rec rate_limited -> broken/gpt-rec server_error -> rec/gpt-rec"),
              f"audit: the fallback chain is recorded ({e.get('fallback')!r})")
    e = outcome.get(ids.get("fb_local"), {})
    check(e.get("route") == "local" and "connect" in e.get("fallback", "") and e.get("destination") == "demo",
          f"audit: local fallback recorded ({e.get('fallback')!r})")
    egress_ids = [x["request_id"] for x in entries if x["route"] == "egress"]
    check(egress_ids.count(ids.get("fb_upstream_False")) == 3,
          "an egress entry before each target of a fallback chain (3)")
    raw = open(audit_log).read()
    check("sk-test-fault-key" not in raw and "hello upstream world" not in raw,
          "the audit log holds neither the API key nor the request text")
    finish()


if __name__ == "__main__":
    main()
