// Built-in hosted list prices, USD per 1M tokens (input, cached input, output).
//
// Looked up on 2026-11-21 with the project's `search` tool (stored copies of public pages);
// each row names its page and the date that page gives for its figures. Prices change: override
// them with the "prices" member of the costs config (cost.h) rather than trusting these.
// Where a page gives no cached-input price, cached input is charged at the input price
// (conservative: it never under-counts) and the row says so.
#include "audit/cost.h"

namespace lm::audit {

namespace {

struct Row {
  const char* model;
  double input, cached, output;
  const char* source;
};

constexpr const char* kOpenAiJune =
    "morphllm.com/openai-api-pricing (table 'as of June 2026', from openai.com pricing)";
constexpr const char* kOpenAi41 =
    "tokenmath.io/openai-api-pricing-explained (OpenAI model pricing, checked 2026-06-21); "
    "no cached price given: cached = input";
constexpr const char* kOpenAi4o =
    "aimodelcalc.pages.dev/guides/openai-api-pricing.html (platform.openai.com/docs/pricing, "
    "May 2026); no cached price given: cached = input";
constexpr const char* kAnthropicDocs =
    "docs.anthropic.com/en/docs/about-claude/pricing (base input, cache hits, output)";
constexpr const char* kAnthropic46 =
    "deploybase.ai/articles/claude-api-pricing (as of 2026-03-21); cached = 10% of input, the "
    "cache-hit ratio of every row of docs.anthropic.com/en/docs/about-claude/pricing";
constexpr const char* kGemini =
    "deploybase.ai/articles/gemini-api-pricing (Google's pricing page, March 2026; prompts "
    "<= 200K tokens); cached = 10% of input (its '90% context caching discount')";
constexpr const char* kOpenRouter =
    "dev.to/andrew_morgado_dev/cheapest-llm-apis-for-startups-in-2026 (OpenRouter list, mid-2026); "
    "no cached price given: cached = input";

const Row kRows[] = {
    // OpenAI
    {"gpt-5.5", 5.00, 0.50, 30.00, kOpenAiJune},
    {"gpt-5.5-pro", 30.00, 30.00, 180.00, kOpenAiJune},
    {"gpt-5.4", 2.50, 0.25, 15.00, kOpenAiJune},
    {"gpt-5.4-mini", 0.75, 0.075, 4.50, kOpenAiJune},
    {"gpt-5.4-nano", 0.20, 0.02, 1.25, kOpenAiJune},
    {"gpt-4.1", 2.00, 2.00, 8.00, kOpenAi41},
    {"gpt-4.1-mini", 0.40, 0.40, 1.60, kOpenAi41},
    {"gpt-4o", 2.50, 2.50, 10.00, kOpenAi4o},
    {"gpt-4o-mini", 0.15, 0.15, 0.60, kOpenAi4o},
    // Anthropic
    {"claude-opus-4-6", 5.00, 0.50, 25.00, kAnthropic46},
    {"claude-sonnet-4-6", 3.00, 0.30, 15.00, kAnthropic46},
    {"claude-haiku-4-5", 1.00, 0.10, 5.00, kAnthropic46},
    {"claude-opus-4-1", 15.00, 1.50, 75.00, kAnthropicDocs},
    {"claude-sonnet-4", 3.00, 0.30, 15.00, kAnthropicDocs},
    {"claude-3-5-haiku", 0.80, 0.08, 4.00, kAnthropicDocs},
    // Google Gemini
    {"gemini-2.5-pro", 1.25, 0.125, 10.00, kGemini},
    {"gemini-2.5-flash", 0.30, 0.03, 2.50, kGemini},
    // OpenRouter (open-weight models; hosted OpenAI/Anthropic/Google models on OpenRouter
    // resolve to the rows above through the "provider/" prefix rule of PricingTable::find)
    {"meta-llama/llama-3.1-8b-instruct", 0.02, 0.02, 0.03, kOpenRouter},
    {"meta-llama/llama-3.3-70b-instruct", 0.10, 0.10, 0.32, kOpenRouter},
    {"microsoft/phi-4", 0.07, 0.07, 0.14, kOpenRouter},
    {"mistralai/mistral-small-3.1-24b-instruct", 0.35, 0.35, 0.56, kOpenRouter},
};

}  // namespace

PricingTable PricingTable::defaults() {
  PricingTable t;
  for (const Row& r : kRows) t.set(r.model, ModelPrice{r.input, r.cached, r.output, r.source});
  return t;
}

}  // namespace lm::audit
