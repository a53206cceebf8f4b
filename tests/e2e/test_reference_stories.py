"""Validates the PyTorch reference on its own: greedy decoding of the real stories260K model must
reproduce the known text from ../shared/fixtures/README.md exactly."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

EXPECTED = ("Zoo was a little girl named Lily. She loved to play outside in the park. One day, she "
            "saw a big, red ball. She wanted to play with it, but she didn't want to play with")


def main():
    fixtures = os.environ.get("LM_FIXTURES_DIR") or os.path.join(HERE, "..", "..", "..", "shared", "fixtures")
    path = os.path.join(fixtures, "models", "stories260K.gguf")
    if not os.path.exists(path):
        print(f"SKIP: fixture {path} is absent (needs ../shared/fixtures)")
        return 77
    try:
        import torch  # noqa: F401
    except ImportError:
        print("SKIP: torch is not installed for this interpreter (use /usr/bin/python3)")
        return 77
    from torch_model import Model, decode_pieces, greedy
    model = Model(path)
    prompt = [1, 410, 469, 347]
    # The README's "60 tokens" are llama2.c steps: 60 positions after BOS, prompt included
    # (3 prompt tokens + 57 generated); one more token would append " it".
    ids = greedy(model, prompt, 57)
    vocab = model.file.get("tokenizer.ggml.tokens")
    text = decode_pieces(vocab, ids[1:]).lstrip(" ")
    print(f"tokens: {ids}")
    print(f"text:   {text!r}")
    if text != EXPECTED:
        print(f"FAIL: expected {EXPECTED!r}")
        return 1
    print("OK: the reference reproduces the known stories260K greedy output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
