// `localmax logits -m MODEL --tokens "1 2 3" [--out FILE] [--threads N]`: runs the tokens as one
// sequence and writes the logits of every position as little-endian float32,
// [n_tokens, n_vocab], to FILE (or prints a short summary). Used by the PyTorch reference tests.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "store/store.h"

namespace lm::cli {
namespace {

struct LogitsArgs {
  std::string model, out;
  std::vector<int32_t> tokens;
  int threads = 0;
};

Result<std::vector<int32_t>> parse_tokens(const std::string& s) {
  std::vector<int32_t> v;
  std::istringstream in(s);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long x = 0;
    try {
      x = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || x < INT32_MIN || x > INT32_MAX) {
      return errorf("--tokens: '{}' is not a token id", word);
    }
    v.push_back(static_cast<int32_t>(x));
  }
  if (v.empty()) return errorf("--tokens: no token ids given");
  return v;
}

Result<LogitsArgs> parse_args(const Args& args) {
  LogitsArgs a;
  bool have_tokens = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& k = args[i];
    if (k != "-m" && k != "--model" && k != "--tokens" && k != "--out" && k != "--threads") {
      return errorf("unexpected argument '{}'", k);
    }
    if (i + 1 >= args.size()) return errorf("{} needs a value", k);
    const std::string& v = args[++i];
    if (k == "-m" || k == "--model")
      a.model = v;
    else if (k == "--out")
      a.out = v;
    else if (k == "--threads") {
      try {
        a.threads = std::stoi(v);
      } catch (const std::exception&) {
        return errorf("--threads: '{}' is not a number", v);
      }
      if (a.threads < 1) return errorf("--threads: expected at least 1, found {}", v);
    } else {
      LM_TRY(a.tokens, parse_tokens(v));
      have_tokens = true;
    }
  }
  if (a.model.empty()) return errorf("missing -m MODEL");
  if (!have_tokens) return errorf("missing --tokens \"ID ID ...\"");
  return a;
}

// Runs the tokens in chunks of up to kChunk per forward call; returns [n_tokens, n_vocab].
Result<std::vector<float>> compute_logits(const model::Model& m, const std::vector<int32_t>& tokens,
                                          int threads) {
  constexpr size_t kChunk = 512;
  ThreadPool pool(threads);
  model::Forward fwd(m, pool);
  model::KvCache cache(m.config(), static_cast<int32_t>(tokens.size()), 1);
  std::vector<float> all, part;
  all.reserve(tokens.size() * static_cast<size_t>(m.config().n_vocab));
  std::vector<model::BatchToken> batch;
  for (size_t b = 0; b < tokens.size(); b += kChunk) {
    batch.clear();
    for (size_t i = b; i < std::min(tokens.size(), b + kChunk); ++i) {
      batch.push_back({tokens[i], static_cast<int32_t>(i), 0, true});
    }
    LM_TRY_STATUS(fwd.run(cache, batch, &part));
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

Status write_floats(const std::string& path, const std::vector<float>& v) {
  static_assert(std::endian::native == std::endian::little, "logits are written as little-endian");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return errorf("cannot open {} for writing", path);
  if (std::fwrite(v.data(), sizeof(float), v.size(), f.get()) != v.size()) {
    return errorf("writing {} failed", path);
  }
  if (std::fclose(f.release()) != 0) return errorf("writing {} failed", path);
  return Ok{};
}

void print_summary(const std::vector<float>& logits, size_t n_tokens, int32_t n_vocab) {
  fmt::print("{} positions x {} logits\n", n_tokens, n_vocab);
  for (size_t t = 0; t < n_tokens; ++t) {
    const float* row = logits.data() + t * n_vocab;
    const float* best = std::max_element(row, row + n_vocab);
    fmt::print("  pos {:>4}: argmax {:>6} ({:.4f})\n", t, best - row, *best);
  }
}

}  // namespace

int cmd_logits(const Args& args) {
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      fmt::print(
          "usage: localmax logits -m MODEL --tokens \"1 2 3\" [--out FILE] [--threads N]\n"
          "  runs the tokens as one sequence; --out writes float32 logits for every\n"
          "  position, [n_tokens, n_vocab], little-endian; without it prints a summary\n");
      return 0;
    }
  }
  auto parsed = parse_args(args);
  if (!parsed.ok()) {
    fmt::print(stderr, "localmax logits: {}\n", parsed.error().message());
    return 2;
  }
  const LogitsArgs& a = *parsed;
  auto path = store::resolve_model(a.model);
  auto m = path.ok() ? model::Model::load(*path) : decltype(model::Model::load(""))(path.error());
  if (!m.ok()) {
    fmt::print(stderr, "error: {}\n", m.error().message());
    return 1;
  }
  const int threads = a.threads > 0 ? a.threads : std::min(8, ThreadPool::hardware_threads());
  auto logits = compute_logits(**m, a.tokens, threads);
  if (!logits.ok()) {
    fmt::print(stderr, "error: {}\n", logits.error().message());
    return 1;
  }
  if (a.out.empty()) {
    print_summary(*logits, a.tokens.size(), (*m)->config().n_vocab);
    return 0;
  }
  auto st = write_floats(a.out, *logits);
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.error().message());
    return 1;
  }
  return 0;
}

}  // namespace lm::cli
