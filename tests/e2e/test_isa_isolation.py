"""The ISA flags stay in the per-ISA kernel files: no other object of the build contains AVX
(ymm / zmm) instructions, so the binary runs on any x86-64, and the per-ISA objects export no
weak (COMDAT) symbols that the linker could pick for callers elsewhere."""
from lmtest import BIN, check, finish, skip
import glob
import os
import re
import shutil
import subprocess

build = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))
objs = glob.glob(os.path.join(build, "CMakeFiles", "lm_*.dir", "**", "*.o"), recursive=True)
if not objs or not shutil.which("objdump") or not shutil.which("nm"):
    skip("needs the build's object files and binutils (objdump, nm)")
if os.uname().machine not in ("x86_64", "AMD64"):
    skip("x86-64 only")

isa_objs = [o for o in objs if re.search(r"_avx(2|512)\.cpp\.o$", o)]
plain = [o for o in objs if o not in isa_objs]
check(len(isa_objs) >= 4, f"per-ISA kernel objects found ({len(isa_objs)})")

leaks = []
for o in plain:
    asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", o], capture_output=True,
                         text=True).stdout
    if re.search(r"%[yz]mm\d", asm):
        leaks.append(os.path.basename(o))
check(not leaks, f"no AVX instructions outside the per-ISA files (checked {len(plain)}; found in {leaks})")

weak = []
for o in isa_objs:
    for line in subprocess.run(["nm", o], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-2] in ("W", "V", "u"):
            weak.append(f"{os.path.basename(o)}: {parts[-1]}")
check(not weak, f"per-ISA objects define no weak symbols ({weak[:5]})")
finish()
