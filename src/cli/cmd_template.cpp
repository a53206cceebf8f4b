// `localmax template`: render a model's chat template for a conversation and print the prompt
// exactly (no newline added). The template comes from a GGUF file (tokenizer.chat_template, with
// the bos/eos token texts from tokenizer.ggml.*) or from a tokenizer_config.json.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "gguf/gguf.h"

namespace lm::cli {
namespace {

// The token text of the id stored under `id_key`, or "" when the file has none.
std::string token_text(const gguf::File& f, std::string_view id_key) {
  auto id = f.get_uint(id_key);
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (!id.ok() || !tokens || tokens->type() != gguf::ValueType::ARRAY ||
      tokens->array_type() != gguf::ValueType::STRING || *id >= tokens->size()) {
    return "";
  }
  return std::string(tokens->string_at(*id));
}

Result<chat::TemplateSource> template_from_gguf(const std::string& path, const std::string& name) {
  LM_TRY(auto f, gguf::File::open(path));
  std::string key = name.empty() ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
  auto text = f->get_string(key);
  if (!text.ok()) return std::move(text).error().wrap(path);
  chat::TemplateSource src;
  src.text = std::string(*text);
  src.bos_token = token_text(*f, "tokenizer.ggml.bos_token_id");
  src.eos_token = token_text(*f, "tokenizer.ggml.eos_token_id");
  return src;
}

Result<nlohmann::ordered_json> read_json(const std::string& path) {
  LM_TRY(std::string text, read_file(path));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return errorf("{}: invalid JSON", path);
  return j;
}

struct Conversation {
  nlohmann::ordered_json messages, tools, extra = nlohmann::ordered_json::object();
  bool add_generation_prompt = false;
};

// An array of messages, or {"messages": [...], "tools": [...], "add_generation_prompt": b, ...}.
Result<Conversation> to_conversation(const nlohmann::ordered_json& j) {
  Conversation c;
  if (j.is_array()) {
    c.messages = j;
    return c;
  }
  if (!j.is_object() || !j.contains("messages")) {
    return Error("expected an array of messages or an object with \"messages\"");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "messages") c.messages = it.value();
    else if (it.key() == "tools") c.tools = it.value();
    else if (it.key() == "add_generation_prompt") c.add_generation_prompt = it.value().is_boolean() && it.value().get<bool>();
    else c.extra[it.key()] = it.value();
  }
  return c;
}

// --batch: one conversation object per line in, one {"ok": prompt} or {"error": msg} per line out.
int run_batch(const chat::ChatTemplate& tmpl, const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(errorf("{}: cannot open", path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::ordered_json out;
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, false);
    auto conv = j.is_discarded() ? Result<Conversation>(Error("invalid JSON line")) : to_conversation(j);
    if (!conv.ok()) {
      out["error"] = conv.error().message();
    } else {
      auto r = tmpl.render_ordered(conv->messages, conv->tools, conv->add_generation_prompt, conv->extra);
      if (r.ok()) out["ok"] = *r;
      else out["error"] = r.error().message();
    }
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  }
  return 0;
}

}  // namespace

int cmd_template(const Args& args) {
  CLI::App app{"Render a chat template for a conversation; print the prompt exactly.", "localmax template"};
  std::string model_path, config_path, messages_path, tools_path, name, batch;
  std::vector<std::string> vars;
  bool add_gen = false;
  auto* m = app.add_option("-m,--model", model_path, "GGUF model (tokenizer.chat_template)");
  auto* c = app.add_option("--tokenizer-config", config_path, "tokenizer_config.json (instead of -m)");
  m->excludes(c);
  app.add_option("--messages", messages_path, "JSON: an array of messages, or {messages, tools, ...vars}");
  app.add_option("--tools", tools_path, "JSON array of tool definitions");
  app.add_flag("--add-generation-prompt", add_gen, "end with the assistant turn's opening");
  app.add_option("--template-name", name, "a named template (e.g. tool_use)");
  app.add_option("--var", vars, "extra template variable k=v (v is JSON, else a string)");
  app.add_option("--batch", batch, "JSON lines of conversations in, JSON lines of results out")
      ->group("");
  if (auto rc = parse_args(app, args)) return *rc;
  if (model_path.empty() && config_path.empty()) return fail(Error("one of -m or --tokenizer-config is required"));
  if (messages_path.empty() && batch.empty()) return fail(Error("--messages is required"));

  Result<chat::TemplateSource> src = Error("");
  if (!model_path.empty()) {
    src = template_from_gguf(model_path, name);
  } else {
    auto cfg = read_json(config_path);
    src = cfg.ok() ? chat::template_from_tokenizer_config(*cfg, name) : Result<chat::TemplateSource>(cfg.error());
  }
  if (!src.ok()) return fail(src.error());
  auto tmpl = chat::ChatTemplate::parse(*src);
  if (!tmpl.ok()) return fail(tmpl.error());
  if (!batch.empty()) return run_batch(*tmpl, batch);

  auto mj = read_json(messages_path);
  if (!mj.ok()) return fail(mj.error());
  auto conv = to_conversation(*mj);
  if (!conv.ok()) return fail(conv.error().wrap(messages_path));
  if (!tools_path.empty()) {
    auto tj = read_json(tools_path);
    if (!tj.ok()) return fail(tj.error());
    conv->tools = *tj;
  }
  conv->add_generation_prompt |= add_gen;
  for (const auto& kv : vars) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return fail(errorf("--var {}: expected k=v", kv));
    nlohmann::ordered_json v = nlohmann::ordered_json::parse(kv.substr(eq + 1), nullptr, false);
    conv->extra[kv.substr(0, eq)] = v.is_discarded() ? nlohmann::ordered_json(kv.substr(eq + 1)) : v;
  }
  auto r = tmpl->render_ordered(conv->messages, conv->tools, conv->add_generation_prompt, conv->extra);
  if (!r.ok()) return fail(r.error());
  std::fwrite(r->data(), 1, r->size(), stdout);
  return 0;
}

}  // namespace lm::cli
