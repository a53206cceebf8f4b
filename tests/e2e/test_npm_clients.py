"""The official npm clients (`openai` 6.x, `ollama` 0.6.x, from node_modules) against a live
`localmax serve`: tests/e2e/clients/openai_client.mjs and ollama_client.mjs, on models/demo.gguf and
on ../shared/fixtures' stories260K.gguf (skipped when absent). Every JSON-schema output the scripts
report ("SCHEMA_OUTPUT {...}") is validated here with python3-jsonschema.

The server is probed for the features the tools/json_schema/format (constrained decoding) and
embeddings groups need; a build without them ("not supported yet" 400, or 501) fails, unless
LM_CLIENTS_ALLOW_MISSING=1, which skips those groups with an UNVERIFIED line (for a branch that
predates them)."""
import json
import os
import shutil
import subprocess

from lmtest import FIXTURES, SOURCE, check, finish, skip
from server_util import Server

CLIENTS = os.path.join(SOURCE, "tests", "e2e", "clients")
DEMO = os.path.join(SOURCE, "models", "demo.gguf")
STORIES = os.path.join(FIXTURES, "models", "stories260K.gguf")
CTX = 1024   # the tool definitions the ChatML fallback renders take ~600 tokens
REQUIRE_ALL = os.environ.get("LM_CLIENTS_ALLOW_MISSING") != "1"

NODE = shutil.which("node")
if not NODE:
    skip("node is not installed")
for pkg in ("openai", "ollama"):
    if not os.path.isdir(os.path.join(SOURCE, "node_modules", pkg)):
        skip(f"node_modules/{pkg} is missing (scripts/install-deps --test)")
if not os.path.exists(DEMO):
    skip("models/demo.gguf not found")

try:
    import jsonschema
except ImportError:
    jsonschema = None


def run_script(script, srv, model, groups, api_key=None):
    """Runs one client script; returns (exit code, output). Echoes the output."""
    cmd = [NODE, os.path.join(CLIENTS, script), "--base", f"http://127.0.0.1:{srv.port}",
           "--model", model, "--groups", ",".join(groups), "--ctx", str(CTX)]
    if api_key:
        cmd += ["--api-key", api_key]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=SOURCE)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = f"{e.stdout or ''}{e.stderr or ''}\ntimed out after 600 s", -1
    for line in out.splitlines():
        if not line.startswith("SCHEMA_OUTPUT "):
            print(f"  [{script} {model}] {line}")
    return rc, out


def validate_schema_outputs(out, label):
    """Validates every SCHEMA_OUTPUT line of a script's output; returns how many there were."""
    outputs = [json.loads(line[len("SCHEMA_OUTPUT "):]) for line in out.splitlines()
               if line.startswith("SCHEMA_OUTPUT ")]
    for o in outputs:
        try:
            value = json.loads(o["text"])
        except ValueError as e:
            check(False, f"{label} {o['where']}: JSON ({e}): {o['text']!r}")
            continue
        if jsonschema is None:
            check(False, "python3-jsonschema is not installed: cannot validate schema outputs")
            return len(outputs)
        errors = sorted(jsonschema.Draft202012Validator(o["schema"]).iter_errors(value), key=str)
        check(not errors, f"{label} {o['where']}: {o['text']!r} validates against its schema"
                          f"{'' if not errors else ' -- ' + errors[0].message}")
    return len(outputs)


def probe(srv):
    """Which features on other branches this server has: {"grammar", "ollama_format", "embeddings"}."""
    have = set()
    chat = {"model": "probe", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1,
            "response_format": {"type": "json_object"}}
    st, body = srv.json("POST", "/v1/chat/completions", chat)
    if not (st == 400 and "not supported" in json.dumps(body)):
        have.add("grammar")
    st, body = srv.json("POST", "/api/chat", {"model": "probe", "messages": [], "format": "json"})
    if not (st == 400 and "not supported" in json.dumps(body)):
        have.add("ollama_format")
    st, body = srv.json("POST", "/v1/embeddings", {"model": "probe", "input": "x"})
    if st != 501:
        have.add("embeddings")
    return have


def groups_for(have, base, optional):
    """base groups plus the optional ones whose feature exists; prints what stays unverified."""
    groups = list(base)
    for group, feature in optional:
        if feature in have:
            groups.append(group)
        elif REQUIRE_ALL:
            check(False, f"group {group}: the server lacks {feature} (LM_CLIENTS_ALLOW_MISSING=1 skips it)")
        else:
            print(f"UNVERIFIED: group {group} skipped: this build has no {feature} yet")
    return groups


def run_model(path, model):
    srv = Server("-m", path, "--alias", model, "--parallel", 2, "-c", CTX, "-t", 2)
    try:
        have = probe(srv)
        label = f"{model}:"
        groups = groups_for(have, ["core", "errors", "abort"],
                            [("tools", "grammar"), ("json_schema", "grammar"), ("embeddings", "embeddings")])
        rc, out = run_script("openai_client.mjs", srv, model, groups)
        check(rc == 0, f"{label} openai client: {','.join(groups)} (exit {rc})")
        n = validate_schema_outputs(out, f"{label} openai")
        if "grammar" in have:
            check(n >= 7, f"{label} openai: {n} schema outputs validated")
        groups = groups_for(have, ["core", "errors"],
                            [("format", "ollama_format"), ("embeddings", "embeddings")])
        rc, out = run_script("ollama_client.mjs", srv, model, groups)
        check(rc == 0, f"{label} ollama client: {','.join(groups)} (exit {rc})")
        n = validate_schema_outputs(out, f"{label} ollama")
        if "ollama_format" in have:
            check(n >= 2, f"{label} ollama: {n} schema outputs validated")
    finally:
        rc = srv.stop()
    check(rc == 0, f"{label} server exits cleanly after the client runs ({rc})")


def run_auth():
    key = "client-test-key"
    srv = Server("-m", DEMO, "--alias", "demo", "-c", CTX, "-t", 1, "--api-key", key)
    try:
        rc, _ = run_script("openai_client.mjs", srv, "demo", ["auth"], api_key=key)
        check(rc == 0, f"openai client against --api-key (exit {rc})")
        rc, _ = run_script("ollama_client.mjs", srv, "demo", ["auth"], api_key=key)
        check(rc == 0, f"ollama client against --api-key (exit {rc})")
    finally:
        srv.stop()


run_model(DEMO, "demo")
run_auth()
if os.path.exists(STORIES):
    run_model(STORIES, "stories260K")
else:
    print(f"SKIP: {STORIES} not found: the clients ran on the demo model only")
finish()
