// Regex pre-tokenization for byte-level BPE vocabularies (`tokenizer.ggml.pre`, or the Split
// pattern of a Hugging Face tokenizer.json).
//
// A Pretokenizer is a sequence of regexes applied in turn, as llama.cpp and HF's "Isolated" Split
// do: each regex cuts every current piece into its matches and the text between them (both kept).
// Regexes are PCRE2 with UTF + UCP (\p{L}, \s ... follow Unicode), JIT-compiled when available.
//
// Immutable after construction; split() is const and thread-safe (match data is per call).
// Cost: linear in the text per regex (the patterns have no catastrophic backtracking).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lm::tokenizer {

class Pretokenizer {
 public:
  // The regexes of a llama.cpp pre-tokenizer name ("gpt2", "llama-bpe", "qwen2", "deepseek-llm",
  // "deepseek-v3", "smollm", ...); "default" and "" mean gpt2. Error: unknown name.
  static Result<std::vector<std::string>> patterns_for(std::string_view pre);
  // Compiles the patterns; the error names the pattern and PCRE2's message with its offset.
  static Result<std::shared_ptr<const Pretokenizer>> compile(std::vector<std::string> patterns);

  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  // Appends the pieces of `text` (valid UTF-8) to `out`, in order; they concatenate to `text`.
  void split(std::string_view text, std::vector<std::string_view>& out) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  Pretokenizer() = default;
  void split_one(size_t ir, std::string_view text, std::vector<std::string_view>& out) const;

  std::vector<std::string> patterns_;
  std::vector<void*> codes_;   // pcre2_code_8*, one per pattern (kept opaque: no pcre2.h here)
};

}  // namespace lm::tokenizer
