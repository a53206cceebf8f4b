"""The web UI's Markdown renderer (src/server/webui/markdown.mjs) under node: formatting, and hostile
input (<script>, <img onerror>, javascript: links, attribute breakouts, unclosed fences, 100k-character
inputs) producing no markup but the renderer's own (tests/e2e/webui/markdown_test.mjs)."""
import os
import shutil
import subprocess
import sys

from lmtest import SOURCE, skip

node = shutil.which("node")
if not node:
    skip("node is not installed")
p = subprocess.run([node, os.path.join(SOURCE, "tests", "e2e", "webui", "markdown_test.mjs")],
                   capture_output=True, text=True, timeout=300)
print(p.stdout[-20000:])
if p.returncode != 0:
    print(p.stderr[-4000:])
    sys.exit(1)
