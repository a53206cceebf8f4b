// Prints, as JSON, the GGUF chat templates of @huggingface/ollama-utils' OLLAMA_CHAT_TEMPLATE_MAPPING
// (the package does not export the table, so its module source is compiled with one added export).
// Usage: node dump_ollama_templates.js <repo root>   ->  [{"model", "template", "stop", "tokens"}]
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");

const root = process.argv[2] || process.cwd();
const file = path.join(root, "node_modules/@huggingface/ollama-utils/dist/index.js");
const src = fs.readFileSync(file, "utf8") +
  "\nmodule.exports.__mapping = OLLAMA_CHAT_TEMPLATE_MAPPING;\n";
const m = new Module(file);
m.filename = file;
m.paths = Module._nodeModulePaths(path.dirname(file));
m._compile(src, file);
const out = m.exports.__mapping.map((e) => ({
  model: e.model,
  template: e.gguf,
  stop: (e.ollama && e.ollama.params && e.ollama.params.stop) || [],
  tokens: (e.ollama && e.ollama.tokens) || [],
}));
process.stdout.write(JSON.stringify(out));
