// `localmax tokenize`: print the token ids of a text (the tests use it too).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace lm::cli {

int cmd_tokenize(const Args& args) {
  CLI::App app{"Print the token ids of a text.", "localmax tokenize"};
  std::string model_path, file, text;
  bool json = false, no_bos = false, no_special = false, pieces = false;
  app.add_option("-m,--model", model_path, "GGUF model or vocabulary file")->required();
  app.add_option("-f,--file", file, "read the text from a file");
  app.add_option("text", text, "the text (when no -f)");
  app.add_flag("--json", json, "print a JSON array of ids");
  app.add_flag("--no-bos", no_bos, "do not add BOS even if the model does");
  app.add_flag("--no-special", no_special, "treat control-token text as plain text");
  app.add_flag("--pieces", pieces, "print id and piece per line");
  if (auto rc = parse_args(app, args)) return *rc;
  if (!file.empty()) {
    auto t = read_file(file);
    if (!t.ok()) return fail(t.error());
    text = std::move(*t);
  }
  auto f = gguf::File::open(model_path);
  if (!f.ok()) return fail(f.error());
  auto tok = tokenizer::Tokenizer::from_gguf(**f);
  if (!tok.ok()) return fail(tok.error());
  std::vector<int32_t> ids = (*tok)->encode(text, (*tok)->add_bos() && !no_bos, !no_special);
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
