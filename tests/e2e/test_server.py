"""`localmax serve` end to end with the demo model: OpenAI and Ollama APIs, streaming, errors,
auth, size limits, 1,000 malformed requests, 16 concurrent streams equal to solo runs, client
disconnects freeing their slot, graceful shutdown."""
import json
import os
import random
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from lmtest import SOURCE, check, finish, skip
from server_util import Server, metric, ndjson, sse_events

MODEL = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(MODEL):
    skip("models/demo.gguf not found")

srv = Server("-m", MODEL, "--parallel", 4, "-c", 256, "-t", 2, "--max-body-bytes", 65536)
try:
    # ---- basics ------------------------------------------------------------------------------
    st, body = srv.json("GET", "/health")
    check(st == 200 and body == {"status": "ok"}, "/health answers ok")
    st, body = srv.json("GET", "/v1/models")
    check(st == 200 and body["object"] == "list" and body["data"][0]["id"] == "demo",
          f"/v1/models lists the demo model ({body})")
    st, body = srv.json("GET", "/v1/models/demo")
    check(st == 200 and body["id"] == "demo", "/v1/models/demo")

    # ---- /v1/completions ---------------------------------------------------------------------
    req = {"model": "demo", "prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}
    st, c = srv.json("POST", "/v1/completions", req)
    check(st == 200 and c["object"] == "text_completion" and c["id"].startswith("cmpl-"),
          f"completion ok ({st})")
    text = c["choices"][0]["text"]
    u = c["usage"]
    check(c["choices"][0]["finish_reason"] == "length" and u["completion_tokens"] == 12,
          f"max_tokens → finish_reason length, 12 tokens ({c['choices'][0]['finish_reason']}, {u})")
    check(u["prompt_tokens"] > 0 and u["total_tokens"] == u["prompt_tokens"] + 12 and
          "cached_tokens" in u["prompt_tokens_details"], "usage fields")
    check(len(text) > 0 and "system_fingerprint" in c and c["model"] == "demo", f"text: {text!r}")
    st, c2 = srv.json("POST", "/v1/completions", req)
    check(c2["choices"][0]["text"] == text, "greedy completion is deterministic")
    check(c2["usage"]["prompt_tokens_details"]["cached_tokens"] > 0,
          f"the repeated prompt hits the prefix cache ({c2['usage']})")

    st, h, data = srv.request("POST", "/v1/completions",
                              dict(req, stream=True, stream_options={"include_usage": True}))
    events, done = sse_events(data)
    streamed = "".join(e["choices"][0]["text"] for e in events if e["choices"])
    check(st == 200 and h.get("content-type", "").startswith("text/event-stream") and done,
          "completion stream is SSE ending with [DONE]")
    check(streamed == text, f"streamed text equals non-streamed ({streamed!r})")
    check(events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 12,
          "include_usage → final chunk with usage and empty choices")
    finals = [e for e in events if e["choices"] and e["choices"][0]["finish_reason"]]
    check(len(finals) == 1 and finals[0]["choices"][0]["finish_reason"] == "length",
          "one chunk carries finish_reason")

    # Stop strings: cut before the first occurrence, finish_reason stop.
    cut = len(text) // 2
    stop = text[cut:cut + 3]
    st, s = srv.json("POST", "/v1/completions", dict(req, stop=[stop]))
    want = text[:text.find(stop)]
    check(st == 200 and s["choices"][0]["text"] == want and s["choices"][0]["finish_reason"] == "stop",
          f"stop {stop!r} → {s['choices'][0]['text']!r} (want {want!r})")

    # Token-id prompt equals the text prompt's tokens.
    st, t = srv.json("POST", "/v1/completions", {"prompt": [1, 300, 400], "max_tokens": 3,
                                                  "temperature": 0})
    check(st == 200 and t["usage"]["prompt_tokens"] == 3, f"token-id prompt ({st}, {t})")
    st, lp = srv.json("POST", "/v1/completions", dict(req, logprobs=2))
    lps = lp["choices"][0]["logprobs"]
    check(st == 200 and len(lps["tokens"]) == 12 and all(v <= 0 for v in lps["token_logprobs"]) and
          all(len(x) <= 2 for x in lps["top_logprobs"]), "completion logprobs")

    # ---- /v1/chat/completions ----------------------------------------------------------------
    chat = {"model": "demo", "messages": [{"role": "user", "content": "Tell me a story."}],
            "max_tokens": 10, "temperature": 0}
    st, r = srv.json("POST", "/v1/chat/completions", chat)
    check(st == 200 and r["object"] == "chat.completion" and r["id"].startswith("chatcmpl-"),
          f"chat ok ({st})")
    msg = r["choices"][0]["message"]
    check(msg["role"] == "assistant" and isinstance(msg["content"], str) and
          r["choices"][0]["finish_reason"] in ("length", "stop") and r["usage"]["completion_tokens"] <= 10,
          f"chat message ({r['choices'][0]})")
    st, h, data = srv.request("POST", "/v1/chat/completions", dict(chat, stream=True))
    events, done = sse_events(data)
    check(done and events[0]["choices"][0]["delta"].get("role") == "assistant" and
          events[0]["object"] == "chat.completion.chunk", "chat stream starts with the role")
    streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    check(streamed == msg["content"], f"chat stream equals non-stream ({streamed!r} vs {msg['content']!r})")
    check(events[-1]["choices"][0]["finish_reason"] == r["choices"][0]["finish_reason"],
          "chat stream ends with the finish_reason")
    st, r2 = srv.json("POST", "/v1/chat/completions", dict(chat, logprobs=True, top_logprobs=3))
    content = r2["choices"][0]["logprobs"]["content"]
    check(st == 200 and len(content) == r2["usage"]["completion_tokens"] and
          all(len(x["top_logprobs"]) == 3 and x["logprob"] <= 0 for x in content), "chat logprobs")
    st, r3 = srv.json("POST", "/v1/chat/completions", dict(chat, seed=5, temperature=1.0))
    st, r4 = srv.json("POST", "/v1/chat/completions", dict(chat, seed=5, temperature=1.0))
    check(r3["choices"][0]["message"] == r4["choices"][0]["message"], "same seed, same sampled reply")

    # ---- Ollama ------------------------------------------------------------------------------
    st, v = srv.json("GET", "/api/version")
    check(st == 200 and "version" in v, "/api/version")
    st, tags = srv.json("GET", "/api/tags")
    check(st == 200 and tags["models"][0]["name"] == "demo:latest" and
          tags["models"][0]["details"]["format"] == "gguf", f"/api/tags ({tags})")
    st, ps = srv.json("GET", "/api/ps")
    check(st == 200 and ps["models"][0]["name"] == "demo:latest", "/api/ps")
    st, show = srv.json("POST", "/api/show", {"model": "demo:latest"})
    check(st == 200 and show["model_info"]["general.architecture"] == "llama" and
          show["details"]["family"] == "llama", "/api/show")
    st, miss = srv.json("POST", "/api/show", {"model": "nope"})
    check(st == 404 and "nope" in miss["error"], "/api/show unknown model → 404 {error}")
    gen = {"model": "demo", "prompt": "Once upon a time", "options": {"temperature": 0, "num_predict": 12}}
    st, h, data = srv.request("POST", "/api/generate", gen)
    lines = ndjson(data)
    check(st == 200 and h.get("content-type", "").startswith("application/x-ndjson") and
          lines[-1]["done"] and all(not l["done"] for l in lines[:-1]), "generate streams NDJSON by default")
    last = lines[-1]
    check(last["done_reason"] == "length" and last["eval_count"] == 12 and last["prompt_eval_count"] >= 0
          and last["total_duration"] > 0 and "eval_duration" in last and "load_duration" in last,
          f"final object statistics ({last})")
    gtext = "".join(l["response"] for l in lines)
    check(gtext == text, f"/api/generate equals /v1/completions for the raw prompt ({gtext!r})")
    st, one = srv.json("POST", "/api/generate", dict(gen, stream=False))
    check(st == 200 and one["response"] == gtext and one["done"], "generate stream:false → one object")
    st, load = srv.json("POST", "/api/generate", {"model": "demo"})
    check(st == 200 and load["done_reason"] == "load", "empty generate = load request")
    ochat = {"model": "demo", "messages": chat["messages"], "options": {"temperature": 0, "num_predict": 10}}
    st, oc = srv.json("POST", "/api/chat", dict(ochat, stream=False))
    check(st == 200 and oc["message"]["role"] == "assistant" and oc["message"]["content"] == msg["content"],
          f"/api/chat equals /v1/chat/completions ({oc['message']})")
    st, h, data = srv.request("POST", "/api/chat", ochat)
    lines = ndjson(data)
    check("".join(l["message"]["content"] for l in lines) == msg["content"] and lines[-1]["done"],
          "/api/chat stream")
    st, e = srv.json("POST", "/api/generate", dict(gen, options={"num_ctx": 100000}))
    check(st == 400 and "100000" in e["error"] and "256" in e["error"], f"num_ctx above the loaded context ({e})")
    st, e = srv.json("POST", "/api/embed", {"model": "demo", "input": "x"})
    check(st == 200 and len(e["embeddings"][0]) == 192, "/api/embed answers (test_server_embeddings.py)")

    # ---- errors -------------------------------------------------------------------------------
    st, e = srv.json("POST", "/v1/chat/completions", dict(chat, temperature=-1))
    check(st == 400 and e["error"]["param"] == "temperature" and
          e["error"]["type"] == "invalid_request_error", f"bad temperature → 400 naming it ({e})")
    st, e = srv.json("POST", "/v1/chat/completions", dict(chat, n=2))
    check(st == 400 and e["error"]["param"] == "n", "n=2 → 400")
    st, e = srv.json("POST", "/v1/chat/completions",
                     dict(chat, response_format={"type": "json_schema", "json_schema": {}}))
    check(st == 400 and e["error"]["param"] == "response_format", "json_schema without a schema → 400")
    st, e = srv.json("POST", "/v1/chat/completions", dict(chat, model="gpt-4"))
    check(st == 404 and e["error"]["code"] == "model_not_found", "unknown model → 404")
    long_prompt = "the cat sat on the mat and " * 100
    st, e = srv.json("POST", "/v1/completions", {"prompt": long_prompt, "max_tokens": 5})
    nums = [int(x) for x in __import__("re").findall(r"\d+", e["error"]["message"])] if st == 400 else []
    check(st == 400 and 256 in nums and any(n > 256 for n in nums),
          f"prompt longer than the context → 400 with both numbers ({e})")
    st, h, data = srv.request("POST", "/v1/chat/completions", b"x" * 70000)
    check(st == 413 and json.loads(data)["error"]["message"], f"body over --max-body-bytes → 413 ({st})")
    st, e = srv.json("GET", "/v1/chat/completions")
    check(st == 405 and "error" in e, f"wrong method → 405 ({st})")
    st, e = srv.json("GET", "/nope")
    check(st == 404 and "error" in e, "unknown path → 404 JSON")

    # ---- 1,000 malformed requests ------------------------------------------------------------
    rnd = random.Random(1234)
    paths = ["/v1/chat/completions", "/v1/completions", "/api/generate", "/api/chat", "/api/show"]
    good_chat = json.dumps(chat)

    openai_bad = [("temperature", "x"), ("temperature", -1), ("top_p", 2), ("max_tokens", 0),
                  ("max_tokens", 2 ** 70), ("max_tokens", 1e308), ("stream", "yes"), ("n", 5),
                  ("stop", 7), ("seed", "x"), ("seed", 1.5), ("seed", 2 ** 70), ("top_k", [1]),
                  ("logit_bias", {"1": 5}), ("model", 5), ("min_p", -1e308),
                  ("response_format", {"type": "json_schema", "json_schema": {"schema": {"pattern": "x"}}}),
                  ("stream_options", [])]
    ollama_bad = [("temperature", "x"), ("temperature", -1), ("top_p", 2), ("num_predict", 0),
                  ("num_predict", 2 ** 70), ("seed", "x"), ("seed", 2 ** 70), ("num_ctx", 10 ** 9),
                  ("stop", 5), ("mirostat", 2), ("top_k", 1.5), ("repeat_penalty", 0)]

    def bad_body(path):
        """A well-formed JSON body with exactly one invalid field for this endpoint."""
        if path == "/api/show":
            return json.dumps(rnd.choice([{"model": 5}, {"name": []}, {"model": "no-such-model"}]))
        if path.startswith("/api/"):
            key, val = rnd.choice(ollama_bad)
            base = {"model": "demo", "prompt": "x"} if path == "/api/generate" else \
                {"model": "demo", "messages": [{"role": "user", "content": "x"}]}
            return json.dumps(dict(base, options={key: val}))
        key, val = rnd.choice(openai_bad)
        base = {"prompt": "x"} if path == "/v1/completions" else {"messages": chat["messages"]}
        return json.dumps(dict(base, **{key: val}))

    def malformed(i):
        kind = i % 10
        path = rnd.choice(paths)
        if kind == 0:
            return "POST", path, good_chat[: rnd.randrange(1, len(good_chat) - 1)]   # truncated JSON
        if kind == 1:
            return "POST", path, bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
        if kind in (2, 8):
            return "POST", path, bad_body(path)
        if kind == 3:
            return rnd.choice(["PUT", "DELETE", "PATCH", "GET"]), path, "{}"
        if kind == 4:
            return "GET", "/" + "".join(rnd.choice("abcxyz/%.") for _ in range(rnd.randrange(1, 30))), None
        if kind == 5:
            return "POST", path, "[" * rnd.randrange(1, 5000)
        if kind == 6:
            msgs = [{"role": rnd.choice(["x", 5, None]), "content": "a"}]
            if path == "/v1/completions":
                return "POST", path, json.dumps({"prompt": rnd.choice([5, [-1], [[1], [2]], {"a": 1}])})
            if path in ("/api/generate", "/api/show"):
                return "POST", path, json.dumps({"model": "demo", "prompt": 5, "name": 5})
            return "POST", path, json.dumps({"model": "demo", "messages": msgs})
        if kind == 7:
            return "POST", path, json.dumps(rnd.choice([[], "s", 1, None, [{"model": "demo"}]]))
        return "POST", path, '{"a":"\\ud800"' + "}" * rnd.randrange(0, 3)

    import http.client
    bad = []
    conn = srv.conn(timeout=30)
    t0 = time.time()
    for i in range(1000):
        method, path, body = malformed(i)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = srv.conn(timeout=30)
        except (http.client.HTTPException, OSError) as ex:
            conn.close()
            conn = srv.conn(timeout=30)
            status, data = -1, str(ex).encode()
        ok = 400 <= status < 500
        if ok and status not in (404, 405, 413):
            try:
                ok = "error" in json.loads(data)
            except ValueError:
                ok = False
        if not ok:
            bad.append((method, path, str(body)[:80], status, data[:200]))
    conn.close()
    check(not bad, f"1,000 malformed requests each get a 4xx with an error body in {time.time() - t0:.1f} s "
                   f"({len(bad)} did not: {bad[:3]})")
    # Truncated bodies through a raw socket: fewer bytes than Content-Length, then half-close.
    raw_bad = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 500\r\n\r\n{\"messages\":[")
        s.shutdown(socket.SHUT_WR)
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
        s.close()
        if not (reply == b"" or reply.startswith(b"HTTP/1.1 4")):
            raw_bad.append(reply[:100])
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GARBAGE\r\n\r\n")
    reply = s.recv(4096)
    s.close()
    check(reply.startswith(b"HTTP/1.1 4"), f"garbage request line → 4xx ({reply[:40]!r})")
    st, body = srv.json("GET", "/health")
    check(st == 200 and not raw_bad, f"{raw_bad[:2]} truncated requests get no answer or a 4xx; /health still answers")

    # ---- 16 concurrent streams == each alone ---------------------------------------------------
    subjects = ["Lily", "Tom", "the dog", "a cat", "Ben", "Mia", "the bird", "Sam",
                "a frog", "Anna", "the bear", "Max", "a fish", "Zoe", "the duck", "Leo"]
    reqs = [{"model": "demo", "prompt": f"Once upon a time, {s} went to the park" + " and" * (i % 4),
             "max_tokens": 16 + i, "temperature": 0, "stream": True} for i, s in enumerate(subjects)]

    def stream_text(r):
        st, _, data = srv.request("POST", "/v1/completions", r, timeout=120)
        events, done = sse_events(data)
        return st, done, "".join(e["choices"][0]["text"] for e in events if e["choices"])

    alone = [stream_text(r) for r in reqs]
    t0 = time.time()
    with ThreadPoolExecutor(16) as ex:
        together = list(ex.map(stream_text, reqs))
    check(all(a[0] == 200 and a[1] for a in alone + together), "all 32 streams completed")
    diffs = [i for i in range(16) if alone[i][2] != together[i][2]]
    check(not diffs, f"16 concurrent greedy streams equal each request alone ({time.time() - t0:.1f} s; "
                     f"differ: {[(alone[i][2], together[i][2]) for i in diffs[:2]]})")

    # ---- a client that disconnects mid-stream frees its slot ------------------------------------
    long_req = {"prompt": "Once upon a time", "max_tokens": 240, "temperature": 0}
    st, full = srv.json("POST", "/v1/completions", long_req)
    n_full = full["usage"]["completion_tokens"]
    _, _, data = srv.request("GET", "/metrics")
    tokens_before = metric(data.decode(), "localmax_completion_tokens_total")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    body = json.dumps(dict(long_req, stream=True)).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    first = b""
    while b"data: " not in first:   # wait for the first generated text
        chunk = s.recv(4096)
        if not chunk:
            break
        first += chunk
    s.close()
    check(first.startswith(b"HTTP/1.1 200"), "stream started before the disconnect")
    freed = False
    t0 = time.time()
    while time.time() - t0 < 5:
        st, _, data = srv.request("GET", "/metrics")
        if metric(data.decode(), "localmax_requests_running") == 0:
            freed = True
            break
        time.sleep(0.05)
    st, _, data = srv.request("GET", "/metrics")
    m = data.decode()
    n_streamed = metric(m, "localmax_completion_tokens_total") - tokens_before
    check(freed and n_streamed < n_full,
          f"disconnected stream cancelled: slot freed in {time.time() - t0:.2f} s after "
          f"{n_streamed:.0f} of {n_full} tokens")
    check(metric(m, "localmax_http_requests_total") > 1000 and
          'endpoint="/v1/completions",status="200"' in m and
          metric(m, "localmax_completion_tokens_total") > 0 and
          metric(m, "localmax_time_to_first_token_seconds_count") > 0 and
          metric(m, "localmax_prefix_cache_hits_total") > 0 and "localmax_kv_cells_used" in m,
          "/metrics: requests by endpoint/status, tokens, TTFT histogram, prefix hits, KV use")
finally:
    rc = srv.stop(signal.SIGTERM)
check(rc == 0, f"SIGTERM → clean exit ({rc})")

# ---- a full queue → 429 with Retry-After -------------------------------------------------------
busy = Server("-m", MODEL, "-c", 256, "-t", 1, "--parallel", 1, "--max-queue", 1)
try:
    slow = {"prompt": "Once upon a time", "max_tokens": 240, "temperature": 0}
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda _: busy.request("POST", "/v1/completions", slow), range(6)))
    full = [r for r in results if r[0] == 429]
    check(full and all(r[1].get("retry-after") == "1" and json.loads(r[2])["error"]["code"] == "queue_full"
                       for r in full) and any(r[0] == 200 for r in results),
          f"queue full → 429 with Retry-After and an OpenAI error ({[r[0] for r in results]})")
    st, e = busy.json("POST", "/api/generate", {"prompt": "x", "options": {"num_ctx": 512}})
    check(st == 400 and "512" in e["error"], "Ollama num_ctx beyond the loaded -c → 400")
finally:
    busy.stop()

# ---- auth and CORS ----------------------------------------------------------------------------
keyfile = os.path.join(os.environ.get("LM_TEST_TMP", "/tmp"), "server_keys.txt")
os.makedirs(os.path.dirname(keyfile), exist_ok=True)
with open(keyfile, "w") as f:
    f.write("# keys\nsecond-key\n")
auth = Server("-m", MODEL, "-c", 128, "-t", 1, "--api-key", "sekrit", "--api-key-file", keyfile,
              "--cors-origin", "https://app.example")
try:
    st, e = auth.json("GET", "/v1/models")
    check(st == 401 and e["error"]["type"] == "authentication_error", f"no key → 401 OpenAI error ({e})")
    st, e = auth.json("GET", "/api/tags", headers={"Authorization": "Bearer wrong"})
    check(st == 401 and isinstance(e["error"], str), "wrong key → 401 Ollama error")
    st, _ = auth.json("GET", "/v1/models", headers={"Authorization": "Bearer sekrit"})
    st2, _ = auth.json("GET", "/v1/models", headers={"Authorization": "Bearer second-key"})
    check(st == 200 and st2 == 200, "keys from --api-key and --api-key-file accepted")
    st, _ = auth.json("GET", "/health")
    check(st == 200, "/health needs no key")
    st, h, _ = auth.request("OPTIONS", "/v1/chat/completions",
                            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    check(st == 204 and h.get("access-control-allow-origin") == "https://app.example",
          "CORS preflight allowed for --cors-origin")
    st, h, _ = auth.request("GET", "/v1/models", headers={"Authorization": "Bearer sekrit"})
    check(h.get("access-control-allow-origin") == "https://app.example", "CORS header on responses")
finally:
    auth.stop()
plain = Server("-m", MODEL, "-c", 128, "-t", 1)
try:
    st, h, _ = plain.request("GET", "/v1/models")
    check(st == 200 and "access-control-allow-origin" not in h, "no CORS headers without --cors-origin")
finally:
    plain.stop(signal.SIGINT)
check(plain.proc.returncode == 0, "SIGINT → clean exit")
finish()
