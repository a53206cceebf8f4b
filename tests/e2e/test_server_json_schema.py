"""Constrained decoding through `localmax serve`: random sampling (temperature 1.5, many seeds) on
models/demo.gguf and stories260K under ~20 JSON schemas; every reply must parse and validate
(python3-jsonschema). Also Ollama `format`, /v1/completions, json_object, GBNF `grammar`, schema
errors (400 naming the keyword), and forced tool calls (tool_choice required / named) round trip."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import jsonschema

from lmtest import FIXTURES, SOURCE, check, finish, skip
from server_util import Server, sse_events

DEMO = os.path.join(SOURCE, "models", "demo.gguf")
STORIES = os.path.join(FIXTURES, "models", "stories260K.gguf")

S = lambda n: {"type": "string", "maxLength": n}   # noqa: E731
SCHEMAS = [
    {"type": "integer"},
    {"type": "integer", "minimum": -20, "maximum": 300},
    {"type": "number"},
    {"type": "boolean"},
    {"type": ["string", "null"], "maxLength": 5},
    {"enum": ["red", "green", 3, None, {"k": [1, 2]}]},
    {"const": {"fixed": True}},
    S(12),
    {"type": "string", "minLength": 2, "maxLength": 4},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "uuid"},
    {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 1, "maxItems": 4},
    {"type": "array", "prefixItems": [S(4), {"type": "boolean"}], "items": False},
    {"type": "object", "properties": {"name": S(8), "age": {"type": "integer", "minimum": 0, "maximum": 120},
                                      "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}},
     "required": ["name", "age"], "additionalProperties": False},
    {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}},
    {"anyOf": [{"type": "integer"}, {"type": "object", "properties": {"ok": {"type": "boolean"}},
                                      "required": ["ok"]}]},
    {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"enum": ["u", "v"]}}, "required": ["b"]}]},
    {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer", "maximum": 99, "minimum": 0},
                                                         "kids": {"type": "array", "items": {"$ref": "#/$defs/node"},
                                                                  "maxItems": 2}},
                        "required": ["v"]}}, "$ref": "#/$defs/node"},
    {"type": "object", "properties": {"when": {"type": "string", "format": "time"},
                                      "flag": {"type": "null"}}, "required": ["when", "flag"]},
]
SEEDS = range(4)


def chat_body(schema, seed, **kw):
    body = {"messages": [{"role": "user", "content": "Answer in JSON."}], "temperature": 1.5,
            "seed": seed, "max_tokens": 400,
            "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": schema,
                                                                       "strict": True}}}
    body.update(kw)
    return body


def property_run(srv, label):
    def one(job):
        i, seed = job
        st, r = srv.json("POST", "/v1/chat/completions", chat_body(SCHEMAS[i], seed))
        return i, seed, st, r

    jobs = [(i, s) for i in range(len(SCHEMAS)) for s in SEEDS]
    bad = []
    with ThreadPoolExecutor(4) as pool:
        for i, seed, st, r in pool.map(one, jobs):
            try:
                assert st == 200, f"HTTP {st}: {r}"
                choice = r["choices"][0]
                assert choice["finish_reason"] == "stop", f"finish_reason {choice['finish_reason']}"
                value = json.loads(choice["message"]["content"])
                jsonschema.validate(value, SCHEMAS[i])
            except Exception as e:  # noqa: BLE001 (collect every failure)
                bad.append(f"schema {i} seed {seed}: {e}: {str(r)[:300]}")
    check(not bad, f"{label}: {len(jobs)} sampled replies parse and validate" +
          ("" if not bad else "\n  " + "\n  ".join(bad[:5])))


def api_checks(srv):
    schema = SCHEMAS[14]
    # Streaming gives the same constrained text.
    st, _, data = srv.request("POST", "/v1/chat/completions", chat_body(schema, 7, stream=True))
    events, done = sse_events(data)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    st2, whole = srv.json("POST", "/v1/chat/completions", chat_body(schema, 7))
    check(done and text == whole["choices"][0]["message"]["content"], "streamed JSON equals the whole reply")
    jsonschema.validate(json.loads(text), schema)
    # /v1/completions with response_format.
    st, c = srv.json("POST", "/v1/completions", {"prompt": "Once upon a time", "temperature": 1.5, "seed": 3,
                                                 "max_tokens": 300,
                                                 "response_format": {"type": "json_schema",
                                                                     "json_schema": {"schema": schema}}})
    check(st == 200 and c["choices"][0]["finish_reason"] == "stop", f"/v1/completions constrained ({c})")
    jsonschema.validate(json.loads(c["choices"][0]["text"]), schema)
    # Ollama format: a schema, and "json".
    for fmt in [schema, "json"]:
        st, o = srv.json("POST", "/api/chat", {"model": "demo", "stream": False, "format": fmt,
                                               "messages": [{"role": "user", "content": "hi"}],
                                               "options": {"temperature": 0.8, "seed": 2, "num_predict": 400}})
        ok = st == 200 and o.get("done_reason") == "stop"
        value = json.loads(o["message"]["content"]) if ok else None
        check(ok and isinstance(value, dict), f"/api/chat format {str(fmt)[:20]} → a JSON object ({str(o)[:300]})")
        if fmt != "json" and ok:
            jsonschema.validate(value, schema)
    st, g = srv.json("POST", "/api/generate", {"model": "demo", "stream": False, "prompt": "Tim",
                                               "format": {"type": "array", "items": {"type": "boolean"},
                                                          "maxItems": 3},
                                               "options": {"temperature": 1.5, "seed": 4}})
    check(st == 200 and all(isinstance(x, bool) for x in json.loads(g["response"])), f"/api/generate format ({g})")
    # GBNF grammar (llama-server's field).
    st, c = srv.json("POST", "/v1/completions", {"prompt": "x", "temperature": 1.5, "seed": 1, "max_tokens": 50,
                                                 "grammar": 'root ::= ("yes" | "no") "!"'})
    check(st == 200 and c["choices"][0]["text"] in ("yes!", "no!"), f"GBNF grammar ({c['choices'][0]})")
    # Errors name the keyword and where it is.
    st, e = srv.json("POST", "/v1/chat/completions",
                     chat_body({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}}, 1))
    check(st == 400 and e["error"]["type"] == "invalid_request_error" and e["error"]["param"] == "response_format"
          and "'pattern'" in e["error"]["message"] and "/properties/a" in e["error"]["message"],
          f"unsupported keyword → 400 naming it ({e})")
    st, e = srv.json("POST", "/v1/chat/completions", chat_body({"$ref": "http://x/s.json"}, 1))
    check(st == 400 and "$ref" in e["error"]["message"], f"remote $ref → 400 ({e})")
    st, e = srv.json("POST", "/api/chat", {"model": "demo", "format": {"type": "number", "multipleOf": 3},
                                           "messages": [{"role": "user", "content": "hi"}]})
    check(st == 400 and "multipleOf" in json.dumps(e), f"Ollama format error → 400 ({e})")


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                      "parameters": {"type": "object",
                                                     "properties": {"city": S(10),
                                                                    "unit": {"enum": ["c", "f"]}},
                                                     "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "add", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 99},
                                         "b": {"type": "integer", "minimum": 0, "maximum": 99}},
        "required": ["a", "b"]}}},
]


def tool_checks(srv):
    base = {"messages": [{"role": "user", "content": "hi"}], "temperature": 1.5, "max_tokens": 300,
            "tools": TOOLS, "parallel_tool_calls": False}
    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    for seed in range(4):
        st, r = srv.json("POST", "/v1/chat/completions", dict(base, seed=seed, tool_choice="required"))
        ch = r["choices"][0] if st == 200 else {}
        calls = ch.get("message", {}).get("tool_calls") or []
        ok = st == 200 and ch["finish_reason"] == "tool_calls" and len(calls) == 1
        if ok:
            fn = calls[0]["function"]
            jsonschema.validate(json.loads(fn["arguments"]), by_name[fn["name"]])
        check(ok, f"tool_choice required (seed {seed}) → one valid tool call ({str(r)[:300]})")
    named = dict(base, seed=5, tool_choice={"type": "function", "function": {"name": "add"}})
    st, r = srv.json("POST", "/v1/chat/completions", named)
    calls = r["choices"][0]["message"].get("tool_calls") or [] if st == 200 else []
    check(len(calls) == 1 and calls[0]["function"]["name"] == "add" and
          r["choices"][0]["finish_reason"] == "tool_calls", f"named tool_choice forces that tool ({str(r)[:300]})")
    args = json.loads(calls[0]["function"]["arguments"]) if calls else {}
    jsonschema.validate(args, by_name["add"])
    # Streaming: the call arrives as a tool_calls delta, finish_reason tool_calls.
    st, _, data = srv.request("POST", "/v1/chat/completions", dict(named, stream=True))
    events, done = sse_events(data)
    deltas = [tc for e in events if e["choices"] for tc in e["choices"][0]["delta"].get("tool_calls", [])]
    finals = [e["choices"][0]["finish_reason"] for e in events if e["choices"] and e["choices"][0]["finish_reason"]]
    check(done and len(deltas) == 1 and deltas[0]["function"]["name"] == "add" and finals == ["tool_calls"],
          f"streamed forced call ({deltas}, {finals})")
    st, e = srv.json("POST", "/v1/chat/completions",
                     dict(base, tool_choice={"type": "function", "function": {"name": "nope"}}))
    check(st == 400 and "nope" in e["error"]["message"], f"unknown tool name → 400 naming it ({e})")
    bad_tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"q": {"type": "string", "pattern": "a+"}}}}}]
    st, e = srv.json("POST", "/v1/chat/completions", dict(base, tools=bad_tools, tool_choice="required"))
    check(st == 400 and e["error"]["param"] == "tools[0].function.parameters" and "'pattern'" in e["error"]["message"],
          f"uncompilable tool schema → 400 naming it ({e})")
    # tool_choice none: no call is parsed even if the text looks like one.
    st, r = srv.json("POST", "/v1/chat/completions", dict(base, seed=1, tool_choice="none", max_tokens=20))
    check(st == 200 and not r["choices"][0]["message"].get("tool_calls"), "tool_choice none → no tool_calls")


if not os.path.exists(DEMO):
    skip("models/demo.gguf not found")
# The demo model was trained on 256 positions; a longer context still runs (the tool prompt needs it).
srv = Server("-m", DEMO, "--parallel", 4, "-c", 1024, "-t", 2)
try:
    property_run(srv, "demo.gguf")
    api_checks(srv)
    tool_checks(srv)
finally:
    srv.stop()

if os.path.exists(STORIES):
    srv = Server("-m", STORIES, "--parallel", 4, "-c", 512, "-t", 2)
    try:
        property_run(srv, "stories260K")
    finally:
        srv.stop()
else:
    print(f"note: {STORIES} not found: stories260K part skipped")
finish()
