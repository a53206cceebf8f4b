"""`localmax serve`: a NON-streaming client that disconnects cancels its request (the slot frees
within about a second instead of generating to max_tokens), on every endpoint that answers whole;
time limits (request "timeout", --request-timeout) end a request with finish_reason "length";
"ignore_eos" generates exactly max_tokens."""
import json
import os
import socket
import time

from lmtest import SOURCE, check, finish, skip
from server_util import Server, metric

MODEL = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(MODEL):
    skip("models/demo.gguf not found")

N_CTX = 16384
BIG = N_CTX - 64   # far more than the demo model generates in a few seconds at this context


def metrics(srv):
    _, _, data = srv.request("GET", "/metrics")
    return data.decode()


def wait_running(srv, want, timeout):
    """Seconds until localmax_requests_running == want, or None after timeout."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if metric(metrics(srv), "localmax_requests_running") == want:
            return time.time() - t0
        time.sleep(0.02)
    return None


def drop_after(srv, path, body, delay_s):
    """Sends a request on a raw socket, waits delay_s without reading, closes the socket.
    Returns whether the request was running when the client left."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    data = json.dumps(body).encode()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    time.sleep(delay_s)
    running = metric(metrics(srv), "localmax_requests_running") == 1
    s.close()
    return running


srv = Server("-m", MODEL, "--parallel", 2, "-c", N_CTX, "-t", 1)
try:
    prompt = "Once upon a time"
    # ignore_eos first: the demo model ends its stories with EOS after about a hundred tokens, so
    # without it a request below would end by itself, not because its client left.
    st, c = srv.json("POST", "/v1/completions", {"prompt": prompt, "max_tokens": 1000, "ignore_eos": True,
                                                  "temperature": 0})
    check(st == 200 and c["usage"]["completion_tokens"] == 1000 and c["choices"][0]["finish_reason"] == "length",
          f"ignore_eos: exactly max_tokens generated ({st}, {c.get('usage')})")
    st, c = srv.json("POST", "/v1/completions", {"prompt": prompt, "max_tokens": 1000, "temperature": 0})
    check(st == 200 and c["usage"]["completion_tokens"] < 1000 and c["choices"][0]["finish_reason"] == "stop",
          f"without ignore_eos the story ends by itself ({c.get('usage')})")
    cases = [
        ("/v1/completions", {"prompt": prompt, "max_tokens": BIG, "ignore_eos": True}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": prompt}], "max_tokens": BIG,
                                  "ignore_eos": True}),
        ("/api/generate", {"model": "demo", "prompt": prompt, "stream": False, "ignore_eos": True,
                           "options": {"num_predict": BIG}}),
        ("/api/chat", {"model": "demo", "messages": [{"role": "user", "content": prompt}], "stream": False,
                       "ignore_eos": True, "options": {"num_predict": BIG}}),
    ]
    for path, body in cases:
        tokens_before = metric(metrics(srv), "localmax_completion_tokens_total")
        was_running = drop_after(srv, path, body, 0.2)
        freed_s = wait_running(srv, 0, 10)
        generated = metric(metrics(srv), "localmax_completion_tokens_total") - tokens_before
        check(was_running and freed_s is not None and freed_s < 1.5 and generated < BIG,
              f"{path}: a non-streaming client that leaves after 200 ms frees its slot in "
              f"{freed_s if freed_s is None else round(freed_s, 2)} s, after {generated:.0f} of {BIG} tokens")

    # The server still answers, and the slot serves the next request.
    st, c = srv.json("POST", "/v1/completions", {"prompt": prompt, "max_tokens": 40, "temperature": 0})
    check(st == 200 and c["usage"]["completion_tokens"] > 0, "the server answers after the drops")

    # Request time limit: "timeout" in seconds ends the request with what it has, as "length".
    t0 = time.time()
    st, c = srv.json("POST", "/v1/completions", {"prompt": prompt, "max_tokens": BIG, "ignore_eos": True,
                                                  "timeout": 0.5})
    took = time.time() - t0
    n = c["usage"]["completion_tokens"] if st == 200 else -1
    check(st == 200 and c["choices"][0]["finish_reason"] == "length" and 0 < n < BIG and
          len(c["choices"][0]["text"]) > 0 and 0.5 <= took < 5,
          f"timeout 0.5 → finish_reason length after {took:.2f} s with {n} tokens")
    st, h, data = srv.request("POST", "/v1/chat/completions",
                              {"messages": [{"role": "user", "content": prompt}], "max_tokens": BIG,
                               "ignore_eos": True, "timeout": 0.3, "stream": True})
    finals = [json.loads(line[6:])["choices"][0]["finish_reason"] for line in data.decode().split("\n\n")
              if line.startswith("data: {") and json.loads(line[6:]).get("choices")]
    check(st == 200 and finals and finals[-1] == "length" and data.decode().rstrip().endswith("[DONE]"),
          f"a streamed request's timeout ends the stream with finish_reason length ({finals[-1:]})")
    st, e = srv.json("POST", "/v1/completions", {"prompt": prompt, "timeout": -1})
    check(st == 400 and e["error"]["param"] == "timeout", f"a negative timeout is a 400 naming it ({st})")
    st, e = srv.json("POST", "/v1/completions", {"prompt": prompt, "ignore_eos": "yes"})
    check(st == 400 and e["error"]["param"] == "ignore_eos", f"ignore_eos must be a boolean ({st})")
    check(wait_running(srv, 0, 5) is not None, "no request left running")
finally:
    srv.stop()

# --request-timeout caps every request, even one asking for longer.
srv = Server("-m", MODEL, "--parallel", 1, "-c", N_CTX, "-t", 1, "--request-timeout", 0.4)
try:
    t0 = time.time()
    st, c = srv.json("POST", "/v1/completions", {"prompt": "Once upon a time", "max_tokens": BIG,
                                                  "ignore_eos": True, "timeout": 600})
    took = time.time() - t0
    check(st == 200 and c["choices"][0]["finish_reason"] == "length" and c["usage"]["completion_tokens"] < BIG
          and took < 5, f"--request-timeout 0.4 caps a request asking for 600 s ({took:.2f} s)")
finally:
    srv.stop()
finish()
