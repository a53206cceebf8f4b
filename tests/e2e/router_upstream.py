"""A recording upstream for the router's end-to-end tests: an OpenAI-compatible
(POST /v1/chat/completions, /chat/completions) and Anthropic (POST /v1/messages) API on
127.0.0.1:0 that logs every request it receives (path, headers without secrets, raw body) to a
JSON Lines file before answering, so a test can prove what did and did not leave localmax.

Replies echo the last user message ("echo: <text>"), so redaction and restoration can be
checked end to end. Fault modes, chosen per request by the "X-Fault" header or by the model name
("fault-<mode>", e.g. "fault-429" or "gpt-fault-reset"):
  delay-<ms>   sleep before answering (a timeout test)
  429          429 with Retry-After (seconds, default 1; "429-<s>" sets it)
  500          500 with an OpenAI error body
  reset        streams: a few chunks, then the connection is closed without [DONE];
               non-streaming: the connection is closed after the headers
  malformed    a body (or an SSE chunk) that is not JSON
  refuse       (not a mode here: point a provider at a closed port for connection refused)

Use from a test:   up = RecordingUpstream(log_path); up.port; up.requests(); up.stop()
Or alone:          python3 router_upstream.py LOG  (prints "listening on PORT")
Standard library only."""
import json
import os
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _last_user_text(body):
    """The text of the last user message (OpenAI or Anthropic shapes)."""
    for m in reversed(body.get("messages") or []):
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            return c
        if isinstance(c, list):
            return "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def _fault_of(headers, model):
    f = headers.get("X-Fault")
    if f:
        return f.strip()
    m = re.search(r"fault-([a-z0-9-]+)", model or "")
    return m.group(1) if m else ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---- plumbing ----
    def _send(self, status, body, ctype="application/json", extra=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _sse(self, obj, event=None):
        text = (f"event: {event}\n" if event else "") + "data: " + (
            obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n"
        self.wfile.write(text.encode())
        self.wfile.flush()

    def _reset(self):
        """Closes the socket at once (RST where possible): a connection lost mid-response."""
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _record(self, raw):
        hdrs = {k.lower(): ("<present>" if k.lower() in ("authorization", "x-api-key") else v)
                for k, v in self.headers.items()}
        entry = {"time": time.time(), "path": self.path, "headers": hdrs, "body": raw.decode("utf-8", "replace")}
        self.server.recorder.append(entry)

    # ---- API ----
    def do_GET(self):
        with self.server.recorder.lock:
            self.server.recorder.gets += 1
        if self.path.rstrip("/").endswith("/models"):
            return self._send(200, json.dumps({"object": "list", "data": []}))
        self._send(404, json.dumps({"error": {"message": "not found"}}))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        self._record(raw)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, json.dumps({"error": {"message": "bad JSON", "type": "invalid_request_error"}}))
        anthropic = self.path.rstrip("/").endswith("/messages")
        fault = _fault_of(self.headers, body.get("model", ""))
        if fault.startswith("delay-"):
            time.sleep(int(fault.split("-")[1]) / 1000.0)
            fault = ""
        if fault.startswith("429"):
            after = fault.split("-")[1] if "-" in fault else "1"
            return self._send(429, json.dumps({"error": {"message": "rate limited", "type": "rate_limit_error"}}),
                              extra={"Retry-After": after})
        if fault == "500":
            return self._send(500, json.dumps({"error": {"message": "upstream exploded", "type": "server_error"}}))
        text = "echo: " + _last_user_text(body)
        stream = bool(body.get("stream"))
        if fault == "malformed":
            if stream:
                self._start_sse()
                self._sse("{this is not json")
                return
            return self._send(200, b"{\"id\": \"x\", \"choices\": [ this is not json")
        if fault == "reset" and not stream:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"{\"id\": \"chatcmpl-x\", ")
            return self._reset()
        model = body.get("model", "")
        prompt_tokens = max(1, len(raw) // 4)
        pieces = [text[i:i + 5] for i in range(0, len(text), 5)] or [""]
        if anthropic:
            return self._anthropic(model, text, pieces, prompt_tokens, stream, fault)
        return self._openai(body, model, text, pieces, prompt_tokens, stream, fault)

    def _openai(self, body, model, text, pieces, prompt_tokens, stream, fault):
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": prompt_tokens + len(pieces)}
        base = {"id": "chatcmpl-rec", "created": int(time.time()), "model": model}
        if not stream:
            return self._send(200, json.dumps(dict(base, object="chat.completion", choices=[
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                usage=usage)))
        self._start_sse()
        chunk = dict(base, object="chat.completion.chunk")
        self._sse(dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]))
        for i, p in enumerate(pieces):
            if fault == "reset" and i == 2:
                return self._reset()
            self._sse(dict(chunk, choices=[{"index": 0, "delta": {"content": p}, "finish_reason": None}]))
        self._sse(dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            self._sse(dict(chunk, choices=[], usage=usage))
        self._sse("[DONE]")

    def _anthropic(self, model, text, pieces, prompt_tokens, stream, fault):
        usage = {"input_tokens": prompt_tokens, "output_tokens": len(pieces)}
        if not stream:
            return self._send(200, json.dumps({
                "id": "msg_rec", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": usage}))
        self._start_sse()
        self._sse({"type": "message_start", "message": {
            "id": "msg_rec", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "usage": {"input_tokens": prompt_tokens, "output_tokens": 0}}}, "message_start")
        self._sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                  "content_block_start")
        for i, p in enumerate(pieces):
            if fault == "reset" and i == 2:
                return self._reset()
            self._sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
                      "content_block_delta")
        self._sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self._sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                   "usage": {"output_tokens": len(pieces)}}, "message_delta")
        self._sse({"type": "message_stop"}, "message_stop")


class _Recorder:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.count = 0
        self.gets = 0   # GET requests (not logged; the offline pull check counts them)
        open(path, "w").close()

    def append(self, entry):
        with self.lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            self.count += 1


class RecordingUpstream:
    """The server in a background thread; requests() reads back what it received."""

    def __init__(self, log_path, host="127.0.0.1"):
        self.log_path = log_path
        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.recorder = _Recorder(log_path)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self):
        return f"http://127.0.0.1:{self.port}"

    def requests(self):
        with self.httpd.recorder.lock:
            if not os.path.exists(self.log_path):
                return []
            with open(self.log_path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]

    def count(self):
        return self.httpd.recorder.count

    def get_count(self):
        return self.httpd.recorder.gets

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    up = RecordingUpstream(sys.argv[1] if len(sys.argv) > 1 else "upstream.jsonl")
    print(f"listening on {up.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        up.stop()


# ---- helpers shared by the router tests ----

def router_config(path, upstream, rules, audit_log, offline=False, extra_providers=(), **sections):
    """Writes a router config with two providers on the recording upstream: "rec" (OpenAI,
    models gpt-rec and gpt-fault-*) and "anth" (Anthropic, claude-rec)."""
    providers = [
        {"name": "rec", "type": "openai", "base_url": upstream.base_url if upstream else "http://127.0.0.1:9/v1",
         "api_key_env": "LM_TEST_UPSTREAM_KEY", "models": ["gpt-rec"], "max_retries": 0,
         "connect_timeout_ms": 2000, "timeout_ms": 10000},
        {"name": "anth", "type": "anthropic", "base_url": upstream.anthropic_url if upstream else "http://127.0.0.1:9",
         "api_key_env": "LM_TEST_UPSTREAM_KEY", "models": ["claude-rec"], "max_retries": 0},
    ] + list(extra_providers)
    cfg = {"offline": offline, "providers": providers, "policy": {"rules": rules},
           "audit": {"path": audit_log, "fsync": "periodic", "fsync_every": 64}}
    cfg.update(sections)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


# The default policy's rules, spelled out, plus upstream rules for the test aliases.
DEFAULT_RULES = [
    {"name": "sensitive-stays-local", "when": {"detected": "any"}, "route": "local", "must_stay_local": True},
]
FRONTIER_RULES = [
    {"name": "frontier", "when": {"model": "frontier"}, "route": {"provider": "rec", "model": "gpt-rec"}},
    {"name": "claude", "when": {"model": "claude"}, "route": {"provider": "anth", "model": "claude-rec"}},
    {"name": "default-local", "route": "local"},
]
