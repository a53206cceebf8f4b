"""Server tool-call and length edge cases:
1. Mistral: a model whose vocabulary has [TOOL_CALLS] as a control token (gen-model with a
   hand-written SentencePiece vocabulary and a Mistral-style template). Its pieces cannot spell
   "[TOOL_CALLS]" (no uppercase, no "[" alone), so a forced call can only start with the control
   token: the grammar must allow it, the output must render it, and the parser must see it.
2. A reply cut by max_tokens inside the SECOND of parallel forced calls (demo model, Hermes
   syntax of the ChatML fallback): the first call is kept in tool_calls, the partial one dropped,
   finish_reason "length", streamed and not.
3. response_format json_object cut by max_tokens: finish_reason "length" (OpenAI, streamed and
   not) and done_reason "length" (Ollama format "json")."""
import json
import os

from lmtest import SOURCE, check, finish, run, skip, tmpdir
from server_util import Server, ndjson, sse_events

DEMO = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(DEMO):
    skip("models/demo.gguf not found")

MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}"
    "{% for m in messages %}{% if m.role == 'user' %}[INST]{{ m.content }}[/INST]"
    "{% elif m.role == 'assistant' %}{% if m.tool_calls %}[TOOL_CALLS]{{ m.tool_calls | tojson }}"
    "{% else %}{{ m.content }}{% endif %}{{ eos_token }}"
    "{% elif m.role == 'tool' %}[TOOL_RESULTS]{{ m.content }}[/TOOL_RESULTS]{% endif %}{% endfor %}")
CONTROL = ["[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
           "[TOOL_RESULTS]", "[/TOOL_RESULTS]"]


def mistral_model():
    """A llama-architecture model (random weights) with the vocabulary described above."""
    d = tmpdir("server_tool_limits")
    pieces = ["<unk>", "<s>", "</s>"] + CONTROL
    plain = list("abcdefghijklmnopqrstuvwxyz0123456789{}\":,]-.") + ["\u2581", "[{", "\u2581a", "\u2581b"]
    vocab = [[p, 0.0] for p in pieces] + [[p, -1.0 - i * 0.01] for i, p in enumerate(plain)]
    added = [{"id": i, "content": p, "special": True, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False} for i, p in enumerate(pieces) if i > 0]
    tok = {"version": "1.0", "added_tokens": added,
           "model": {"type": "Unigram", "vocab": vocab, "unk_id": 0, "byte_fallback": False}}
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": True, "add_eos_token": False,
           "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "chat_template": MISTRAL_TEMPLATE}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f)
    out = os.path.join(d, "mistral-micro.gguf")
    run("gen-model", "--arch", "llama", "--preset", "micro", "--tokenizer", os.path.join(d, "tokenizer.json"),
        "--type", "F32", "--seed", 3, "-o", out)
    return out


ADD = {"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 99}},
    "required": ["a"], "additionalProperties": False}}}
MSGS = [{"role": "user", "content": "add a and b"}]


def stream_parts(srv, body):
    st, _, data = srv.request("POST", "/v1/chat/completions", dict(body, stream=True))
    events, done = sse_events(data) if st == 200 else ([], False)
    events = [e for e in events if e.get("choices")]   # an error event has none
    calls = [tc for e in events for tc in e["choices"][0]["delta"].get("tool_calls", [])]
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    finals = [e["choices"][0]["finish_reason"] for e in events if e["choices"][0]["finish_reason"]]
    return st, done, calls, content, finals


def mistral_checks():
    srv = Server("-m", mistral_model(), "--alias", "mistral-micro", "-c", 512, "-t", 2, "--parallel", 2)
    try:
        for choice in ("required", {"type": "function", "function": {"name": "add"}}):
            for seed in (1, 2):
                body = {"model": "mistral-micro", "messages": MSGS, "tools": [ADD], "tool_choice": choice,
                        "temperature": 1.0, "seed": seed, "max_tokens": 60, "logprobs": True}
                st, r = srv.json("POST", "/v1/chat/completions", body)
                ch = r["choices"][0] if st == 200 else {}
                calls = ch.get("message", {}).get("tool_calls") or []
                first = (ch.get("logprobs") or {}).get("content") or [{}]
                check(st == 200 and ch["finish_reason"] == "tool_calls" and len(calls) == 1 and
                      calls[0]["function"]["name"] == "add" and "a" in json.loads(calls[0]["function"]["arguments"]) and
                      ch["message"]["content"] is None,
                      f"Mistral forced call ({choice}, seed {seed}) parses into tool_calls ({str(r)[:400]})")
                check(first[0].get("token") == "[TOOL_CALLS]",
                      f"the call starts with the [TOOL_CALLS] control token, rendered ({first[0]})")
                st, done, scalls, content, finals = stream_parts(srv, body)
                check(st == 200 and done and len(scalls) == 1 and scalls[0]["function"] == calls[0]["function"] and
                      content == "" and finals == ["tool_calls"],
                      f"streamed Mistral forced call ({scalls}, {content!r}, {finals})")
    finally:
        srv.stop()


def raw_text(choice):
    return "".join(t["token"] for t in choice["logprobs"]["content"])


def truncated_parallel_checks(srv):
    """Finds a seed whose forced parallel reply has two calls, then cuts it inside the second."""
    base = {"messages": MSGS, "tools": [ADD], "tool_choice": "required", "parallel_tool_calls": True,
            "temperature": 1.5, "max_tokens": 200, "logprobs": True}
    for seed in range(40):
        st, r = srv.json("POST", "/v1/chat/completions", dict(base, seed=seed))
        if st != 200 or len(r["choices"][0]["message"].get("tool_calls") or []) < 2:
            continue
        tokens = [t["token"] for t in r["choices"][0]["logprobs"]["content"]]
        text, second = "", None
        for i, t in enumerate(tokens):   # the token that completes the second "<tool_call>"
            text += t
            if text.count("<tool_call>") == 2:
                second = i + 1
                break
        first_call = r["choices"][0]["message"]["tool_calls"][0]["function"]
        cut = dict(base, seed=seed, max_tokens=second + 4)   # a few tokens into the second call
        st, c = srv.json("POST", "/v1/chat/completions", cut)
        ch = c["choices"][0]
        calls = ch["message"].get("tool_calls") or []
        check(st == 200 and ch["finish_reason"] == "length" and len(calls) == 1 and
              calls[0]["function"] == first_call and ch["message"]["content"] is None and
              raw_text(ch).count("<tool_call>") == 2,
              f"second parallel call cut by max_tokens: first kept, partial dropped, length ({str(c)[:500]})")
        st, done, scalls, content, finals = stream_parts(srv, cut)
        check(st == 200 and done and len(scalls) == 1 and scalls[0]["function"] == first_call and
              content == "" and finals == ["length"],
              f"streamed: the same ({scalls}, {content!r}, {finals})")
        return
    check(False, "no seed in 0..39 wrote two parallel calls")


def json_object_length_checks(srv):
    # max_tokens 1: "{" alone (the demo vocabulary spells "{" with a byte token), never complete.
    body = {"messages": MSGS, "response_format": {"type": "json_object"}, "max_tokens": 1, "temperature": 0}
    st, r = srv.json("POST", "/v1/chat/completions", body)
    check(st == 200 and r["choices"][0]["finish_reason"] == "length" and
          r["choices"][0]["message"]["content"] == "{", f"json_object cut → finish_reason length ({r})")
    st, done, _, content, finals = stream_parts(srv, body)
    check(done and content == "{" and finals == ["length"], f"streamed json_object cut → length ({finals})")
    st, r = srv.json("POST", "/v1/completions", {"prompt": "Tim", "response_format": {"type": "json_object"},
                                                 "max_tokens": 1})
    check(st == 200 and r["choices"][0]["finish_reason"] == "length", f"completions json_object cut → length ({r})")
    ob = {"model": "demo", "messages": MSGS, "format": "json", "stream": False,
          "options": {"num_predict": 1, "temperature": 0}}
    st, o = srv.json("POST", "/api/chat", ob)
    check(st == 200 and o["done_reason"] == "length" and o["message"]["content"] == "{",
          f"Ollama format json cut → done_reason length ({o})")
    st, _, data = srv.request("POST", "/api/chat", dict(ob, stream=True))
    lines = ndjson(data)
    check(st == 200 and lines[-1]["done"] and lines[-1]["done_reason"] == "length",
          f"streamed Ollama format json cut → done_reason length ({lines[-1:]})")
    # Room to finish: the same request ends complete (finish_reason stop) and parses.
    st, r = srv.json("POST", "/v1/chat/completions", dict(body, max_tokens=400, temperature=0))
    ch = r["choices"][0]
    if ch["finish_reason"] == "stop":
        check(isinstance(json.loads(ch["message"]["content"]), dict), "complete json_object parses")


srv = Server("-m", DEMO, "--alias", "demo", "--parallel", 2, "-c", 1024, "-t", 2)
try:
    truncated_parallel_checks(srv)
    json_object_length_checks(srv)
finally:
    srv.stop()
mistral_checks()
finish()
