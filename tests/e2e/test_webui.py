"""The web chat UI served by `localmax serve` at /: headers (CSP, ETag, Content-Type), the key
exemption of the static files, --no-webui, and the page itself in Debian's headless Chromium driven
by playwright-core (tests/e2e/webui/ui_test.mjs): no console errors, no request leaves the origin,
the model list, a streamed reply equal to the API's for the same request at temperature 0, speed
shown, Enter/Shift+Enter, a 400's message shown, Stop freeing the slot, reasoning and tool calls
rendered, hostile Markdown inert, and an API-key server asking for a key.
Runs on models/demo.gguf, and on stories260K too when ../shared/fixtures exists."""
import json
import os
import shutil
import subprocess

from lmtest import FIXTURES, SOURCE, check, finish, skip
from server_util import Server

MODEL = os.path.join(SOURCE, "models", "demo.gguf")
CHROMIUM = "/usr/bin/chromium"
SCRIPT = os.path.join(SOURCE, "tests", "e2e", "webui", "ui_test.mjs")
if not os.path.exists(MODEL):
    skip("models/demo.gguf not found")
if not os.path.exists(CHROMIUM):
    skip("Debian's chromium is not installed (/usr/bin/chromium)")
if not os.path.exists(os.path.join(SOURCE, "node_modules", "playwright-core", "package.json")):
    skip("node_modules/playwright-core is missing (npm install, see package.json)")
NODE = shutil.which("node")
if not NODE:
    skip("node is not installed")

PROMPT = "Tell me a story about a cat."
STOP_PROMPT = "Tell me a story about a boy named Tom who found a box."
HOSTILE = ('# Title\n**bold** <img src="http://evil.example/x.png" onerror="window.__pwned=true">\n'
           '<script>window.__pwned=true</script> [x](javascript:window.__pwned=true) '
           '[ok](https://example.com/)\n```html\n<iframe src="http://evil.example/"></iframe>\n```\n')


def crafted_sse():
    """A reply with reasoning, hostile Markdown and a tool call, split the way a server streams."""
    def chunk(delta, finish=None):
        return "data: " + json.dumps({"id": "x", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"
    calls = [{"index": 0, "id": "call_1", "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city": '}},
             {"index": 0, "function": {"arguments": '"Paris"}'}}]
    body = chunk({"role": "assistant", "content": ""})
    body += chunk({"reasoning_content": "The user wants "}) + chunk({"reasoning_content": "<b>weather</b>."})
    for i in range(0, len(HOSTILE), 7):
        body += chunk({"content": HOSTILE[i:i + 7]})
    body += chunk({"tool_calls": [calls[0]]}) + chunk({"tool_calls": [calls[1]]})
    body += chunk({}, "tool_calls")
    body += "data: " + json.dumps({"id": "x", "choices": [], "usage": {
        "prompt_tokens": 5, "completion_tokens": 42, "total_tokens": 47}}) + "\n\n"
    return body + "data: [DONE]\n\n"


def run_ui(scenario, srv, params):
    p = subprocess.run([NODE, SCRIPT, scenario, f"http://127.0.0.1:{srv.port}",
                        json.dumps(dict(params, chromium=CHROMIUM))],
                       capture_output=True, text=True, timeout=600, cwd=SOURCE)
    lines = [l for l in p.stdout.splitlines() if l.startswith("REPORT ")]
    if not lines:
        raise AssertionError(f"ui_test.mjs {scenario} gave no report (exit {p.returncode}):\n"
                             f"{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    report = json.loads(lines[-1][len("REPORT "):])
    check("exception" not in report, f"{scenario}: the browser script ran ({report.get('exception', '')[:1500]})")
    check(not report["foreignRequests"] and report["requests"] > 0,
          f"{scenario}: {report['requests']} requests, all same-origin ({report['foreignRequests'][:3]})")
    return report


def check_assets(srv, label):
    st, h, body = srv.request("GET", "/")
    check(st == 200 and h.get("content-type", "").startswith("text/html") and b'src="app.js"' in body,
          f"{label}: GET / serves the page as text/html ({st}, {h.get('content-type')})")
    csp = h.get("content-security-policy", "")
    check("default-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp,
          f"{label}: strict Content-Security-Policy ({csp})")
    check(h.get("x-content-type-options") == "nosniff" and h.get("cache-control") == "no-cache" and
          h.get("etag", "").startswith('"'), f"{label}: nosniff, Cache-Control no-cache, ETag {h.get('etag')}")
    st2, h2, body2 = srv.request("GET", "/", headers={"If-None-Match": h.get("etag", "")})
    check(st2 == 304 and not body2 and h2.get("etag") == h.get("etag"), f"{label}: If-None-Match → 304 ({st2})")
    for path, ctype in [("/app.js", "text/javascript"), ("/markdown.mjs", "text/javascript"),
                        ("/style.css", "text/css"), ("/favicon.svg", "image/svg+xml"),
                        ("/index.html", "text/html")]:
        st, h, body = srv.request("GET", path)
        check(st == 200 and h.get("content-type", "").startswith(ctype) and len(body) > 100,
              f"{label}: {path} is {ctype} ({st}, {h.get('content-type')}, {len(body)} bytes)")
    with open(os.path.join(SOURCE, "src", "server", "webui", "app.js"), "rb") as f:
        check(srv.request("GET", "/app.js")[2] == f.read(), f"{label}: /app.js is the source file, byte for byte")
    st, _, _ = srv.request("GET", "/appXjs")
    check(st == 404, f"{label}: an asset name is not a pattern (/appXjs → {st})")


def chat_checks(srv, model_name, label):
    req = {"model": model_name, "messages": [{"role": "user", "content": PROMPT}], "temperature": 0,
           "max_tokens": 48}
    st, api = srv.json("POST", "/v1/chat/completions", req)
    check(st == 200, f"{label}: API reply for the reference request ({st})")
    expected = api["choices"][0]["message"]["content"]
    long_prompt = " ".join(["the cat sat on the mat"] * 120)
    st, err = srv.json("POST", "/v1/chat/completions", {"model": model_name, "temperature": 0, "max_tokens": 48,
                                                        "messages": [{"role": "user", "content": long_prompt}]})
    check(st == 400, f"{label}: a prompt longer than the context is a 400 ({st})")
    # The stop request is one the model answers at length (most end after ~30 tokens).
    stop_req = dict(req, max_tokens=200, messages=[{"role": "user", "content": STOP_PROMPT}])
    st, full = srv.json("POST", "/v1/chat/completions", stop_req)
    n_full = full["usage"]["completion_tokens"]

    r = run_ui("chat", srv, {"prompt": PROMPT, "max_tokens": 48, "long_prompt": long_prompt,
                             "stop_max_tokens": 200, "stop_prompt": STOP_PROMPT, "crafted_sse": crafted_sse()})
    if "exception" in r:
        return
    # The only console error allowed is Chromium's log line for the deliberate 400.
    errors = [e for e in r["consoleErrors"] if "status of 400" not in e]
    check(not errors, f"{label}: no console errors ({errors[:3]})")
    check(r["models"] == [model_name] and r["title"] == "localmax", f"{label}: model picker lists {r['models']}")
    check(r["shiftEnterValue"] == "a\nb" and r["shiftEnterSent"] == 0, f"{label}: Shift+Enter is a newline")
    rep = r["reply"]
    check(rep["raw"] == expected and rep["role"] == "assistant",
          f"{label}: streamed reply equals the API's at temperature 0 ({rep['raw'][:60]!r} vs {expected[:60]!r})")
    check(rep["html"] == rep["htmlOfRaw"] and len(rep["html"]) > 0, f"{label}: the reply is shown rendered")
    check(rep["userText"] == PROMPT, f"{label}: the user's message is shown")
    q = (r.get("chatRequests") or [{}])[0]
    check(q.get("stream") is True and q.get("stream_options") == {"include_usage": True} and
          q.get("temperature") == 0 and q.get("max_tokens") == 48 and q.get("model") == model_name and
          (r.get("chatResponseType") or "").startswith("text/event-stream"),
          f"{label}: the UI asked for an SSE stream with usage and got one ({q}, {r.get('chatResponseType')})")
    # Not asserted: a fast model can deliver a whole reply within one animation frame.
    print(f"note: {label}: the reply was drawn {rep['distinctLengths']} times while it streamed")
    check(rep["tokens"] == api["usage"]["completion_tokens"] and rep["tps"] > 0 and rep["ttftMs"] > 0 and
          "tok/s" in rep["stats"] and "TTFT" in rep["stats"],
          f"{label}: speed shown: {rep['stats']!r}")
    t2 = r["secondTurn"]
    check(t2["request"]["messages"] == [{"role": "system", "content": "You tell short stories."},
                                        {"role": "user", "content": PROMPT},
                                        {"role": "assistant", "content": expected},
                                        {"role": "user", "content": "And then?"}] and t2["shown"] == 4,
          f"{label}: a second turn sends the system prompt and the conversation ({t2['request']['messages']})")
    e = r["error"]
    check(e["text"] == err["error"]["message"] and e["promptKept"] and e["userMessages"] == 0,
          f"{label}: the 400's message is shown and the prompt kept ({e['text'][:80]!r})")
    s = r["stop"]
    check(s["stoppedShown"] == 1 and s["sendBack"] and s["stopHidden"] and s["errorHidden"],
          f"{label}: Stop ends the reply, marked stopped")
    check(s["running"] == 0 and s["tokens"] < n_full,
          f"{label}: Stop mid-stream freed the slot in {s['freedMs']} ms after {s['tokens']:.0f} of {n_full} "
          f"tokens ({s['textAtStop']} characters shown when clicked)")
    kept = s["stoppedText"] or {}
    check(kept.get("role") == "assistant" and full["choices"][0]["message"]["content"].startswith(kept.get("content", "?")),
          f"{label}: the stopped reply keeps the text received so far ({kept.get('content', '')[:40]!r})")
    c = r["crafted"]
    check(c["reasoning"] == "The user wants <b>weather</b>." and c["reasoningOpen"] is False,
          f"{label}: reasoning_content shown collapsed, as text")
    want_calls = [{"id": "call_1", "type": "function",
                   "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    check(c["toolCalls"] == want_calls, f"{label}: tool_calls shown as JSON ({c['toolCalls']})")
    check(c["injected"] == 0 and not c["pwned"] and c["links"] == ["https://example.com/"] and
          c["strong"] == 1 and c["code"] == 1 and "<script>" in c["contentText"],
          f"{label}: hostile Markdown is inert text ({c})")


def main():
    srv = Server("-m", MODEL, "--parallel", 2, "-c", 256, "-t", 2)
    try:
        check_assets(srv, "demo")
        chat_checks(srv, "demo", "demo")
    finally:
        srv.stop()

    key = "webui-test-key"
    srv = Server("-m", MODEL, "-c", 256, "-t", 2, "--api-key", key)
    try:
        st, h, body = srv.request("GET", "/")
        check(st == 200 and b"app.js" in body, f"api key: the page needs no key ({st})")
        st, _, _ = srv.request("GET", "/app.js")
        check(st == 200, f"api key: /app.js needs no key ({st})")
        st, _, _ = srv.request("GET", "/v1/models")
        check(st == 401, f"api key: /v1/models does ({st})")
        st, _, _ = srv.request("POST", "/", body="{}")
        check(st in (401, 404, 405), f"api key: POST / is not a way around the key ({st})")
        r = run_ui("auth", srv, {"key": key, "prompt": PROMPT})
        if "exception" not in r:
            check(r["dialogShown"] and r["modelsBeforeKey"] == 0, "api key: the UI asks for a key first")
            check(r["wrongKeyRejected"], "api key: a wrong key is refused and asked again")
            check(r["models"] == ["demo"] and r["storedKey"] == key, "api key: the right key lists models, kept in localStorage")
            check(len(r["replyWithKey"]) > 0, "api key: chat works with the key (Bearer)")
            check(not r["consoleErrors"], f"api key: no console errors besides the 401s ({r['consoleErrors'][:3]})")
    finally:
        srv.stop()

    srv = Server("-m", MODEL, "-c", 256, "-t", 2, "--no-webui")
    try:
        st, _, _ = srv.request("GET", "/")
        st2, _, _ = srv.request("GET", "/app.js")
        st3, _, _ = srv.request("GET", "/health")
        check(st == 404 and st2 == 404 and st3 == 200, f"--no-webui: / and /app.js are 404 ({st}, {st2})")
    finally:
        srv.stop()

    stories = os.path.join(FIXTURES, "models", "stories260K.gguf")
    if os.path.exists(stories):
        srv = Server("-m", stories, "--alias", "stories", "--parallel", 2, "-c", 256, "-t", 2)
        try:
            chat_checks(srv, "stories", "stories260K")
        finally:
            srv.stop()
    else:
        print("note: ../shared/fixtures absent: stories260K part skipped")
    finish()


main()
