// Chat templates: the Jinja `chat_template` a model ships, rendered the way Hugging Face
// transformers renders it (jinja2 ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
// loopcontrols; globals raise_exception and strftime_now; transformers' tojson filter).
//
// Usage:
//   LM_TRY(auto src, template_from_tokenizer_config(config));
//   LM_TRY(auto tmpl, ChatTemplate::parse(src));
//   LM_TRY(std::string prompt, tmpl.render(messages, tools, /*add_generation_prompt=*/true));
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace lm::chat {

namespace jinja {
struct Template;
}

// The template text and the special-token texts it may reference as bos_token / eos_token.
struct TemplateSource {
  std::string text;
  std::string bos_token, eos_token;
};

// From a Hugging Face tokenizer_config.json: `chat_template` is a string, or a list of
// {"name", "template"} (picks `name`, else "default"); bos_token/eos_token are strings or
// {"content": ...} objects. (For GGUF, the caller reads tokenizer.chat_template and the bos/eos
// token texts itself: lm_chat does not depend on lm_gguf.)
Result<TemplateSource> template_from_tokenizer_config(const nlohmann::json& config,
                                                      std::string_view name = "");

// A parsed template. Parsed once (cost: one pass over the text), rendered many times.
// Immutable after parse: render() is thread-safe. Copies share the parsed tree.
class ChatTemplate {
 public:
  static Result<ChatTemplate> parse(const TemplateSource& src);

  // messages: OpenAI-style array of {role, content, ...}; tools: array, or null for none;
  // extra: an object of additional top-level variables (e.g. {"enable_thinking": false}),
  // which override the defaults (bos_token, eos_token, documents, ...).
  // Errors (template syntax/runtime errors, raise_exception) carry line:column.
  // Note: nlohmann::json sorts object keys, so `tojson` prints tool schemas in sorted key
  // order; use render_ordered (same contract) to keep the client's key order, as transformers does.
  Result<std::string> render(const nlohmann::json& messages, const nlohmann::json& tools,
                             bool add_generation_prompt, const nlohmann::json& extra = {}) const;
  Result<std::string> render_ordered(const nlohmann::ordered_json& messages,
                                     const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                     const nlohmann::ordered_json& extra = {}) const;

  const std::string& source() const { return src_.text; }
  const TemplateSource& template_source() const { return src_; }

 private:
  template <typename Json>
  Result<std::string> render_impl(const Json& messages, const Json& tools, bool add_generation_prompt,
                                  const Json& extra) const;

  TemplateSource src_;
  std::shared_ptr<const jinja::Template> tmpl_;
};

}  // namespace lm::chat
