#!/usr/bin/env python3
"""`localmax template`: the template from a tokenizer_config.json or a GGUF file (with its bos/eos
token texts), --messages as an array or an object with tools and extra variables, --tools,
--var, --template-name, --add-generation-prompt; the prompt is printed exactly (no newline
added); errors go to stderr with exit code 1. Expected prompts are written out by hand."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("LM_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
BIN = os.environ.get("LM_BIN", os.path.join(SRC, "build", "bin", "localmax"))
sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
from gguf_write import T_STRING, T_ARRAY, T_U32, gguf_file  # noqa: E402

TEMPLATE = ("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}"
            "{% endfor %}{% if tools %}[{{ tools|map(attribute='function.name')|join(',') }}]{% endif %}"
            "{% if flavor is defined %}({{ flavor }}){% endif %}"
            "{% if add_generation_prompt %}<assistant>{% endif %}")
TOOL_TEMPLATE = "TOOLS:{{ tools|length if tools else 0 }}"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Héllo 🙂\n"}]
TOOLS = [{"type": "function", "function": {"name": "f1"}}, {"type": "function", "function": {"name": "f2"}}]

failures = []


def run(args):
    p = subprocess.run([BIN, "template"] + args, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def check(name, args, want=None, want_rc=0, err_has=None):
    rc, out, err = run(args)
    ok = rc == want_rc and (want is None or out == want) and (err_has is None or err_has in err)
    if want_rc != 0 and out:
        ok = False
    print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if not ok:
        failures.append(name)
        print(f"   rc={rc} out={out!r} err={err!r} want={want!r}")


def main():
    if not os.path.exists(BIN):
        print(f"FAIL: {BIN} not built")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, obj, raw=False):
            path = os.path.join(tmp, name)
            with open(path, "wb" if raw else "w", encoding=None if raw else "utf-8") as f:
                if raw:
                    f.write(obj)
                else:
                    json.dump(obj, f, ensure_ascii=False)
            return path

        cfg = write("cfg.json", {"chat_template": [{"name": "default", "template": TEMPLATE},
                                                   {"name": "tool_use", "template": TOOL_TEMPLATE}],
                                 "bos_token": {"content": "<s>"}, "eos_token": "</s>"})
        msgs = write("msgs.json", MESSAGES)
        tools = write("tools.json", TOOLS)
        conv = write("conv.json", {"messages": MESSAGES, "tools": TOOLS[:1], "flavor": "x"})
        base = "<s><system>Be brief.</s><user>Héllo 🙂\n</s>"
        check("config, plain", ["--tokenizer-config", cfg, "--messages", msgs], base)
        check("generation prompt", ["--tokenizer-config", cfg, "--messages", msgs, "--add-generation-prompt"],
              base + "<assistant>")
        check("tools file", ["--tokenizer-config", cfg, "--messages", msgs, "--tools", tools], base + "[f1,f2]")
        check("object form with extra vars", ["--tokenizer-config", cfg, "--messages", conv], base + "[f1](x)")
        check("--var JSON and string", ["--tokenizer-config", cfg, "--messages", msgs, "--var", "flavor=[1, 2]"],
              base + "([1, 2])")
        check("--var plain string", ["--tokenizer-config", cfg, "--messages", msgs, "--var", "flavor=abc"],
              base + "(abc)")
        check("--template-name", ["--tokenizer-config", cfg, "--messages", msgs, "--tools", tools,
                                  "--template-name", "tool_use"], "TOOLS:2")
        check("unknown template name", ["--tokenizer-config", cfg, "--messages", msgs, "--template-name", "nope"],
              want_rc=1, err_has="no template named 'nope'")
        bad = write("bad.json", {"chat_template": "{% for %}"})
        check("syntax error", ["--tokenizer-config", bad, "--messages", msgs], want_rc=1,
              err_has="template syntax error at 1:")
        raising = write("raise.json", {"chat_template": "{{ raise_exception('Roles must alternate') }}"})
        check("raise_exception", ["--tokenizer-config", raising, "--messages", msgs], want_rc=1,
              err_has="Roles must alternate")
        check("missing messages file", ["--tokenizer-config", cfg, "--messages", os.path.join(tmp, "none.json")],
              want_rc=1)
        check("no template source", ["--messages", msgs], want_rc=1, err_has="-m or --tokenizer-config")

        tokens = ["<unk>", "<s>", "</s>", "hello"]
        gguf = write("m.gguf", gguf_file([
            ("general.architecture", T_STRING, "llama"),
            ("tokenizer.chat_template", T_STRING, TEMPLATE),
            ("tokenizer.chat_template.tool_use", T_STRING, TOOL_TEMPLATE),
            ("tokenizer.ggml.tokens", T_ARRAY, (T_STRING, tokens)),
            ("tokenizer.ggml.bos_token_id", T_U32, 1),
            ("tokenizer.ggml.eos_token_id", T_U32, 2),
        ], []), raw=True)
        check("gguf template and bos/eos", ["-m", gguf, "--messages", msgs], base)
        check("gguf named template", ["-m", gguf, "--messages", msgs, "--template-name", "tool_use"], "TOOLS:0")
        nogguf = write("n.gguf", gguf_file([("general.architecture", T_STRING, "llama")], []), raw=True)
        check("gguf without template", ["-m", nogguf, "--messages", msgs], want_rc=1,
              err_has="tokenizer.chat_template")

        batch = os.path.join(tmp, "b.jsonl")
        with open(batch, "w", encoding="utf-8") as f:
            f.write(json.dumps({"messages": MESSAGES, "add_generation_prompt": True}) + "\n")
            f.write(json.dumps({"messages": "not a list", "flavor": 1}) + "\n")
        rc, out, err = run(["--tokenizer-config", cfg, "--batch", batch])
        lines = [json.loads(x) for x in out.splitlines()]
        ok = rc == 0 and len(lines) == 2 and lines[0] == {"ok": base + "<assistant>"} and "ok" in lines[1]
        print(f"{'ok  ' if ok else 'FAIL'} batch")
        if not ok:
            failures.append("batch")
            print(f"   rc={rc} out={out!r} err={err!r}")
    if failures:
        print(f"{len(failures)} failures: {failures}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
