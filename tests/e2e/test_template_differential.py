#!/usr/bin/env python3
"""Differential test: seeded random templates (expressions over every operator, filter, test and
method family, if/for/set/macro/namespace statements, whitespace control) rendered by
`localmax template` and by Python jinja2 with the transformers environment
(template_reference.py). Each must give the same text, or both must raise.
Skips (77) when python3-jinja2 is missing."""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("LM_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
BIN = os.environ.get("LM_BIN", os.path.join(SRC, "build", "bin", "localmax"))
N_CASES = 300
SEED = 20261121

try:
    sys.path.insert(0, HERE)
    import template_reference as ref  # noqa: E402
except ImportError as e:
    print(f"SKIP: python3-jinja2 is not installed ({e})")
    sys.exit(77)

rng = random.Random(SEED)
ATOMS = ["1", "2", "0", "-3", "2.5", "0.1", "1e3", "'a'", "'Ab c'", "''", "'x,y'", "none", "true", "false",
         "[1, 2, 3]", "[]", "['b', 'a']", "{'k': 1, 'j': 'v'}", "{}", "(1, 'z')", "s", "n", "f", "l", "d", "u", "undefined_thing", "messages"]
BINOPS = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">=", "and", "or", "in", "not in", "**"]
FILTERS = ["length", "upper", "lower", "trim", "first", "last", "list", "string", "int", "float", "abs", "tojson", "join(',')",
           "default('D')", "reverse|list", "sort", "unique|list", "sum", "min", "max", "title", "capitalize", "items|list", "dictsort", "round", "count", "e",
           "indent(2)", "batch(2)|list", "select('odd')|list", "map('string')|list", "replace('a', 'b')", "wordcount", "center(9)", "tojson(indent=1)"]
TESTS = ["defined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence", "boolean", "odd", "even", "divisibleby 2", "eq 1", "lower", "upper", "callable", "true", "false"]
METHODS = ["strip()", "split(',')", "split()", "upper()", "startswith('a')", "replace('a', 'q')", "find('b')", "title()", "count('a')", "rstrip('c')", "lstrip()", "endswith(('c', 'x'))", "splitlines()", "isdigit()", "format(1)",
           "items()|list", "keys()|list", "values()|list", "get('k')", "get('zz', 5)"]
def expr(depth=0):
    r = rng.random()
    if depth > 2 or r < 0.3: return rng.choice(ATOMS)
    if r < 0.5: return f"({expr(depth+1)} {rng.choice(BINOPS)} {expr(depth+1)})"
    if r < 0.65: return f"{expr(depth+1)}|{rng.choice(FILTERS)}"
    if r < 0.75: return f"({expr(depth+1)} is {rng.choice(['', 'not '])}{rng.choice(TESTS)})"
    if r < 0.85: return f"{rng.choice(['s', 'u', 'd', 'l'])}.{rng.choice(METHODS)}"
    if r < 0.9: return f"{rng.choice(['l', 's', 'u', 'messages'])}[{rng.choice(['0', '-1', '1:', '::-1', ':2', '::2', '5'])}]"
    if r < 0.95: return f"({expr(depth+1)} if {expr(depth+1)} else {expr(depth+1)})"
    return f"(not {expr(depth+1)})"
def stmt(depth=0):
    r = rng.random()
    ws = lambda: rng.choice(["", "-"])
    nl = lambda: rng.choice(["", "\n", "  \n", "\n  "])
    if depth > 2 or r < 0.4: return "{{" + ws() + " " + expr() + " " + ws() + "}}" + nl()
    if r < 0.6: return "{%" + ws() + " if " + expr() + " " + ws() + "%}" + nl() + stmt(depth+1) + "{%" + ws() + " else " + ws() + "%}" + stmt(depth+1) + "{% endif %}" + nl()
    if r < 0.8: return "{%" + ws() + " for x in " + rng.choice(["l", "s", "d", "messages", "[3, 1]", "u"]) + (" if x" if rng.random() < 0.2 else "") + " " + ws() + "%}" + nl() + "{{ x }}{{ loop.index }}" + stmt(depth+1) + "{% endfor %}" + nl()
    if r < 0.86: return "{% set v = " + expr() + " %}" + nl() + "{{ v }}"
    if r < 0.9: return ("{% macro mm(a, b='B') %}[{{ a }}|{{ b }}]{% endmacro %}" + nl() +
                        "{{ mm(" + expr() + ") }}{{ mm(1, b=" + expr() + ") }}")
    if r < 0.94: return ("{% set ns = namespace(t=0) %}{% for k, w in d.items() %}{% set ns.t = ns.t ~ k %}"
                         + nl() + "{% endfor %}{{ ns.t }}" + nl())
    return "  {# c #}" + nl()
VARS = {"s": "abc,d", "n": None, "f": 1.5, "l": [3, "a", 2.25], "d": {"k": 1, "b": [1, 2]},
        "u": "ünï 🙂", "messages": [{"role": "user", "content": "hi"}]}


def main():
    if not os.path.exists(BIN):
        print(f"FAIL: {BIN} not built")
        return 1
    env = ref.make_env()
    diffs = 0
    with tempfile.TemporaryDirectory() as tmp:
        cfg, batch = os.path.join(tmp, "c.json"), os.path.join(tmp, "b.jsonl")
        with open(batch, "w", encoding="utf-8") as f:
            f.write(json.dumps({k: v for k, v in VARS.items()}, ensure_ascii=False) + "\n")
        for _ in range(N_CASES):
            t = "".join(stmt() for _ in range(rng.randint(1, 3)))
            try:
                want = ("ok", env.from_string(t).render(**VARS))
            except Exception as e:  # noqa: BLE001
                want = ("error", f"{type(e).__name__}: {e}")
            with open(cfg, "w", encoding="utf-8") as f:
                json.dump({"chat_template": t}, f)
            p = subprocess.run([BIN, "template", "--tokenizer-config", cfg, "--batch", batch],
                               capture_output=True, text=True)
            if p.returncode != 0:
                got = ("error", p.stderr.strip())
            else:
                j = json.loads(p.stdout)
                got = ("ok", j["ok"]) if "ok" in j else ("error", j["error"])
            if not (got == want or got[0] == want[0] == "error"):
                diffs += 1
                print(f"DIFF template: {t!r}\n  jinja2:   {want!r:.300}\n  localmax: {got!r:.300}")
    print(f"{N_CASES - diffs}/{N_CASES} random templates agree with jinja2")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
