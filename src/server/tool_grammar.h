// tool_choice "required" / {"type": "function", ...}: the grammar that makes the model write a
// tool call in its chat template's syntax (Hermes <tool_call> by default, Llama 3 JSON, Mistral
// [TOOL_CALLS]), with the arguments constrained by the tool's `parameters` schema.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "sampling/grammar.h"
#include "server/request.h"

namespace lm::server {

struct ModelInfo;

// tools: the request's validated tools; choice kRequired (any of them) or kFunction (`name`).
// A schema that cannot be compiled is a 400 naming tools[i].function.parameters.
Parsed<std::shared_ptr<const sampling::Grammar>> forced_tool_grammar(const ModelInfo& model,
                                                                    const nlohmann::ordered_json& tools,
                                                                    ToolChoice choice,
                                                                    const std::string& name,
                                                                    bool parallel);

}  // namespace lm::server
