// Provider configuration: validation with JSON-path errors, API keys from the environment, the
// endpoint per kind; and the egress URL helpers.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/egress.h"
#include "router/provider.h"

namespace lm::router {
namespace {

using nlohmann::json;

json openai_entry() {
  return json{{"name", "openai"}, {"type", "openai"}, {"base_url", "https://api.openai.com/v1/"},
              {"api_key_env", "OPENAI_API_KEY"}, {"models", {"gpt-5", "gpt-5-mini"}},
              {"connect_timeout_ms", 1000}, {"timeout_ms", 60000}, {"max_retries", 3},
              {"headers", {{"OpenAI-Organization", "org-1"}}}};
}

std::string parse_error(const json& arr) {
  auto r = parse_providers(arr);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message();
}

TEST(ProviderConfig, ParsesBothKindsWithDefaults) {
  json arr = json::array({openai_entry(), {{"name", "claude"}, {"type", "anthropic"},
                                           {"base_url", "https://api.anthropic.com"}, {"api_key_env", "ANTHROPIC_API_KEY"},
                                           {"models", {"claude-sonnet-4-5"}}}});
  auto r = parse_providers(arr);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  const ProviderConfig& o = (*r)[0];
  EXPECT_EQ(o.name, "openai");
  EXPECT_EQ(o.kind, ProviderKind::openai);
  EXPECT_EQ(o.base_url, "https://api.openai.com/v1");   // trailing '/' dropped
  EXPECT_EQ(o.models, (std::vector<std::string>{"gpt-5", "gpt-5-mini"}));
  EXPECT_EQ(o.connect_timeout_ms, 1000);
  EXPECT_EQ(o.timeout_ms, 60000);
  EXPECT_EQ(o.max_retries, 3);
  EXPECT_EQ(o.headers.at("OpenAI-Organization"), "org-1");
  const ProviderConfig& c = (*r)[1];
  EXPECT_EQ(c.kind, ProviderKind::anthropic);
  EXPECT_EQ(c.connect_timeout_ms, 5000);
  EXPECT_EQ(c.timeout_ms, 120000);
  EXPECT_EQ(c.max_retries, 2);
  EXPECT_EQ(c.backoff_ms, 250);
  EXPECT_EQ(find_provider(*r, "claude"), &(*r)[1]);
  EXPECT_EQ(find_provider(*r, "gemini"), nullptr);
  EXPECT_EQ(chat_endpoint(o), "https://api.openai.com/v1/chat/completions");
  EXPECT_EQ(chat_endpoint(c), "https://api.anthropic.com/v1/messages");
  ProviderConfig c_v1 = c;
  c_v1.base_url += "/v1";
  EXPECT_EQ(chat_endpoint(c_v1), "https://api.anthropic.com/v1/messages");
}

TEST(ProviderConfig, ErrorsNameTheJsonPath) {
  EXPECT_EQ(parse_error(json::object()), "providers: must be an array");
  json a = json::array({openai_entry(), openai_entry()});
  EXPECT_EQ(parse_error(a), "providers[1].name: 'openai' is already used by another provider");
  a = json::array({openai_entry()});
  a[0]["type"] = "gemini";
  EXPECT_EQ(parse_error(a), "providers[0].type: 'gemini' is not one of openai, anthropic");
  a[0] = openai_entry();
  a[0]["base_url"] = "ftp://example.com";
  EXPECT_EQ(parse_error(a), "providers[0].base_url: must start with http:// or https://");
  a[0]["base_url"] = "https://example.com/v1?key=secret";
  EXPECT_EQ(parse_error(a), "providers[0].base_url: must not have a query string or fragment");
  a[0]["base_url"] = "https://user:pw@example.com/v1";
  EXPECT_EQ(parse_error(a), "providers[0].base_url: must not embed credentials (use api_key_env)");
  a[0]["base_url"] = "https:///v1";
  EXPECT_EQ(parse_error(a), "providers[0].base_url: has no host");
  a[0] = openai_entry();
  a[0]["timeout_ms"] = 0;
  EXPECT_EQ(parse_error(a), "providers[0].timeout_ms: 0 is out of range [1, 3600000]");
  a[0]["timeout_ms"] = "5s";
  EXPECT_EQ(parse_error(a), "providers[0].timeout_ms: must be an integer");
  a[0] = openai_entry();
  a[0]["max_retries"] = 11;
  EXPECT_EQ(parse_error(a), "providers[0].max_retries: 11 is out of range [0, 10]");
  a[0] = openai_entry();
  a[0]["timeout"] = 5;
  EXPECT_EQ(parse_error(a), "providers[0].timeout: unknown field");
  a[0] = openai_entry();
  a[0]["api_key_env"] = "sk-live-123";
  EXPECT_EQ(parse_error(a), "providers[0].api_key_env: 'sk-live-123' is not an environment variable name");
  a[0] = openai_entry();
  a[0]["models"] = {"gpt-5", 3};
  EXPECT_EQ(parse_error(a), "providers[0].models[1]: must be a non-empty string");
  a[0] = openai_entry();
  a[0]["headers"] = {{"X-Bad", "a\r\nInjected: 1"}};
  EXPECT_EQ(parse_error(a), "providers[0].headers.X-Bad: contains a line break");
  a[0] = openai_entry();
  a[0].erase("name");
  EXPECT_EQ(parse_error(a), "providers[0].name: missing");
  EXPECT_EQ(parse_error(json::array({"openai"})), "providers[0]: must be an object");
}

TEST(ProviderConfig, KeyIsReadAtCallTimeAndNeverQuoted) {
  ProviderConfig p;
  p.name = "openai";
  EXPECT_EQ(*provider_api_key(p), "");   // no api_key_env: no key sent
  p.api_key_env = "LM_TEST_PROVIDER_KEY_UNSET";
  ::unsetenv(p.api_key_env.c_str());
  auto missing = provider_api_key(p);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "provider 'openai': environment variable LM_TEST_PROVIDER_KEY_UNSET is not set");
  // A missing variable is not an error at parse time.
  json a = json::array({openai_entry()});
  a[0]["api_key_env"] = p.api_key_env;
  EXPECT_TRUE(parse_providers(a).ok());
  ::setenv(p.api_key_env.c_str(), "sk-secret-value", 1);
  EXPECT_EQ(*provider_api_key(p), "sk-secret-value");
  ::unsetenv(p.api_key_env.c_str());
}

TEST(Egress, HostAndMessageUrls) {
  EXPECT_EQ(egress::url_host("https://user:pw@api.example.com:443/v1?x=1"), "api.example.com");
  EXPECT_EQ(egress::url_host("http://[::1]:8080/"), "::1");
  EXPECT_EQ(egress::url_host("http://127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(egress::url_host("not a url"), "");
  EXPECT_EQ(egress::url_for_message("https://user:pw@h.example/v1/x?key=sk-1#frag"), "https://h.example/v1/x");
  EXPECT_EQ(egress::url_for_message("https://h.example/v1?api_key=sk-1"), "https://h.example/v1");
}

TEST(Egress, OfflineRefusesWithTheHost) {
  EXPECT_TRUE(egress::check("https://api.openai.com/v1").ok());
  egress::set_offline(true);
  EXPECT_TRUE(egress::offline());
  Status s = egress::check("https://api.openai.com/v1/chat/completions?x=1");
  egress::set_offline(false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "offline mode: outbound connection to api.openai.com refused");
  EXPECT_TRUE(egress::check("https://api.openai.com/v1").ok());
}

}  // namespace
}  // namespace lm::router
