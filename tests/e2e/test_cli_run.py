"""`localmax run` end to end: the stories260K known greedy text, determinism, errors."""
from lmtest import check, finish, fixture, run, tmpdir
import os

model = fixture("models/stories260K.gguf")
expected = ("Zoo was a little girl named Lily. She loved to play outside in the park. One day, she "
            "saw a big, red ball. She wanted to play with it, but she didn't want to play with")

# Known greedy output from the fixtures README (BOS, prompt "Zoo", temperature 0). Its "60 tokens"
# are the tokens after BOS: the 3 of the prompt plus 57 generated ones.
p = run("run", "-m", model, "-p", "Zoo", "-n", 57, "--temp", 0, "--echo", "-t", 2)
check(p.stdout.rstrip("\n") == expected, f"stories260K greedy text is exact (got {p.stdout!r})")
check("generated 57 tokens" in p.stderr, "stats line reports 57 generated tokens")

# Without --echo only the continuation is printed.
p2 = run("run", "-m", model, "-p", "Zoo", "-n", 57, "--temp", 0, "-t", 1)
check(p2.stdout.rstrip("\n") == expected[len("Zoo"):], "continuation alone without --echo, 1 thread")

# Same seed, same output; sampling at temperature 1 differs from greedy for some seed.
a = run("run", "-m", model, "-p", "Once upon a time", "-n", 40, "--temp", 1.0, "--seed", 7)
b = run("run", "-m", model, "-p", "Once upon a time", "-n", 40, "--temp", 1.0, "--seed", 7)
check(a.stdout == b.stdout and len(a.stdout.strip()) > 0, "same seed gives the same text")
outs = {run("run", "-m", model, "-p", "Once upon a time", "-n", 40, "--temp", 1.0, "--seed", s).stdout
        for s in (1, 2, 3)}
check(len(outs) > 1, "different seeds give different texts")

# Errors: clear message, exit code 1, never a crash.
e = run("run", "-m", "/nonexistent/model.gguf", "-p", "hi", check=False)
check(e.returncode == 1 and "error:" in e.stderr and "/nonexistent/model.gguf" in e.stderr,
      f"missing model is a clear error ({e.stderr.strip()!r})")
d = tmpdir("cli_run")
bad = os.path.join(d, "not_a_model.gguf")
with open(bad, "wb") as f:
    f.write(b"this is not a gguf file at all")
e = run("run", "-m", bad, "-p", "hi", check=False)
check(e.returncode == 1 and "not a GGUF file" in e.stderr, f"corrupt model is a clear error ({e.stderr.strip()!r})")
long_prompt = "word " * 2000
e = run("run", "-m", model, "-p", long_prompt, "-n", 4, check=False)
check(e.returncode == 1 and "context" in e.stderr and "512" in e.stderr,
      f"prompt longer than the context is refused with the numbers ({e.stderr.strip()!r})")
e = run("run", "-m", model, "-p", "hi", "--top-p", -1, check=False)
check(e.returncode != 0 and "top_p" in e.stderr.lower().replace("-", "_"),
      f"invalid sampling parameter is refused ({e.stderr.strip()!r})")
finish()
