// Helpers shared by the policy's parser (policy_parse.cpp) and evaluator (policy.cpp).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "router/policy.h"

namespace lm::router::detail {

// Case-insensitive (ASCII) glob: '*' matches any run (also empty), '?' one byte. Linear in
// practice (one backtrack point).
bool glob_match(std::string_view pattern, std::string_view text);
bool any_glob_match(const std::vector<std::string>& patterns, std::string_view text);

// Does the kind pattern of a rule ("any", "email", "custom", "custom:emp_id") cover the detection
// key ("email", "custom:emp_id")?
bool kind_matches(std::string_view pattern, std::string_view key);

// "email x2, card x1" over the detections with a positive count that `patterns` cover ("any"
// covers all); total is their summed count. Never names the detected text (it has none).
std::string summarize_detections(const std::map<std::string, int>& detections,
                                 const std::vector<std::string>& patterns, int* total);

// Every detected kind (count > 0) is covered by allow_detected.
bool detections_allowed(const std::map<std::string, int>& detections,
                        const std::vector<std::string>& allow_detected);
bool has_detections(const std::map<std::string, int>& detections);

const char* condition_key(ConditionKind k);

// The concrete target of a rule's route for this request (a rule may leave the model open):
// local "" -> the requested model if served locally, else "" (the server's default); upstream
// without a model -> the requested model if the provider has it, else the provider's first.
Target resolve_target(const Target& t, const RequestFacts& f);
// The local side is up and serves t.model (when the served list is known).
bool local_target_ok(const Target& t, const RequestFacts& f);
std::string join(const std::vector<std::string>& items, std::string_view sep);

inline constexpr const char* kLatencyHeader = "x-localmax-latency-budget-ms";

}  // namespace lm::router::detail
