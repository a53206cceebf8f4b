"""LM_ISA=scalar|avx2|avx512: every kernel table gives the same greedy text on stories260K
(the known text for the F32 model; the same text across ISAs for Q8_0 / Q4_0 copies and for a
random 256-wide model in Q4_K_M / Q5_K / Q2_K / Q3_K, whose k-quant kernels are bit-exact), and
the override is honoured (or refused with a warning when the CPU lacks the ISA)."""
from lmtest import BIN, check, finish, fixture, run, tmpdir
import os
import subprocess

model = fixture("models/stories260K.gguf")
expected = ("Zoo was a little girl named Lily. She loved to play outside in the park. One day, she "
            "saw a big, red ball. She wanted to play with it, but she didn't want to play with")
ISAS = ["scalar", "avx2", "avx512"]


def run_isa(isa, path):
    env = dict(os.environ, LM_ISA=isa)
    p = subprocess.run([BIN, "run", "-m", path, "-p", "Zoo", "-n", "57", "--temp", "0", "--echo",
                        "-t", "2", "-v"], capture_output=True, text=True, timeout=600, env=env)
    if p.returncode != 0:
        raise AssertionError(f"LM_ISA={isa} run exited {p.returncode}: {p.stderr[-2000:]}")
    used = None
    for name in ISAS:
        if f"using the {name} table" in p.stderr:
            used = name
    return p.stdout.rstrip("\n"), used, p.stderr


# Which tables this CPU has: the highest one a request for avx512 gets.
_, best, _ = run_isa("avx512", model)
check(best in ISAS, f"the kernel table in use is logged (best here: {best})")
available = ISAS[:ISAS.index(best) + 1] if best in ISAS else ["scalar"]

for isa in ISAS:
    text, used, err = run_isa(isa, model)
    if isa in available:
        check(used == isa, f"LM_ISA={isa} selects the {isa} table (got {used})")
    else:
        check(used == best and "lacks it" in err,
              f"LM_ISA={isa} on a CPU without it warns and falls back to {best} (got {used})")
    check(text == expected, f"LM_ISA={isa}: stories260K F32 greedy text is exact (got {text!r})")

_, used, err = run_isa("bogus", model)
check(used == best and "unknown ISA" in err, "an unknown LM_ISA warns and uses the best table")

d = tmpdir("isa_paths")
for qtype in ["Q8_0", "Q4_0"]:
    q = os.path.join(d, f"stories260K-{qtype}.gguf")
    run("quantize", model, q, qtype)
    texts = {isa: run_isa(isa, q)[0] for isa in available}
    check(len(set(texts.values())) == 1 and len(texts["scalar"]) > 20,
          f"{qtype}: the same greedy text on every ISA ({texts})")
# A random model whose dims allow the k-quants (multiples of 256).
rnd = os.path.join(d, "rnd-f32.gguf")
run("gen-model", "--arch", "llama", "--n-embd", 256, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
    "--n-ff", 512, "--type", "F32", "--seed", 3, "-o", rnd)
for qtype in ["Q4_K_M", "Q5_K", "Q2_K", "Q3_K"]:
    q = os.path.join(d, f"rnd-{qtype}.gguf")
    run("quantize", rnd, q, qtype)
    texts = {isa: run_isa(isa, q)[0] for isa in available}
    check(len(set(texts.values())) == 1 and len(texts["scalar"]) > 3,
          f"{qtype}: the same greedy text on every ISA ({texts})")
finish()
