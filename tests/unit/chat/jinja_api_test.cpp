// ChatTemplate API: tokenizer_config parsing, error positions, hostile templates and inputs
// (errors, never crashes), concurrent renders.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"

namespace lm::chat {
namespace {

Result<std::string> render(const std::string& tmpl, const nlohmann::json& messages = nlohmann::json::array()) {
  LM_TRY(auto t, ChatTemplate::parse(TemplateSource{tmpl, "<s>", "</s>"}));
  return t.render(messages, nullptr, false);
}

std::string error_of(const std::string& tmpl) {
  auto r = render(tmpl);
  EXPECT_FALSE(r.ok()) << "rendered: " << (r.ok() ? *r : "");
  return r.ok() ? "" : r.error().message();
}

TEST(ChatTemplateConfig, StringTemplateAndTokenObjects) {
  auto cfg = nlohmann::json::parse(R"({"chat_template": "{{ bos_token }}x{{ eos_token }}",
      "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"})");
  auto src = template_from_tokenizer_config(cfg);
  ASSERT_TRUE(src.ok()) << src.error().message();
  EXPECT_EQ(src->bos_token, "<s>");
  EXPECT_EQ(src->eos_token, "</s>");
  auto t = ChatTemplate::parse(*src);
  ASSERT_TRUE(t.ok());
  auto r = t->render(nlohmann::json::array(), nullptr, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<s>x</s>");
  EXPECT_EQ(t->source(), "{{ bos_token }}x{{ eos_token }}");
}

TEST(ChatTemplateConfig, NamedTemplates) {
  auto cfg = nlohmann::json::parse(R"({"chat_template": [{"name": "default", "template": "D"},
      {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(template_from_tokenizer_config(cfg)->text, "D");
  EXPECT_EQ(template_from_tokenizer_config(cfg, "tool_use")->text, "T");
  auto missing = template_from_tokenizer_config(cfg, "rag");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("default, tool_use"), std::string::npos);
  EXPECT_FALSE(template_from_tokenizer_config(nlohmann::json::parse("{}")).ok());
  EXPECT_FALSE(template_from_tokenizer_config(nlohmann::json::parse(R"({"chat_template": 3})")).ok());
}

TEST(ChatTemplateRender, InputsAndExtraVariables) {
  auto t = ChatTemplate::parse(TemplateSource{
      "{% for m in messages %}{{ m.role }}={{ m.content }};{% endfor %}{{ tools is none }}"
      "{{ add_generation_prompt }}{{ enable_thinking }}{{ documents }}", "", ""});
  ASSERT_TRUE(t.ok());
  auto msgs = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
  auto r = t->render(msgs, nullptr, true, nlohmann::json{{"enable_thinking", false}});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, "user=hi;TrueTrueFalseNone");
}

TEST(ChatTemplateRender, OrderedKeysSurviveTojson) {
  auto t = ChatTemplate::parse(TemplateSource{"{{ tools[0]|tojson }}", "", ""});
  ASSERT_TRUE(t.ok());
  auto tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  auto r = t->render_ordered(nlohmann::ordered_json::array(), tools, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, R"({"type": "function", "function": {"name": "f"}})");
}

TEST(ChatTemplateErrors, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(error_of("{% foo %}"), "template syntax error at 1:4: unknown tag 'foo'");
  EXPECT_EQ(error_of("abc {{ x "), "template syntax error at 1:5: unexpected end of template: missing '}}'");
  EXPECT_EQ(error_of("a\n\n  {{ 1 + }}"), "template syntax error at 3:10: unexpected end of print statement");
  EXPECT_NE(error_of("x\n{% if a %}b").find("template syntax error at 2:"), std::string::npos);
  EXPECT_EQ(error_of("{{ 'unterminated }}"), "template syntax error at 1:4: unterminated string");
}

TEST(ChatTemplateErrors, RuntimeErrorsCarryLineAndColumn) {
  EXPECT_EQ(error_of("a\n  {{ x.y }}"), "template error at 2:7: 'x' is undefined");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"), "template error at 1:8: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_EQ(error_of("{{ 1|nofilter }}"), "template error at 1:6: No filter named 'nofilter'.");
  EXPECT_EQ(error_of("{% set l = [1] %}{{ l.append(2) }}"),
            "template error at 1:29: access to attribute 'append' of 'list' object is unsafe.");
}

TEST(ChatTemplateErrors, RaiseExceptionSurfacesTheMessage) {
  EXPECT_EQ(error_of("{% if messages|length == 0 %}{{ raise_exception('need messages') }}{% endif %}"),
            "template error at 1:48: need messages");
}

TEST(ChatTemplateHostile, DeepNestingIsAnError) {
  std::string ifs, parens = "{{ ", nots = "{{ ", attrs = "{{ a", filters = "{{ 1", sum = "{{ 1";
  for (int i = 0; i < 5000; ++i) {
    ifs += "{% if true %}";
    parens += "(";
    nots += "not ";
    attrs += ".b";
    filters += "|abs";
    sum += "+1";
  }
  EXPECT_NE(error_of(ifs).find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of(parens + "1" + std::string(5000, ')') + " }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of(parens + "1").find("missing '}}'"), std::string::npos);
  EXPECT_NE(error_of(nots + "1 }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of(attrs + " }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of(filters + " }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of(sum + " }}").find("nested too deeply"), std::string::npos);
}

TEST(ChatTemplateHostile, HugeLoopsAndOutputsAreErrors) {
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .find("loop iterations"), std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000)|length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(error_of("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}")
                .find("output exceeds"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
                .find("exceeds"), std::string::npos);
  EXPECT_NE(error_of("{{ 'a' * 1000000000000 }}").find("too large"), std::string::npos);
  EXPECT_NE(error_of("{{ 2 ** 100 }}").find("overflow"), std::string::npos);
}

TEST(ChatTemplateHostile, RecursionAndDeepValuesAreErrors) {
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion too deep"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}")
                .find("nested too deeply"), std::string::npos);
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 1000; ++i) deep = nlohmann::json::array({deep});
  auto r = render("{{ messages }}", deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("nested deeper"), std::string::npos);
}

TEST(ChatTemplateRender, ConcurrentRendersAgree) {
  auto t = ChatTemplate::parse(TemplateSource{
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{{ m.content|upper }}{% endfor %}{{ ns.n }}", "", ""});
  ASSERT_TRUE(t.ok());
  auto msgs = nlohmann::json::parse(R"([{"content": "a"}, {"content": "b"}])");
  std::vector<std::thread> threads;
  std::vector<int> good(8, 0);
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) {
        auto r = t->render(msgs, nullptr, false);
        good[k] += r.ok() && *r == "AB2";
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 8; ++k) EXPECT_EQ(good[k], 200);
}

}  // namespace
}  // namespace lm::chat
