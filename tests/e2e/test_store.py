"""`localmax pull/ls/rm/show` and -m model references, end to end against a fake hub
(hf_server.py): digests, resume after a cut (asserted from the server's request log), corrupted
downloads, HTTP errors, offline, quant-tag selection, Ctrl-C, pinned digests."""
import filecmp
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmtest  # noqa: E402
from lmtest import check  # noqa: E402
from hf_server import HubServer  # noqa: E402

WORK = lmtest.tmpdir("store_e2e")
HUB = os.path.join(WORK, "hub")
ORG = "testorg"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def gen_model(out, seed, typ="F32"):
    lmtest.run("gen-model", "--arch", "llama", "--preset", "micro", "--n-layer", "2", "--n-embd", "256",
               "--n-ff", "512", "--type", typ, "--seed", seed, "-o", out)


def setup_hub():
    shutil.rmtree(WORK, ignore_errors=True)
    tiny = os.path.join(HUB, ORG, "tiny-GGUF")
    multi = os.path.join(HUB, ORG, "multi-GGUF")
    private = os.path.join(HUB, ORG, "private-GGUF")
    for d in (tiny, multi, private):
        os.makedirs(d)
    gen_model(os.path.join(tiny, "tiny-F32.gguf"), 1)
    gen_model(os.path.join(tiny, "tiny-F16.gguf"), 2, "F16")
    with open(os.path.join(tiny, "README.md"), "w") as f:
        f.write("a test model\n")
    for n in ("a-Q8_0.gguf", "b-Q8_0.gguf"):
        shutil.copy(os.path.join(tiny, "tiny-F16.gguf"), os.path.join(multi, n))
    shutil.copy(os.path.join(tiny, "tiny-F16.gguf"), os.path.join(private, "p-F16.gguf"))
    return os.path.join(tiny, "tiny-F32.gguf")


def env_for(home, hub, **extra):
    env = dict(os.environ)
    env.pop("HF_TOKEN", None)
    env.update({"LOCALMAX_HOME": home, "HF_ENDPOINT": hub.endpoint, "LOCALMAX_PULL_BACKOFF_MS": "20"})
    env.update(extra)
    return env


def lm(env, *args, timeout=300):
    p = subprocess.run([lmtest.BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    if p.returncode < 0:
        raise AssertionError(f"localmax {args} died with signal {-p.returncode}: {p.stderr[-2000:]}")
    return p


def fresh_home(name):
    home = os.path.join(WORK, name)
    shutil.rmtree(home, ignore_errors=True)
    return home


def requests_to(hub, prefix):
    return [r for r in list(hub.log) if r["path"].startswith(prefix)]


def test_basic(hub, src):
    home = fresh_home("home-basic")
    env = env_for(home, hub)
    digest = sha256(src)
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    check(p.returncode == 0, f"pull OWNER/REPO/FILE: {p.stderr.strip()[-300:]}")
    check("pulled tiny-GGUF:tiny-F32" in p.stdout and digest[:12] in p.stdout, f"pull summary: {p.stdout.strip()}")
    blob = os.path.join(home, "blobs", "sha256-" + digest)
    check(os.path.isfile(blob) and filecmp.cmp(blob, src, shallow=False), "blob stored under its sha256, identical")
    check(not os.access(blob, os.W_OK) or os.geteuid() == 0, "blob is read-only")
    check(os.listdir(os.path.join(home, "tmp")) == [] or
          all(n.endswith(".lock") for n in os.listdir(os.path.join(home, "tmp"))), "no partial left")
    ls = lm(env, "ls")
    check(ls.returncode == 0 and "tiny-GGUF:tiny-F32" in ls.stdout and digest[:12] in ls.stdout, f"ls: {ls.stdout}")
    j = json.loads(lm(env, "ls", "--json").stdout)
    check(len(j) == 1 and j[0]["digest"] == "sha256:" + digest and j[0]["size"] == os.path.getsize(src)
          and j[0]["source"]["repo"] == f"{ORG}/tiny-GGUF" and j[0]["source"]["commit"] == hub.commit(f"{ORG}/tiny-GGUF"),
          "ls --json: digest, size, source and commit")
    show = lm(env, "show", "tiny-GGUF:tiny-F32")
    check(show.returncode == 0 and "architecture:   llama" in show.stdout and digest in show.stdout
          and "chat template:  no" in show.stdout and "F32" in show.stdout, f"show: {show.stdout}{show.stderr}")
    p = lm(env, "show", f"sha256:{digest[:12]}")
    check(p.returncode == 0 and "model:          tiny-GGUF:tiny-F32" in p.stdout, "show sha256:PREFIX finds its model")
    sj = json.loads(lm(env, "show", "--json", "tiny-GGUF:tiny-F32").stdout)
    check(sj["architecture"] == "llama" and sj["parameters"] > 0 and sj["context_length"] > 0
          and set(sj["tensor_types"]) == {"F32"} and sj["chat_template"] is False, "show --json summary")
    again = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    check(again.returncode == 0 and "already in the store" in again.stdout, "second pull is a no-op")
    # -m resolution
    r = lm(env, "run", "-m", "tiny-GGUF:tiny-F32", "-p", "hello", "-n", "3", "--temp", "0")
    check(r.returncode == 0, f"run -m NAME: {r.stderr.strip()[-300:]}")
    r = lm(env, "run", "-m", f"tiny-GGUF:tiny-F32@sha256:{digest}", "-p", "hello", "-n", "3", "--temp", "0")
    check(r.returncode == 0, f"run -m NAME@sha256:DIGEST: {r.stderr.strip()[-300:]}")
    check(os.path.isfile(os.path.join(home, "verified", "sha256-" + digest)), "pinned load leaves a verification stamp")
    r = lm(env, "run", "-m", f"sha256:{digest[:10]}", "-p", "hello", "-n", "2", "--temp", "0")
    check(r.returncode == 0, "run -m sha256:PREFIX")
    r = lm(env, "run", "-m", f"tiny-GGUF:tiny-F32@sha256:{'0' * 64}", "-p", "hello", "-n", "2")
    check(r.returncode == 1 and "not the pinned" in r.stderr, f"wrong pin refused: {r.stderr.strip()}")
    r = lm(env, "run", "-m", "no-such-model", "-p", "x", "-n", "1")
    check(r.returncode == 1 and "localmax ls" in r.stderr, f"unknown name: {r.stderr.strip()}")
    # A blob modified after the pull is caught by the pinned reference (stamp no longer matches).
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    os.utime(blob, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    r = lm(env, "run", "-m", f"tiny-GGUF:tiny-F32@sha256:{digest}", "-p", "hello", "-n", "2")
    check(r.returncode == 1 and "digest mismatch" in r.stderr, f"tampered blob refused when pinned: {r.stderr.strip()}")
    # rm: shared blob kept until the last name goes
    home2 = fresh_home("home-rm")
    env2 = env_for(home2, hub)
    lm(env2, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    p = lm(env2, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf", "--name", "second")
    check(p.returncode == 0, "pull --name")
    names = [m["name"] for m in json.loads(lm(env2, "ls", "--json").stdout)]
    check(names == ["second", "tiny-GGUF:tiny-F32"], f"two names: {names}")
    blob2 = os.path.join(home2, "blobs", "sha256-" + digest)
    p = lm(env2, "rm", "second")
    check(p.returncode == 0 and os.path.exists(blob2), "rm keeps a blob another model uses")
    p = lm(env2, "rm", digest[:8])
    check(p.returncode == 0 and not os.path.exists(blob2), f"rm by digest prefix removes manifest and blob: {p.stdout}")
    check(json.loads(lm(env2, "ls", "--json").stdout) == [], "store empty after rm")
    p = lm(env2, "rm", "nothing-here")
    check(p.returncode == 1 and "no model named" in p.stderr, "rm of an unknown name")
    # corrupt manifest: clear warning, no crash
    with open(os.path.join(home2, "manifests", "broken.json"), "w") as f:
        f.write("{\"name\": ")
    p = lm(env2, "ls")
    check(p.returncode == 0 and "corrupt manifest" in p.stderr, f"ls with a corrupt manifest: {p.stderr.strip()}")
    p = lm(env2, "show", "broken")
    check(p.returncode == 1 and "corrupt manifest" in p.stderr, f"show of a corrupt manifest: {p.stderr.strip()}")


def test_resume_after_cut(hub, src):
    home = fresh_home("home-cut")
    env = env_for(home, hub)
    size = os.path.getsize(src)
    cut = int(size * 0.4)
    hub.clear()
    hub.add_fault(match="/cdn/", cut_after=cut, times=1)
    p = lm(env, "pull", "--retries", "0", f"hf.co/{ORG}/tiny-GGUF:tiny-F32.gguf")
    check(p.returncode == 1 and "pull again to resume" in p.stderr, f"cut pull fails, resumable: {p.stderr.strip()}")
    partials = [n for n in os.listdir(os.path.join(home, "tmp")) if n.endswith(".partial")]
    check(len(partials) == 1 and os.path.getsize(os.path.join(home, "tmp", partials[0])) == cut,
          f"partial of {cut} bytes kept")
    check(json.loads(lm(env, "ls", "--json").stdout) == [], "no manifest for a partial download")
    hub.clear()
    p = lm(env, "pull", f"hf.co/{ORG}/tiny-GGUF:tiny-F32.gguf")
    check(p.returncode == 0 and "resumed at" in p.stdout, f"second pull completes: {p.stdout.strip()} {p.stderr.strip()}")
    cdn = requests_to(hub, "/cdn/")
    check(len(cdn) == 1 and cdn[0]["range"] == f"bytes={cut}-" and cdn[0]["status"] == 206,
          f"second request asked Range bytes={cut}-: {cdn}")
    blob = os.path.join(home, "blobs", "sha256-" + sha256(src))
    check(os.path.isfile(blob) and filecmp.cmp(blob, src, shallow=False), "resumed blob is byte-identical")

    # automatic retries inside one pull
    home = fresh_home("home-retry")
    hub.clear()
    hub.add_fault(match="/cdn/", cut_after=cut // 2, times=2)
    p = lm(env_for(home, hub), "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    cdn = requests_to(hub, "/cdn/")
    check(p.returncode == 0 and len(cdn) == 3, f"one pull survives two cuts ({len(cdn)} requests): {p.stderr.strip()[-300:]}")
    half = cut // 2
    check([r["range"] for r in cdn] == [None, f"bytes={half}-", f"bytes={2 * half}-"], f"retries resume: {cdn}")
    check("retrying" in p.stderr, "retry announced on stderr")
    check(filecmp.cmp(os.path.join(home, "blobs", "sha256-" + sha256(src)), src, shallow=False), "retried blob identical")

    # a server that ignores Range (200 instead of 206) restarts the file
    home = fresh_home("home-norange")
    env = env_for(home, hub)
    hub.clear()
    hub.add_fault(match="/cdn/", cut_after=cut, times=1)
    lm(env, "pull", "--retries", "0", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    hub.clear()
    hub.add_fault(match="/cdn/", ignore_range=True, times=1)
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    cdn = requests_to(hub, "/cdn/")
    check(p.returncode == 0 and cdn[0]["range"] == f"bytes={cut}-" and cdn[0]["status"] == 200,
          f"200 answer to a Range request: {cdn} {p.stderr.strip()[-200:]}")
    check(filecmp.cmp(os.path.join(home, "blobs", "sha256-" + sha256(src)), src, shallow=False),
          "restarted blob identical")


def test_ctrl_c(hub, src):
    home = fresh_home("home-sigint")
    env = env_for(home, hub)
    hub.clear()
    hub.add_fault(match="/cdn/", delay=0.15, times=1)
    proc = subprocess.Popen([lmtest.BIN, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tmp = os.path.join(home, "tmp")
    deadline = time.time() + 30
    part = None
    while time.time() < deadline:
        ps = [n for n in os.listdir(tmp) if n.endswith(".partial")] if os.path.isdir(tmp) else []
        if ps and os.path.getsize(os.path.join(tmp, ps[0])) > 0:
            part = os.path.join(tmp, ps[0])
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    check(part is not None and proc.returncode == 130 and "interrupted" in err, f"Ctrl-C stops the pull: rc {proc.returncode} {err.strip()}")
    kept = os.path.getsize(part) if part and os.path.exists(part) else 0
    check(0 < kept < os.path.getsize(src), f"Ctrl-C leaves a partial ({kept} bytes)")
    hub.clear()
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    cdn = requests_to(hub, "/cdn/")
    check(p.returncode == 0 and cdn and cdn[0]["range"] == f"bytes={kept}-", f"resumed after Ctrl-C: {cdn}")
    check(filecmp.cmp(os.path.join(home, "blobs", "sha256-" + sha256(src)), src, shallow=False), "identical after Ctrl-C")


def test_errors(hub, src):
    home = fresh_home("home-err")
    env = env_for(home, hub)
    hub.clear()
    hub.add_fault(match="/cdn/", corrupt=True, times=1)
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    check(p.returncode == 1 and "digest mismatch: expected sha256:" + sha256(src) in p.stderr,
          f"corrupted download rejected: {p.stderr.strip()}")
    check(not os.listdir(os.path.join(home, "blobs")) and not os.listdir(os.path.join(home, "manifests")),
          "no blob and no manifest after a digest mismatch")
    check(not [n for n in os.listdir(os.path.join(home, "tmp")) if n.endswith(".partial")], "corrupt partial deleted")
    hub.clear()

    p = lm(env, "pull", f"{ORG}/no-such-repo/x.gguf")
    check(p.returncode == 1 and "HTTP 404" in p.stderr and f"{ORG}/no-such-repo" in p.stderr, f"404 repo: {p.stderr.strip()}")
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/missing.gguf")
    check(p.returncode == 1 and "missing.gguf" in p.stderr and "tiny-F16.gguf" in p.stderr, f"missing file: {p.stderr.strip()}")
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf@no-such-branch")
    check(p.returncode == 1 and "HTTP 404" in p.stderr and "no-such-branch" in p.stderr, f"404 revision: {p.stderr.strip()}")
    commit = hub.commit(f"{ORG}/tiny-GGUF")
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf@{commit}", "--name", "pinned-rev")
    check(p.returncode == 0, f"pull @COMMIT: {p.stderr.strip()}")
    hub.add_fault(match="/resolve/", status=404, times=1)
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F16.gguf")
    check(p.returncode == 1 and "HTTP 404" in p.stderr and "tiny-F16.gguf" in p.stderr, f"404 file: {p.stderr.strip()}")
    hub.clear()

    hub.tokens[f"{ORG}/private-GGUF"] = "hf_secret"
    p = lm(env, "pull", f"{ORG}/private-GGUF/p-F16.gguf")
    check(p.returncode == 1 and "HTTP 401" in p.stderr and "HF_TOKEN" in p.stderr, f"401: {p.stderr.strip()}")
    p = lm(env_for(home, hub, HF_TOKEN="hf_wrong"), "pull", f"{ORG}/private-GGUF/p-F16.gguf")
    check(p.returncode == 1 and "HTTP 403" in p.stderr and "gated" in p.stderr, f"403: {p.stderr.strip()}")
    hub.clear()
    p = lm(env_for(home, hub, HF_TOKEN="hf_secret"), "pull", f"{ORG}/private-GGUF/p-F16.gguf")
    check(p.returncode == 0 and all(r["auth"] == "Bearer hf_secret" for r in requests_to(hub, "/api/")),
          f"HF_TOKEN sent as a Bearer token: {p.stderr.strip()}")

    hub.clear()
    hub.add_fault(match="/cdn/", status=500)
    p = lm(env_for(fresh_home("home-500"), hub), "pull", "--retries", "2", f"{ORG}/tiny-GGUF/tiny-F16.gguf")
    check(p.returncode == 1 and "HTTP 500" in p.stderr and "gave up after 2 retries" in p.stderr
          and len(requests_to(hub, "/cdn/")) == 3, f"500 retried then reported: {p.stderr.strip()}")
    hub.clear()

    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = lm(env_for(home, hub, HF_ENDPOINT=f"http://127.0.0.1:{port}"), "pull", f"{ORG}/tiny-GGUF/tiny-F16.gguf")
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"error: cannot reach http://127.0.0.1:{port}")
          and "HF_ENDPOINT" in lines[0], f"offline: one clear line: {p.stderr.strip()}")


def test_listing_without_lfs(hub, src):
    """Digest from X-Linked-Etag when the listing has no lfs entry; a corrupt body is still caught."""
    home = fresh_home("home-nolfs")
    env = env_for(home, hub)
    hub.clear()
    hub.listing_lfs = False
    try:
        hub.add_fault(match="/cdn/", corrupt=True, times=1)
        p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
        check(p.returncode == 1 and "digest mismatch: expected sha256:" + sha256(src) in p.stderr,
              f"X-Linked-Etag digest enforced: {p.stderr.strip()}")
        p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
        check(p.returncode == 0 and os.path.isfile(os.path.join(home, "blobs", "sha256-" + sha256(src))),
              f"pull with the digest from headers: {p.stderr.strip()}")
    finally:
        hub.listing_lfs = True


def test_disk_space(hub, src):
    home = fresh_home("home-space")
    hub.clear()
    hub.claimed_size["tiny-F16.gguf"] = 1 << 60
    try:
        p = lm(env_for(home, hub), "pull", f"{ORG}/tiny-GGUF/tiny-F16.gguf")
        check(p.returncode == 1 and "not enough free disk space" in p.stderr and not requests_to(hub, "/cdn/"),
              f"free space checked before downloading: {p.stderr.strip()}")
    finally:
        hub.claimed_size.clear()


def test_write_failure(hub, src):
    """A write error mid-download (here EFBIG from RLIMIT_FSIZE, the same path as ENOSPC) fails
    cleanly: one error naming the file, exit 1, and the partial is kept for a resume."""
    import resource
    home = fresh_home("home-full")
    env = env_for(home, hub)
    hub.clear()
    limit = os.path.getsize(src) // 3

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # write() then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = subprocess.run([lmtest.BIN, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf"], env=env, capture_output=True,
                       text=True, timeout=120, preexec_fn=small_files)
    check(p.returncode == 1 and "writing " in p.stderr and "File too large" in p.stderr
          and "pull again to resume" in p.stderr, f"write failure reported: {p.stderr.strip()}")
    p = lm(env, "pull", f"{ORG}/tiny-GGUF/tiny-F32.gguf")
    cdn = requests_to(hub, "/cdn/")
    check(p.returncode == 0 and cdn[-1]["range"] == f"bytes={limit}-", f"resumed after the write failure: {cdn}")


def test_concurrent_pulls(hub, src):
    """Two pulls of the same blob: the second waits on the lock, then finds the blob in place."""
    home = fresh_home("home-lock")
    env = env_for(home, hub)
    hub.clear()
    hub.add_fault(match="/cdn/", delay=0.02, times=1)
    ref = f"{ORG}/tiny-GGUF/tiny-F32.gguf"
    a = subprocess.Popen([lmtest.BIN, "pull", ref], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not requests_to(hub, "/cdn/"):
        time.sleep(0.02)
    b = subprocess.Popen([lmtest.BIN, "pull", ref, "--name", "other"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    check(a.returncode == 0 and b.returncode == 0, f"both pulls succeed: {err_a.strip()} | {err_b.strip()}")
    check("waiting" in err_b and "already in the store" in out_b, f"second pull waited for the first: {err_b.strip()} {out_b.strip()}")
    check(len(requests_to(hub, "/cdn/")) == 1, "the file was downloaded once")
    check(filecmp.cmp(os.path.join(home, "blobs", "sha256-" + sha256(src)), src, shallow=False), "blob identical")
    p = lm(env, "show", src)
    check(p.returncode == 0 and "architecture:   llama" in p.stdout and "model:" not in p.stdout, "show PATH")


def test_progress_on_tty(hub, src):
    if not shutil.which("script"):
        print("note: no `script` command; progress bar not checked")
        return
    home = fresh_home("home-tty")
    hub.clear()
    cmd = f"{lmtest.BIN} pull {ORG}/tiny-GGUF/tiny-F32.gguf"
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=120,
                       env=env_for(home, hub))
    check(p.returncode == 0 and "100.0%" in p.stdout and "MB/s" in p.stdout and "ETA" in p.stdout,
          f"progress bar on a tty: {p.stdout[-300:]!r}")


def test_quant_tags(hub, src):
    home = fresh_home("home-quant")
    env = env_for(home, hub)
    p = lm(env, "pull", f"{ORG}/tiny-GGUF:f16")
    check(p.returncode == 0 and "tiny-GGUF:tiny-F16" in p.stdout, f"quant tag picks tiny-F16.gguf: {p.stdout.strip()} {p.stderr.strip()}")
    p = lm(env, "pull", f"{ORG}/multi-GGUF:Q8_0")
    check(p.returncode == 1 and "ambiguous" in p.stderr and "a-Q8_0.gguf" in p.stderr and "b-Q8_0.gguf" in p.stderr,
          f"ambiguous tag lists candidates: {p.stderr.strip()}")
    p = lm(env, "pull", f"{ORG}/tiny-GGUF:Q4_K_M")
    check(p.returncode == 1 and "tiny-F32.gguf" in p.stderr, f"no match lists the files: {p.stderr.strip()}")
    p = lm(env, "pull", "not a ref")
    check(p.returncode == 1 and "bad model reference" in p.stderr, "bad reference")


def main():
    if not os.path.exists(lmtest.BIN):
        lmtest.skip(f"{lmtest.BIN} not built")
    src = setup_hub()
    hub = HubServer(HUB).start()
    try:
        test_basic(hub, src)
        test_resume_after_cut(hub, src)
        test_ctrl_c(hub, src)
        test_errors(hub, src)
        test_quant_tags(hub, src)
        test_listing_without_lfs(hub, src)
        test_disk_space(hub, src)
        test_write_failure(hub, src)
        test_concurrent_pulls(hub, src)
        test_progress_on_tty(hub, src)
    finally:
        hub.stop()
    lmtest.finish()


if __name__ == "__main__":
    main()
