#!/usr/bin/env python3
"""Detector quality on a labelled corpus (issue 5, "Done when"): detect_corpus.mjs generates
positives of every structured kind in realistic sentences (seeded @faker-js/faker, several
locales) and hard negatives (code, hashes, UUIDs, base64, prose with numbers, dates, versions,
order numbers, math, URLs, product codes); `localmax detect --jsonl` scans them in one process.

A labelled value counts as found when a span of the same kind overlaps it. Asserts recall >= 99.5%
per structured kind and false positives (negatives with any span) <= 1%; prints the table.
Run alone: LM_BIN=build/bin/localmax python3 tests/e2e/test_detect_corpus.py [seed] [per_kind]"""
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmtest  # noqa: E402

STRUCTURED = ["card", "iban", "ssn", "nino", "email", "phone", "ip", "private_key", "secret"]


def generate(seed, per_kind):
    node = shutil.which("node")
    script = os.path.join(lmtest.SOURCE, "tests", "e2e", "detect_corpus.mjs")
    if not node:
        lmtest.skip("node not found (needed for the @faker-js/faker corpus)")
    if not os.path.isdir(os.path.join(lmtest.SOURCE, "node_modules", "@faker-js", "faker")):
        lmtest.skip("node_modules/@faker-js/faker not installed")
    p = subprocess.run([node, script, str(seed), str(per_kind)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"detect_corpus.mjs failed: {p.stderr[-2000:]}")
    return [json.loads(line) for line in p.stdout.splitlines() if line]


def assemble(item):
    """Text and labels [(kind, byte_begin, byte_end)] from the item's parts."""
    text, labels, pos = "", [], 0
    for part in item["parts"]:
        s = part[-1]
        n = len(s.encode("utf-8"))
        if len(part) == 2:
            labels.append((part[0], pos, pos + n))
        text += s
        pos += n
    return text, labels


def cli_checks():
    """The plain, --json, --show, --redact and --config forms of the command."""
    d = lmtest.tmpdir("detect")
    text = "mail jane@example.com, card 4111 1111 1111 1111, EMP-123456"
    plain = lmtest.run("detect", "-", input=text).stdout
    lmtest.check(plain == "email\t5\t21\temail\ncard\t28\t47\tvisa\n", f"plain output: {plain!r}")
    lmtest.check("jane" not in plain, "no matched text without --show")
    j = json.loads(lmtest.run("detect", "--json", "--show", "-", input=text).stdout)
    lmtest.check([s["text"] for s in j["spans"]] == ["jane@example.com", "4111 1111 1111 1111"], "--json --show")
    red = lmtest.run("detect", "--redact", "-", input=text).stdout
    lmtest.check(red == "mail [EMAIL_1], card [CARD_1], EMP-123456", f"--redact: {red!r}")
    cfg = os.path.join(d, "cfg.json")
    with open(cfg, "w") as f:
        json.dump({"kinds": ["custom"], "patterns": [{"name": "employee", "regex": "EMP-\\d{6}"}]}, f)
    out = lmtest.run("detect", "--config", cfg, "-", input=text).stdout
    lmtest.check(out == "custom\t49\t59\temployee\n", f"--config custom pattern: {out!r}")
    with open(cfg, "w") as f:
        json.dump({"patterns": [{"name": "broken", "regex": "a(b"}]}, f)
    p = lmtest.run("detect", "--config", cfg, "-", input=text, check=False)
    lmtest.check(p.returncode == 1 and "custom pattern 'broken': PCRE2 error" in p.stderr,
                 f"invalid regex is a clear error: {p.stderr.strip()}")


def main():
    cli_checks()
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
    per_kind = int(sys.argv[2]) if len(sys.argv) > 2 else 250
    items = generate(seed, per_kind)
    docs = [assemble(it) for it in items]
    path = os.path.join(lmtest.tmpdir("detect"), "corpus.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for text, _ in docs:
            f.write(json.dumps(text) + "\n")
    out = lmtest.run("detect", "--jsonl", path, timeout=300).stdout.splitlines()
    lmtest.check(len(out) == len(docs), f"one result line per item ({len(out)} for {len(docs)})")

    n = defaultdict(int)
    hit = defaultdict(int)
    misses = defaultdict(list)
    neg_total, neg_fp = 0, 0
    fp_kind = defaultdict(int)
    fp_examples = []
    spurious = 0
    for item, (text, labels), line in zip(items, docs, out):
        spans = json.loads(line)["spans"]
        if item["group"].startswith("negative:"):
            neg_total += 1
            if spans:
                neg_fp += 1
                for k in {s["kind"] for s in spans}:
                    fp_kind[k] += 1
                if len(fp_examples) < 12:
                    s = spans[0]
                    fp_examples.append((item["group"], s["kind"], text.encode()[s["begin"]:s["end"]].decode(errors="replace")))
            continue
        row_of = lambda k, g: "secret(assignment)" if g == "assignment" else k  # noqa: E731
        for kind, b, e in labels:
            row = row_of(kind, item["group"])
            n[row] += 1
            if any(s["kind"] == kind and s["begin"] < e and b < s["end"] for s in spans):
                hit[row] += 1
            elif len(misses[row]) < 8:
                misses[row].append(text.encode()[b:e].decode())
        for s in spans:
            if not any(s["begin"] < e and b < s["end"] for _, b, e in labels):
                spurious += 1

    print(f"\n{'kind':<20} {'n':>6} {'recall':>8} {'FP rate':>8}")
    for row in STRUCTURED + ["secret(assignment)"]:
        if n[row] == 0:
            continue
        fp = fp_kind[row] / neg_total if neg_total and row in fp_kind else 0.0
        print(f"{row:<20} {n[row]:>6} {100.0 * hit[row] / n[row]:>7.2f}% {100.0 * fp:>7.2f}%")
    print(f"{'negatives (any kind)':<20} {neg_total:>6} {'':>8} {100.0 * neg_fp / max(neg_total, 1):>7.2f}%")
    print(f"spans on positive items outside any label: {spurious}")
    for row, vals in misses.items():
        print(f"missed {row}: {vals}")
    for ex in fp_examples:
        print(f"false positive: {ex}")

    for row in STRUCTURED:
        if n[row]:
            lmtest.check(hit[row] / n[row] >= 0.995, f"{row}: recall {100.0 * hit[row] / n[row]:.2f}% >= 99.5%")
    lmtest.check(neg_total >= 1000, f"{neg_total} hard negatives")
    lmtest.check(neg_fp / neg_total <= 0.01, f"false positives {100.0 * neg_fp / neg_total:.2f}% <= 1%")
    lmtest.finish()


if __name__ == "__main__":
    main()
