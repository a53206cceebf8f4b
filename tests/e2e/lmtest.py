"""Shared helpers for the end-to-end tests (run by ctest with /usr/bin/python3).

Environment set by CTest: LM_BIN (the localmax binary), LM_FIXTURES_DIR, LM_SOURCE_DIR, LM_TEST_TMP.
Exit code 77 means "skipped" (ctest SKIP_RETURN_CODE).
"""
import os
import subprocess
import sys
import tempfile

BIN = os.environ.get("LM_BIN", "build/bin/localmax")
FIXTURES = os.environ.get("LM_FIXTURES_DIR", "../shared/fixtures")
SOURCE = os.environ.get("LM_SOURCE_DIR", ".")
TMP = os.environ.get("LM_TEST_TMP", tempfile.gettempdir())

_failures = []


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def fixture(rel):
    p = os.path.join(FIXTURES, rel)
    if not os.path.exists(p):
        skip(f"fixture {rel} not found (needs ../shared/fixtures)")
    return p


def tmpdir(name):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    return d


def run(*args, check=True, timeout=600, input=None):
    """Runs localmax with args; returns CompletedProcess (text mode)."""
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       input=input)
    if p.returncode < 0:
        raise AssertionError(f"localmax {' '.join(map(str, args))} died with signal {-p.returncode}\n"
                             f"stderr: {p.stderr[-2000:]}")
    if check and p.returncode != 0:
        raise AssertionError(f"localmax {' '.join(map(str, args))} exited {p.returncode}\n"
                             f"stderr: {p.stderr[-2000:]}")
    return p


def check(cond, message):
    if cond:
        print(f"ok: {message}")
    else:
        print(f"FAIL: {message}")
        _failures.append(message)


def finish():
    if _failures:
        print(f"{len(_failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)
