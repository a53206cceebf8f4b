// `localmax tokenize`: print the token ids of a text (the tests use it too).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace lm::cli {
namespace {

Result<std::unique_ptr<tokenizer::Tokenizer>> load(const std::string& model_path,
                                                   const std::string& hf_path,
                                                   const std::string& hf_config) {
  if (!hf_path.empty()) return tokenizer::Tokenizer::from_hf_json(hf_path, hf_config);
  LM_TRY(auto f, gguf::File::open(model_path));
  return tokenizer::Tokenizer::from_gguf(*f);
}

// --batch: a JSON array in, one JSON array of id arrays out (one process for a corpus). Each
// element is a string, or an array of byte values (0..255) for text that is not valid UTF-8.
int run_batch(const tokenizer::Tokenizer& tok, const std::string& path, bool add_bos, bool special) {
  auto t = read_file(path);
  if (!t.ok()) return fail(t.error());
  nlohmann::json in = nlohmann::json::parse(*t, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_array()) {
    return fail(errorf("{}: expected a JSON array of strings", path));
  }
  nlohmann::json out = nlohmann::json::array();
  std::string text;
  for (const auto& s : in) {
    if (s.is_string()) {
      text = s.get<std::string>();
    } else if (s.is_array()) {
      text.clear();
      for (const auto& b : s) {
        if (!b.is_number_unsigned() || b.get<uint64_t>() > 255) {
          return fail(errorf("{}: byte array holds {}, not a byte", path, b.dump()));
        }
        text.push_back(static_cast<char>(b.get<uint64_t>()));
      }
    } else {
      return fail(errorf("{}: element {} is neither a string nor a byte array", path, s.dump()));
    }
    out.push_back(tok.encode(text, add_bos, special));
  }
  fmt::print("{}\n", out.dump());
  return 0;
}

}  // namespace

int cmd_tokenize(const Args& args) {
  CLI::App app{"Print the token ids of a text.", "localmax tokenize"};
  std::string model_path, hf_path, hf_config, file, batch, text;
  bool json = false, no_bos = false, no_special = false, pieces = false;
  auto* m = app.add_option("-m,--model", model_path, "GGUF model or vocabulary file");
  auto* t = app.add_option("--tokenizer", hf_path, "Hugging Face tokenizer.json (instead of -m)");
  app.add_option("--tokenizer-config", hf_config, "tokenizer_config.json (bos/eos, add_bos_token)");
  m->excludes(t);
  app.add_option("-f,--file", file, "read the text from a file");
  app.add_option("--batch", batch, "JSON array of strings (or byte arrays) in, JSON array of id arrays out");
  app.add_option("text", text, "the text (when no -f)");
  app.add_flag("--json", json, "print a JSON array of ids");
  app.add_flag("--no-bos", no_bos, "do not add BOS even if the model does");
  app.add_flag("--no-special", no_special, "treat control-token text as plain text");
  app.add_flag("--pieces", pieces, "print id and piece per line");
  if (auto rc = parse_args(app, args)) return *rc;
  if (model_path.empty() && hf_path.empty()) return fail(Error("one of -m or --tokenizer is required"));
  if (!file.empty()) {
    auto r = read_file(file);
    if (!r.ok()) return fail(r.error());
    text = std::move(*r);
  }
  if (auto st = resolve_model_arg(model_path); !st.ok()) return fail(st.error());
  auto tok = load(model_path, hf_path, hf_config);
  if (!tok.ok()) return fail(tok.error());
  const bool add_bos = (*tok)->add_bos() && !no_bos;
  if (!batch.empty()) return run_batch(**tok, batch, add_bos, !no_special);
  std::vector<int32_t> ids = (*tok)->encode(text, add_bos, !no_special);
  if (json) {
    fmt::print("{}\n", nlohmann::json(ids).dump());
  } else if (pieces) {
    for (int32_t id : ids) fmt::print("{:>7} {}\n", id, (*tok)->token_text(id));
  } else {
    fmt::print("{}\n", fmt::join(ids, " "));
  }
  return 0;
}

}  // namespace lm::cli
