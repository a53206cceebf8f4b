"""A fake Hugging Face hub for the store tests: a real HTTP server on 127.0.0.1 (random port,
one thread per connection) serving repositories from a folder.

Layout of the folder: ROOT/OWNER/REPO/<files>. Served like huggingface.co:
  GET  /api/models/OWNER/REPO/revision/REV[?blobs=true] -> {"id", "sha", "siblings": [...]}
       (.gguf files are LFS files: "lfs": {"sha256", "size", "pointerSize"} when blobs=true)
  GET|HEAD /OWNER/REPO/resolve/REV/PATH -> 302 to /cdn/<sha256> for LFS files, with X-Repo-Commit,
       ETag, X-Linked-Etag ("<sha256>") and X-Linked-Size; other files are answered directly.
  GET  /cdn/<sha256> -> the bytes, honouring "Range: bytes=N-" with 206 + Content-Range.
REV is "main" or the repository's commit (a sha1 of its file names and digests).

Faults (HubServer.add_fault, or POST /_control with the same fields as JSON):
  match (substring of the path), status (answer with it), cut_after (close the connection after
  N body bytes), corrupt (flip a byte of the body), delay (seconds per 64 KiB chunk), ignore_range
  (answer 200 with the whole file to a Range request), times (how many requests it applies to).
Private repositories: HubServer.tokens[REPO] = TOKEN; no token -> 401, a wrong one -> 403.
HubServer.listing_lfs = False leaves "lfs" out of the listing (the client must then take the digest
from X-Linked-Etag); HubServer.claimed_size[FILE] = N makes the listing claim N bytes for FILE.
Every request is logged in HubServer.log as dicts (method, path, range, auth, status).

Run standalone: python3 hf_server.py ROOT  (prints the endpoint URL, serves until killed).
"""
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Fault:
    def __init__(self, match="", status=None, cut_after=None, corrupt=False, delay=0.0, ignore_range=False,
                 times=None):
        self.match, self.status, self.cut_after, self.corrupt = match, status, cut_after, corrupt
        self.delay, self.ignore_range, self.times = delay, ignore_range, times


class HubServer:
    def __init__(self, root):
        self.root = root
        self.log = []
        self.faults = []
        self.tokens = {}
        self.listing_lfs = True
        self.claimed_size = {}
        self.lock = threading.Lock()
        self._digests = {}
        handler = type("Handler", (_Handler,), {"hub": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_fault(self, **kw):
        with self.lock:
            self.faults.append(Fault(**kw))

    def clear(self):
        with self.lock:
            self.faults.clear()
            self.log.clear()

    def take_fault(self, path):
        with self.lock:
            for f in self.faults:
                if f.match in path and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def sha256(self, path):
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self._digests:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            self._digests[key] = h.hexdigest()
        return self._digests[key]

    def repo_files(self, repo):
        base = os.path.join(self.root, repo)
        out = []
        for d, _, files in os.walk(base):
            for n in files:
                out.append(os.path.relpath(os.path.join(d, n), base))
        return sorted(out)

    def commit(self, repo):
        h = hashlib.sha1(repo.encode())
        for f in self.repo_files(repo):
            h.update(f.encode() + self.sha256(os.path.join(self.root, repo, f)).encode())
        return h.hexdigest()

    def blob_by_digest(self, digest):
        for d, _, files in os.walk(self.root):
            for n in files:
                p = os.path.join(d, n)
                if self.sha256(p) == digest:
                    return p
        return None


class _Handler(BaseHTTPRequestHandler):
    hub = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/_control":
            cfg = json.loads(body or b"{}")
            if cfg.pop("clear", False):
                self.hub.clear()
            if cfg:
                self.hub.add_fault(**cfg)
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "not found"})

    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.record["status"] = status

    def handle_request(self, head):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        self.record = {"method": self.command, "path": path, "range": self.headers.get("Range"),
                       "auth": self.headers.get("Authorization"), "status": None}
        with self.hub.lock:
            self.hub.log.append(self.record)
        fault = self.hub.take_fault(path)
        if fault and fault.status:
            return self.send_json(fault.status, {"error": f"injected HTTP {fault.status}"})
        parts = path.strip("/").split("/")
        if path.startswith("/api/models/") and len(parts) >= 6 and parts[4] == "revision":
            return self.listing("/".join(parts[2:4]), "/".join(parts[5:]), "blobs=true" in url.query)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve("/".join(parts[0:2]), parts[3], "/".join(parts[4:]), fault)
        if len(parts) == 2 and parts[0] == "cdn":
            return self.cdn(parts[1], fault)
        return self.send_json(404, {"error": "Entry not found"})

    def check_access(self, repo):
        want = self.hub.tokens.get(repo)
        if want is None:
            return True
        got = self.headers.get("Authorization")
        if got is None:
            self.send_json(401, {"error": "Repository not found or requires authentication"})
            return False
        if got != f"Bearer {want}":
            self.send_json(403, {"error": "Access to this gated repository is restricted"})
            return False
        return True

    def repo_ok(self, repo, rev):
        if not os.path.isdir(os.path.join(self.hub.root, repo)):
            self.send_json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return False
        if rev not in ("main", self.hub.commit(repo)):
            self.send_json(404, {"error": f"Invalid rev id: {rev}"}, {"X-Error-Code": "RevisionNotFound"})
            return False
        return True

    def listing(self, repo, rev, blobs):
        if not self.check_access(repo) or not self.repo_ok(repo, rev):
            return
        siblings = []
        for f in self.hub.repo_files(repo):
            s = {"rfilename": f}
            if blobs:
                p = os.path.join(self.hub.root, repo, f)
                s["size"] = os.path.getsize(p)
                s["size"] = self.hub.claimed_size.get(f, s["size"])
                if f.endswith(".gguf") and self.hub.listing_lfs:
                    s["lfs"] = {"sha256": self.hub.sha256(p), "size": s["size"], "pointerSize": 134}
            siblings.append(s)
        self.send_json(200, {"id": repo, "modelId": repo, "sha": self.hub.commit(repo), "siblings": siblings})

    def resolve(self, repo, rev, file, fault):
        if not self.check_access(repo) or not self.repo_ok(repo, rev):
            return
        p = os.path.join(self.hub.root, repo, file)
        if not os.path.isfile(p):
            return self.send_json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        commit = self.hub.commit(repo)
        if not file.endswith(".gguf"):
            return self.send_file(p, fault, {"X-Repo-Commit": commit})
        digest = self.hub.sha256(p)
        self.send_response(302)
        self.send_header("Location", f"/cdn/{digest}")
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{digest}"')
        self.send_header("X-Linked-Etag", f'"{digest}"')
        self.send_header("X-Linked-Size", str(os.path.getsize(p)))
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.record["status"] = 302

    def cdn(self, digest, fault):
        p = self.hub.blob_by_digest(digest)
        if p is None:
            return self.send_json(404, {"error": "no such object"})
        self.send_file(p, fault, {"ETag": f'"{digest}"'})

    def send_file(self, p, fault, extra):
        size = os.path.getsize(p)
        start = 0
        rng = self.headers.get("Range")
        if rng and not (fault and fault.ignore_range):
            if not rng.startswith("bytes=") or not rng[6:].rstrip("-").isdigit():
                return self.send_json(400, {"error": "bad range"})
            start = int(rng[6:].split("-")[0])
            if start >= size:
                return self.send_json(416, {"error": "range not satisfiable"}, {"Content-Range": f"bytes */{size}"})
        status = 206 if start > 0 else 200
        self.send_response(status)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.record["status"] = status
        if self.command == "HEAD":
            return
        self.stream(p, start, size, fault)

    def stream(self, p, start, size, fault):
        sent = 0
        with open(p, "rb") as f:
            f.seek(start)
            while start + sent < size:
                chunk = f.read(65536)
                if fault and fault.cut_after is not None and sent + len(chunk) > fault.cut_after:
                    chunk = chunk[:fault.cut_after - sent]
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    self.close_connection = True
                    self.record["cut_at"] = start + sent + len(chunk)
                    return
                if fault and fault.corrupt and sent == 0 and chunk:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                if fault and fault.delay:
                    time.sleep(fault.delay)
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    return
                sent += len(chunk)


if __name__ == "__main__":
    hub = HubServer(sys.argv[1]).start()
    print(hub.endpoint, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()
