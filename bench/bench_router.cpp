// Cost of the router's per-request decision on a 10 KB chat request: detection (lm_detect, every
// built-in kind) + facts + Policy::decide. Issue 5's budget: detection and decision <= 1 ms per
// 10 KB request. Baseline (same run): Detector::scan alone, so decide's share reads as the ratio.
//
//   build/bin/bench_router [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <string>

#include "detect/detect.h"
#include "router/policy.h"

namespace {

std::string request_10k(bool with_pii) {
  const char* clean[] = {
      "The migration to version 2.14.3 finished on 2024-03-18 at 14:05; 1,284,311 rows moved in 93.4 s. ",
      "def load(path):\n    with open(path) as f:\n        return json.load(f)  # see issue #4521\n",
      "2024-03-18 14:05:12 INFO worker-3 request 7f9c2b1e-8d4a-4c1f-9b7e-2a6d5c3f1e08 took 182 ms\n",
      "Our revenue grew 12.5% to $4.2 million across 37 countries; order ORD-2024-004512 shipped today. ",
      "The quick brown fox jumps over the lazy dog while the committee reviews section 4.2.1 of the draft. ",
  };
  const char* pii[] = {
      "Hi team, following up with Jane Doe (jane.doe@example.com, +44 20 7946 0958). ",
      "Please refund card 4111 1111 1111 1111 and wire the balance to DE89 3704 0044 0532 0130 00. ",
      "Use OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f for the staging job only. ",
  };
  std::string text;
  for (int i = 0; text.size() < 10240; ++i) {
    text += clean[i % 5];
    if (with_pii && i % 4 == 3) text += pii[(i / 4) % 3];
  }
  text.resize(10240);
  return text;
}

// A realistic configured policy: tenant, model-alias, context and budget rules before the
// catch-all, so decide() walks several rules.
lm::router::Policy configured_policy() {
  nlohmann::json j = nlohmann::json::parse(R"({"rules": [
    {"name": "secrets-stay-local", "when": {"detected": ["secret", "private_key"]}, "route": "local", "must_stay_local": true},
    {"name": "guests-local", "when": {"header": {"x-openwebui-user-role": "guest"}}, "route": "local"},
    {"name": "acme-frontier", "when": {"header": {"x-tenant": "acme*"}, "model": ["frontier", "gpt-*"], "budget_exceeded": false},
     "route": {"provider": "openai", "model": "gpt-5.5"}, "redact": true, "allow_detected": ["email", "phone"],
     "fallback": [{"provider": "claude", "model": "claude-sonnet-4-6"}, "local"]},
    {"name": "long-context", "when": {"prompt_tokens_over_local_ctx": true, "not_detected": "any", "max_cost_usd": 0.5},
     "route": {"provider": "openai", "model": "gpt-5.4-mini"}},
    {"name": "frontier-refused", "when": {"model": "frontier"}, "route": "refuse", "message": "no frontier for you"},
    {"name": "rest-local", "route": "local"}
  ]})");
  lm::router::PolicyContext ctx;
  ctx.providers = {{"openai", {"gpt-5.5", "gpt-5.4-mini"}}, {"claude", {"claude-sonnet-4-6"}}};
  return std::move(lm::router::Policy::parse(j, ctx)).value();
}

lm::router::RequestFacts base_facts() {
  lm::router::RequestFacts f;
  f.model = "frontier";
  f.headers = {{"x-tenant", "acme-eu"}, {"x-openwebui-user-role", "user"}, {"x-openwebui-user-email", "a@b.example"}};
  f.key = "team-a";
  f.prompt_tokens = 2600;
  f.max_tokens = 512;
  f.local_n_ctx = 4096;
  f.local_models = {"qwen3", "llama3"};
  f.upstream_models = {"openai/gpt-5.5", "openai/gpt-5.4-mini", "claude/claude-sonnet-4-6"};
  return f;
}

void BM_detect_only(benchmark::State& state) {
  std::string text = request_10k(state.range(0) != 0);
  auto det = lm::detect::Detector::create(lm::detect::DetectorConfig{});
  for (auto _ : state) {
    auto spans = det->scan(text);
    benchmark::DoNotOptimize(spans.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * text.size());
}

void BM_detect_and_decide(benchmark::State& state) {
  std::string text = request_10k(state.range(0) != 0);
  auto det = lm::detect::Detector::create(lm::detect::DetectorConfig{});
  lm::router::Policy policy = state.range(1) ? configured_policy() : lm::router::Policy::default_policy();
  lm::router::RequestFacts f = base_facts();
  auto budget_ok = [](const std::string&, const lm::router::Target&, int64_t) { return true; };
  int upstream = 0;
  for (auto _ : state) {
    f.detections = lm::router::detection_counts(det->scan(text));
    lm::router::Decision d = policy.decide(f, budget_ok);
    upstream += d.route == lm::router::Route::upstream;
    benchmark::DoNotOptimize(d.reason.data());
  }
  state.counters["upstream"] = static_cast<double>(upstream) / static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * text.size());
}

void BM_decide_only(benchmark::State& state) {
  lm::router::Policy policy = configured_policy();
  lm::router::RequestFacts f = base_facts();
  f.detections = {{"email", 2}, {"phone", 1}};
  for (auto _ : state) {
    lm::router::Decision d = policy.decide(f);
    benchmark::DoNotOptimize(d.reason.data());
  }
}

}  // namespace

// Args: {request has PII, configured policy (1) or default policy (0)}.
BENCHMARK(BM_detect_only)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_detect_and_decide)->Args({0, 0})->Args({1, 0})->Args({0, 1})->Args({1, 1})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_decide_only)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
