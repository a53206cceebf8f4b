// Router: detection over every text of a request, the decision with its guards (detections,
// offline mode, budgets), audit records, and redaction/restoration helpers.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "audit/audit_log.h"
#include "audit/cost.h"
#include "core/egress.h"
#include "router/router.h"
#include "test_util.h"

namespace lm::router {
namespace {

using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

RouterConfig config_with(const std::string& audit_path, const json& extra = json::object()) {
  json j = json::parse(R"({
    "providers": [{"name": "up", "type": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["gpt-5.5"]}],
    "policy": {"rules": [
      {"name": "sensitive", "when": {"detected": "any"}, "route": "local", "must_stay_local": true},
      {"name": "frontier", "when": {"model": "frontier"}, "route": {"provider": "up", "model": "gpt-5.5"}},
      {"name": "rest", "route": "local"}]}
  })");
  j["audit"] = {{"path", audit_path}, {"fsync", "never"}};
  j.update(extra);
  auto cfg = parse_router_config(j, "test");
  EXPECT_TRUE(cfg.ok()) << cfg.error().message();
  return std::move(*cfg);
}

std::unique_ptr<Router> make(RouterConfig cfg) {
  auto r = Router::create(std::move(cfg));
  EXPECT_TRUE(r.ok()) << r.error().message();
  return std::move(*r);
}

Routed route(Router& rt, const json& body, const std::string& key = "") {
  std::string text = body.dump();
  RouteRequest rq{text, &body, {}, key};
  return rt.route(rq, LocalInfo{true, 2048, {"demo"}});
}

json chat(const std::string& model, const std::string& text) {
  return {{"model", model}, {"messages", {{{"role", "user"}, {"content", text}}}}};
}

TEST(Router, DetectsInEveryPlaceOfTheRequest) {
  auto rt = make(config_with(test::temp_path("a.jsonl")));
  const std::string card = "4111 1111 1111 1111";
  std::vector<json> bodies = {
      chat("frontier", "card " + card),
      {{"model", "frontier"}, {"messages", {{{"role", "system"}, {"content", "mail a.b@example.com"}},
                                            {{"role", "user"}, {"content", "hi"}}}}},
      {{"model", "frontier"}, {"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", card}}}}}}}},
      {{"model", "frontier"}, {"messages", {{{"role", "assistant"}, {"tool_calls", {{{"type", "function"},
          {"function", {{"name", "f"}, {"arguments", "{\"ssn\": \"123-45-6789\"}"}}}}}}}}}},
      {{"model", "frontier"}, {"user", "jane@example.org"}, {"messages", json::array()}},
      // JSON inside a string: the escaped quotes hide the assignment from a plain scan.
      {{"model", "frontier"}, {"messages", {{{"role", "assistant"}, {"tool_calls", {{{"type", "function"},
          {"function", {{"name", "f"}, {"arguments", json({{"q", "DB_PASSWORD=\"yqNA23sRvtcO3wB_\""}}).dump()}}}}}}}}}},
      {{"model", "frontier"}, {"prompt", "key AKIAIOSFODNN7EXAMPLE"}},
  };
  for (const auto& b : bodies) {
    Routed r = route(*rt, b);
    EXPECT_FALSE(r.detections.empty()) << b.dump();
    EXPECT_EQ(r.decision.route, Route::local) << b.dump();
    EXPECT_EQ(r.decision.rule, "sensitive");
  }
  Routed clean = route(*rt, chat("frontier", "write a poem about the sea"));
  EXPECT_TRUE(clean.detections.empty());
  EXPECT_EQ(clean.decision.route, Route::upstream);
  EXPECT_EQ(clean.decision.target.provider, "up");
  EXPECT_EQ(clean.request_sha256.size(), 64u);
  EXPECT_NE(clean.request_id, route(*rt, chat("frontier", "x")).request_id);
}

TEST(Router, OfflineTurnsUpstreamIntoARefusal) {
  auto rt = make(config_with(test::temp_path("b.jsonl"), {{"offline", true}}));
  Routed r = route(*rt, chat("frontier", "hello"));
  EXPECT_EQ(r.decision.route, Route::refuse);
  EXPECT_EQ(r.decision.http_status, 503);
  EXPECT_EQ(r.decision.rule, "frontier");
  EXPECT_NE(r.decision.message.find("offline mode"), std::string::npos) << r.decision.message;
  EXPECT_EQ(route(*rt, chat("demo", "hello")).decision.route, Route::local);
  egress::set_offline(false);   // process-wide: leave it as the other tests expect
}

TEST(Router, BudgetsAreEnforced) {
  std::string log = test::temp_path("c.jsonl");
  json extra = {{"budgets", {{{"key", "team"}, {"period", "day"}, {"limit_usd", 0.05}}}}};
  auto rt = make(config_with(log, extra));
  json body = chat("frontier", "hello");
  body["max_tokens"] = 100;
  Routed first = route(*rt, body, "team");
  EXPECT_EQ(first.decision.route, Route::upstream) << first.decision.message;
  Outcome o{"upstream", "up", "gpt-5.5", 1000000, 0, 1000, -1, "", ""};   // ~ several USD at list price
  ASSERT_TRUE(rt->record(first, o).ok());
  Routed second = route(*rt, body, "team");
  EXPECT_EQ(second.decision.route, Route::refuse);
  EXPECT_EQ(second.decision.http_status, 429);
  EXPECT_NE(second.decision.message.find("team"), std::string::npos) << second.decision.message;
  EXPECT_EQ(route(*rt, body, "other").decision.route, Route::upstream);   // another key's budget
}

TEST(Router, RecordsOneVerifiableEntryWithoutText) {
  std::string log = test::temp_path("d.jsonl");
  {
    auto rt = make(config_with(log, {{"local_cost", {{"watts", 1000}, {"usd_per_kwh", 3.6}}}}));
    Routed r = route(*rt, chat("demo", "my mail is secret.person@example.com"), "key-1");
    Outcome o;
    o.route = "local";
    o.destination = o.model = "demo";
    o.tokens_in = 12;
    o.tokens_out = 3;
    o.seconds = 1.0;
    ASSERT_TRUE(rt->record(r, o).ok());
  }
  auto entries = audit::read_entries(log);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  const audit::AuditRecord& a = (*entries)[0].record;
  EXPECT_EQ(a.route, "local");
  EXPECT_EQ(a.rule, "sensitive");
  EXPECT_EQ(a.key, "key-1");
  EXPECT_EQ(a.detectors.at("email"), 1);
  EXPECT_EQ(a.tokens_in, 12);
  EXPECT_NEAR(a.cost_usd, 0.001, 1e-9);   // 1 s at 1 kW and 3.6 USD/kWh
  EXPECT_EQ(a.request_sha256.size(), 64u);
  std::string text = slurp(log);
  EXPECT_EQ(text.find("secret.person"), std::string::npos);
  auto rep = audit::verify_log(log, {});
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->status, audit::VerifyStatus::intact) << rep->summary();
}

TEST(Router, CostReportCountsOutcomesNotEgressEntries) {
  std::vector<audit::AuditEntry> entries(3);
  entries[0].record.route = "egress";   // before the send
  entries[0].record.tokens_in = 50;
  entries[1].record.route = "upstream";
  entries[1].record.tokens_in = 50;
  entries[1].record.cost_usd = 0.5;
  entries[2].record.route = "local";
  entries[2].record.cost_usd = 0.01;
  for (auto& e : entries) e.time = "2026-11-22T00:00:00.000Z";
  auto rep = audit::build_cost_report(entries, "route", "", audit::PricingTable::defaults());
  ASSERT_TRUE(rep.ok()) << rep.error().message();
  EXPECT_EQ(rep->total.requests, 2);
  EXPECT_EQ(rep->hosted.requests, 1);
  EXPECT_EQ(rep->hosted.tokens_in, 50);
  EXPECT_DOUBLE_EQ(rep->total.cost_usd, 0.51);
}

TEST(RouterText, RedactsEveryStringAndRestoresReplies) {
  auto det = detect::Detector::create({});
  ASSERT_TRUE(det.ok());
  json body = {{"model", "m"},
               {"messages", {{{"role", "user"}, {"content", "mail a.b@example.com"}},
                             {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "again a.b@example.com"}}}}}}}};
  detect::Redactor red;
  for_each_text(body, [&](std::string& s) {
    auto spans = det->scan(s);
    if (!spans.empty()) s = red.redact(s, spans);
  });
  std::string dumped = body.dump();
  EXPECT_EQ(dumped.find("a.b@example.com"), std::string::npos);
  EXPECT_NE(dumped.find("[EMAIL_1]"), std::string::npos);
  EXPECT_EQ(body["model"], "m");

  json reply = {{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "to [EMAIL_1]"}}}}}}};
  restore_response(reply, red);
  EXPECT_EQ(reply["choices"][0]["message"]["content"], "to a.b@example.com");

  ChunkRestorer cr(red);
  std::string out;
  for (const char* piece : {"to [EMA", "IL_", "1] ok", ""}) {
    json chunk = {{"choices", {{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}}}};
    if (std::string(piece).empty()) chunk["choices"][0]["finish_reason"] = "stop";
    cr.restore(chunk);
    out += chunk["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(out, "to a.b@example.com ok");
}

TEST(RouterText, RedactsInsideJsonStrings) {
  auto det = detect::Detector::create({});
  ASSERT_TRUE(det.ok());
  std::string args = json({{"q", "DB_PASSWORD=\"yqNA23sRvtcO3wB_\""}, {"to", "a.b@example.com"}}).dump();
  detect::Redactor red;
  rewrite_nested_text(args, [&](std::string& s) {
    auto spans = det->scan(s);
    if (!spans.empty()) s = red.redact(s, spans);
  });
  EXPECT_EQ(args.find("yqNA23sRvtcO3wB_"), std::string::npos) << args;
  EXPECT_EQ(args.find("a.b@example.com"), std::string::npos) << args;
  json back = json::parse(args);   // still valid JSON
  EXPECT_EQ(red.restore(back["to"].get<std::string>()), "a.b@example.com");
}

TEST(RouterText, HeldBackTextIsFlushedAtFinish) {
  detect::Redactor red;
  ChunkRestorer cr(red);
  json a = {{"choices", {{{"index", 0}, {"delta", {{"content", "price [EMAIL"}}}, {"finish_reason", nullptr}}}}};
  cr.restore(a);
  json b = {{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "length"}}}}};
  cr.restore(b);
  EXPECT_EQ(a["choices"][0]["delta"]["content"].get<std::string>() + b["choices"][0]["delta"]["content"].get<std::string>(),
            "price [EMAIL");
}

}  // namespace
}  // namespace lm::router
