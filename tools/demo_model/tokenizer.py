#!/usr/bin/env python3
"""SentencePiece-style BPE vocabulary for the demo model: training and encoding.

Vocabulary layout (what the GGUF `tokenizer.ggml.*` arrays hold, and what llama-family SPM
vocabularies use):
  id 0 `<unk>` (type 2), 1 `<s>` (type 3), 2 `</s>` (type 3),
  ids 3..258 byte-fallback pieces `<0x00>`..`<0xFF>` (type 6),
  then the merged pieces in merge order (type 1, score = -merge rank, so earlier merges score higher),
  then the single characters of the corpus (type 1, scores below every merge).
Spaces are written as U+2581 "▁" and every text gets a leading "▁" (add_space_prefix).

Encoding is the SentencePiece-BPE algorithm the engine implements: split the text into UTF-8
characters, then repeatedly merge the adjacent pair whose concatenation is a vocabulary piece with
the highest score (ties: the leftmost pair); symbols left that are not pieces become byte pieces.

Usage: tokenizer.py --corpus corpus.txt --vocab-size 1024 --out tokenizer.json
"""
import argparse
import collections
import json

SPACE = "\u2581"
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_BYTE = 1, 2, 3, 6
N_SPECIAL = 3 + 256


def normalize(text):
    """Text as the tokenizer sees it: spaces -> "▁", with a leading "▁"."""
    return SPACE + text.replace(" ", SPACE)


def split_words(norm):
    """Split normalized text into chunks that each start at a "▁" (the first may not)."""
    words, start = [], 0
    for i in range(1, len(norm)):
        if norm[i] == SPACE:
            words.append(norm[start:i])
            start = i
    words.append(norm[start:])
    return words


def is_wordish(c):
    return c.isalnum() or c == "'"


def split_runs(word):
    """Splits a "▁word" into runs of letters and of punctuation; the "▁" stays with the first run.
    Training merges only inside runs, so "▁time," is learned as "▁time" + ",": a prompt that stops
    before the punctuation ("Once upon a time") tokenizes as a prefix of the training text does."""
    runs, start = [], 0
    body = 1 if word.startswith(SPACE) else 0
    for i in range(body + 1, len(word)):
        if is_wordish(word[i]) != is_wordish(word[i - 1]):
            runs.append(word[start:i])
            start = i
    runs.append(word[start:])
    return runs


def count_pairs(words):
    pairs = collections.Counter()
    for syms, freq in words:
        for a, b in zip(syms, syms[1:]):
            pairs[(a, b)] += freq
    return pairs


def merge_word(syms, a, b):
    out, i = [], 0
    while i < len(syms):
        if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(syms[i])
            i += 1
    return out


def train(lines, vocab_size):
    """Learns merges on words (chunks starting at "▁", then split_runs), so no piece holds a "▁"
    after its first character: merges never cross a word boundary, which also makes per-word
    encoding exact."""
    word_freq = collections.Counter()
    char_freq = collections.Counter()
    for line in lines:
        for w in split_words(normalize(line)):
            for run in split_runs(w):
                word_freq[run] += 1
    for w, f in word_freq.items():
        for c in w:
            char_freq[c] += f
    # Characters sorted by frequency (then code point) so the layout is deterministic.
    chars = sorted(char_freq, key=lambda c: (-char_freq[c], c))
    n_merges = vocab_size - N_SPECIAL - len(chars)
    if n_merges <= 0:
        raise ValueError(f"vocab size {vocab_size} too small for {len(chars)} characters")
    words = [(list(w), f) for w, f in sorted(word_freq.items())]
    merges = []
    known = set(chars)
    while len(merges) < n_merges:
        pairs = count_pairs(words)
        # Skip pairs whose concatenation already exists (can happen with different splits).
        best = None
        for pair, cnt in pairs.items():
            if pair[0] + pair[1] in known:
                continue
            key = (-cnt, pair)
            if best is None or key < best[0]:
                best = (key, pair)
        if best is None:
            break
        a, b = best[1]
        merges.append(a + b)
        known.add(a + b)
        words = [(merge_word(s, a, b) if a in s else s, f) for s, f in words]
    return build_vocab(merges, chars)


def build_vocab(merges, chars):
    pieces = [("<unk>", 0.0, TYPE_UNKNOWN), ("<s>", 0.0, TYPE_CONTROL), ("</s>", 0.0, TYPE_CONTROL)]
    pieces += [(f"<0x{b:02X}>", 0.0, TYPE_BYTE) for b in range(256)]
    pieces += [(m, -float(r), TYPE_NORMAL) for r, m in enumerate(merges)]
    pieces += [(c, -float(len(merges) + i), TYPE_NORMAL) for i, c in enumerate(chars)]
    return {"tokens": [p[0] for p in pieces], "scores": [p[1] for p in pieces],
            "token_types": [p[2] for p in pieces], "bos_id": 1, "eos_id": 2, "unk_id": 0}


class Tokenizer:
    """Encoder/decoder over a vocabulary dict as written by `train` (or read back from GGUF)."""

    def __init__(self, vocab):
        self.tokens = vocab["tokens"]
        self.scores = vocab["scores"]
        self.types = vocab["token_types"]
        self.ids = {}
        for i, (t, ty) in enumerate(zip(self.tokens, self.types)):
            if ty == TYPE_NORMAL:
                self.ids.setdefault(t, i)
        self.byte_ids = {int(t[3:5], 16): i for i, (t, ty) in
                         enumerate(zip(self.tokens, self.types)) if ty == TYPE_BYTE}
        # Per-word encoding is exact only if no piece can span a word boundary.
        self.word_split_ok = all(SPACE not in t[1:] for t in self.ids)
        self.cache = {}

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as f:
            return Tokenizer(json.load(f))

    def encode_normalized(self, norm):
        """The SentencePiece-BPE merge loop over one normalized string (the reference)."""
        syms = list(norm)
        while len(syms) > 1:
            best_score, best_i = None, -1
            for i in range(len(syms) - 1):
                tid = self.ids.get(syms[i] + syms[i + 1])
                if tid is not None and (best_score is None or self.scores[tid] > best_score):
                    best_score, best_i = self.scores[tid], i
            if best_i < 0:
                break
            syms[best_i:best_i + 2] = [syms[best_i] + syms[best_i + 1]]
        out = []
        for s in syms:
            tid = self.ids.get(s)
            if tid is not None:
                out.append(tid)
            else:
                out.extend(self.byte_ids[b] for b in s.encode("utf-8"))
        return out

    def encode(self, text):
        norm = normalize(text)
        if not self.word_split_ok:
            return self.encode_normalized(norm)
        out = []
        for w in split_words(norm):
            ids = self.cache.get(w)
            if ids is None:
                ids = self.encode_normalized(w)
                self.cache[w] = ids
            out.extend(ids)
        return out

    def decode(self, ids):
        buf = bytearray()
        for i in ids:
            ty = self.types[i]
            if ty == TYPE_BYTE:
                buf.append(int(self.tokens[i][3:5], 16))
            elif ty == TYPE_NORMAL:
                buf.extend(self.tokens[i].replace(SPACE, " ").encode("utf-8"))
        text = buf.decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.corpus, encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    vocab = train(lines, args.vocab_size)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    tok = Tokenizer(vocab)
    sample = lines[:200]
    n_tok = sum(len(tok.encode(s)) for s in sample)
    for s in sample[:20]:  # the per-word fast path must equal the whole-text reference loop
        assert tok.encode(s) == tok.encode_normalized(normalize(s)), s
        assert tok.decode(tok.encode(s)) == s, s
    print(f"vocab {len(vocab['tokens'])} pieces; {sum(map(len, sample)) / n_tok:.2f} chars/token")


if __name__ == "__main__":
    main()
