#include "chat/chat_template.h"

#include <fmt/format.h>

#include "chat/jinja_ast.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_lexer.h"

namespace lm::chat {
namespace {

std::string token_text(const nlohmann::json& t) {
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content") && t["content"].is_string()) return t["content"].get<std::string>();
  return "";
}

// jinja2 rejects unknown filters and tests when compiling, whatever the inputs: do the same.
Status check_names(const jinja::Expr* e, const std::string& src) {
  if (!e) return Ok{};
  if (e->kind == jinja::EKind::Filter && !jinja::is_known_filter(e->name)) {
    return errorf("template error at {}: No filter named '{}'.", jinja::source_pos(src, e->off), e->name);
  }
  if (e->kind == jinja::EKind::Test && !jinja::is_known_test(e->name)) {
    return errorf("template error at {}: No test named '{}'.", jinja::source_pos(src, e->off), e->name);
  }
  for (const auto& k : e->kids) LM_TRY_STATUS(check_names(k.get(), src));
  return Ok{};
}

Status check_names(const jinja::Body& body, const std::string& src) {
  for (const auto& s : body) {
    LM_TRY_STATUS(check_names(s->expr.get(), src));
    LM_TRY_STATUS(check_names(s->expr2.get(), src));
    for (const auto& c : s->conds) LM_TRY_STATUS(check_names(c.get(), src));
    for (const auto& b : s->bodies) LM_TRY_STATUS(check_names(b, src));
  }
  return Ok{};
}

// JSON nested deeper than `limit` (checked before conversion, which recurses).
template <typename Json>
bool too_deep(const Json& j, int limit) {
  if (limit <= 0) return true;
  if (j.is_array() || j.is_object()) {
    for (const auto& e : j) {
      if (too_deep(e, limit - 1)) return true;
    }
  }
  return false;
}

}  // namespace

Result<TemplateSource> template_from_tokenizer_config(const nlohmann::json& config, std::string_view name) {
  if (!config.is_object()) return Error("tokenizer config: expected a JSON object");
  TemplateSource src;
  if (config.contains("bos_token")) src.bos_token = token_text(config["bos_token"]);
  if (config.contains("eos_token")) src.eos_token = token_text(config["eos_token"]);
  if (!config.contains("chat_template")) return Error("tokenizer config has no chat_template");
  const auto& ct = config["chat_template"];
  if (ct.is_string()) {
    if (!name.empty() && name != "default") {
      return errorf("tokenizer config has a single chat template, not one named '{}'", name);
    }
    src.text = ct.get<std::string>();
    return src;
  }
  if (!ct.is_array()) return Error("chat_template: expected a string or a list of {name, template}");
  std::string want = name.empty() ? "default" : std::string(name);
  std::string names;
  for (const auto& e : ct) {
    if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
        !e["template"].is_string()) {
      return Error("chat_template: list entries must be {\"name\": str, \"template\": str}");
    }
    std::string n = e["name"].get<std::string>();
    if (n == want) {
      src.text = e["template"].get<std::string>();
      return src;
    }
    names += (names.empty() ? "" : ", ") + n;
  }
  return errorf("chat_template: no template named '{}' (have: {})", want, names);
}

Result<ChatTemplate> ChatTemplate::parse(const TemplateSource& src) {
  LM_TRY(auto t, jinja::parse_template(src.text));
  LM_TRY_STATUS(check_names(t->body, t->source));
  ChatTemplate ct;
  ct.src_ = src;
  ct.tmpl_ = std::move(t);
  return ct;
}

Result<std::string> ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools,
                                         bool add_generation_prompt, const nlohmann::json& extra) const {
  return render_impl(messages, tools, add_generation_prompt, extra);
}

Result<std::string> ChatTemplate::render_ordered(const nlohmann::ordered_json& messages,
                                                 const nlohmann::ordered_json& tools,
                                                 bool add_generation_prompt,
                                                 const nlohmann::ordered_json& extra) const {
  return render_impl(messages, tools, add_generation_prompt, extra);
}

template <typename Json>
Result<std::string> ChatTemplate::render_impl(const Json& messages, const Json& tools,
                                              bool add_generation_prompt, const Json& extra) const {
  if (!extra.is_null() && !extra.is_object()) return Error("template variables: expected a JSON object");
  constexpr int kMaxInputDepth = 64;
  if (too_deep(messages, kMaxInputDepth) || too_deep(tools, kMaxInputDepth) || too_deep(extra, kMaxInputDepth)) {
    return errorf("template inputs: JSON nested deeper than {} levels", kMaxInputDepth);
  }
  using jinja::Value;
  Value vars = Value::dict();
  auto& d = vars.dict_data();
  d.set(Value("messages"), Value::from_json(messages));
  d.set(Value("tools"), Value::from_json(tools));
  d.set(Value("documents"), Value::none());
  d.set(Value("add_generation_prompt"), Value(add_generation_prompt));
  d.set(Value("bos_token"), Value(src_.bos_token));
  d.set(Value("eos_token"), Value(src_.eos_token));
  if (extra.is_object()) {
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      d.set(Value(it.key()), Value::from_json(it.value()));
    }
  }
  jinja::Interp interp(*tmpl_, vars);
  return interp.render();
}

}  // namespace lm::chat
