#include "chat/tool_calls.h"

#include "chat/tool_call_syntax.h"

namespace lm::chat {

using namespace detail;
using nlohmann::json;

namespace {

constexpr std::string_view kThinkOpen = "<think>", kThinkClose = "</think>";
constexpr std::string_view kHermesOpen = "<tool_call>", kHermesClose = "</tool_call>";
constexpr std::string_view kMistralCalls = "[TOOL_CALLS]", kMistralArgs = "[ARGS]";
constexpr std::string_view kMistralCallId = "[CALL_ID]";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kXmlFunction = "<function=";

bool contains(std::string_view s, std::string_view x) { return s.find(x) != std::string_view::npos; }

bool starts_with(std::string_view s, size_t at, std::string_view x) { return s.substr(at, x.size()) == x; }

// s (from `at`) is a proper prefix of x: more text could still make it x.
bool could_become(std::string_view s, size_t at, std::string_view x) {
  std::string_view rest = s.substr(std::min(at, s.size()));
  return rest.size() < x.size() && x.substr(0, rest.size()) == rest;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

}  // namespace

const char* tool_call_format_name(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::kNone: return "none";
    case ToolCallFormat::kHermes: return "hermes";
    case ToolCallFormat::kLlama3Json: return "llama3-json";
    case ToolCallFormat::kMistral: return "mistral";
  }
  return "?";
}

OutputFormat detect_output_format(std::string_view tmpl) {
  OutputFormat f;
  if (contains(tmpl, kHermesOpen)) {
    f.tools = ToolCallFormat::kHermes;
  } else if (contains(tmpl, kMistralCalls)) {
    f.tools = ToolCallFormat::kMistral;
  } else if (contains(tmpl, kPythonTag) ||
             (contains(tmpl, "<|start_header_id|>") && contains(tmpl, "\"parameters\""))) {
    f.tools = ToolCallFormat::kLlama3Json;
  }
  f.think = contains(tmpl, kThinkOpen) || contains(tmpl, kThinkClose);
  // The generation prompt comes after the last mention of add_generation_prompt; an open
  // <think> there (QwQ, DeepSeek-R1 0528) means the reply starts inside the reasoning.
  size_t gen = tmpl.rfind("add_generation_prompt");
  if (f.think && gen != std::string_view::npos) {
    std::string_view tail = tmpl.substr(gen);
    size_t open = tail.rfind(kThinkOpen);
    f.starts_in_think = open != std::string_view::npos && !contains(tail.substr(open), kThinkClose);
  }
  return f;
}

std::vector<std::string> output_markers(const OutputFormat& f) {
  std::vector<std::string> m;
  if (f.think) m = {std::string(kThinkOpen), std::string(kThinkClose)};
  switch (f.tools) {
    case ToolCallFormat::kHermes: m.insert(m.end(), {std::string(kHermesOpen), std::string(kHermesClose)}); break;
    case ToolCallFormat::kMistral:
      m.insert(m.end(), {std::string(kMistralCalls), std::string(kMistralArgs), std::string(kMistralCallId)});
      break;
    case ToolCallFormat::kLlama3Json: m.emplace_back(kPythonTag); break;
    case ToolCallFormat::kNone: break;
  }
  return m;
}

bool prompt_opens_think(std::string_view prompt) {
  size_t e = prompt.size();
  while (e > 0 && is_space(prompt[e - 1])) --e;
  return prompt.substr(0, e).ends_with(kThinkOpen);
}

json ParsedMessage::to_json() const {
  json j = {{"role", "assistant"}};
  j["content"] = content.empty() && !tool_calls.empty() ? json(nullptr) : json(content);
  if (!reasoning_content.empty()) j["reasoning_content"] = reasoning_content;
  if (!tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    j["tool_calls"] = std::move(calls);
  }
  return j;
}

OutputParser::OutputParser(OutputFormat f) : format_(f), rng_(std::random_device{}()) {}

std::vector<OutputDelta> OutputParser::feed(std::string_view text) {
  Out out;
  if (finished_) return out;
  try {
    buf_.append(text);
    run(false, out);
  } catch (const std::exception&) {
    // Only allocation can throw here; keep what is held as content rather than losing it.
    emit_text(false, buf_, out);
    buf_.clear();
    state_ = State::kContent;
  }
  return out;
}

std::vector<OutputDelta> OutputParser::finish(bool truncated) {
  Out out;
  if (finished_) return out;
  finished_ = true;
  try {
    truncated_ = truncated;
    run(true, out);
    emit_text(state_ == State::kReasoning, buf_, out);
    buf_.clear();
    std::string ws = std::move(pending_ws_);
    pending_ws_.clear();
    if (!ws.empty() && !skip_ws_) {
      (pending_reasoning_ ? message_.reasoning_content : message_.content) += ws;
      OutputDelta d;
      (pending_reasoning_ ? d.reasoning_content : d.content) = std::move(ws);
      out.push_back(std::move(d));
    }
  } catch (const std::exception&) {
  }
  return out;
}

void OutputParser::run(bool final, Out& out) {
  while (!buf_.empty() || state_ == State::kStart) {
    if (!step(final, out)) break;
  }
}

bool OutputParser::step(bool final, Out& out) {
  switch (state_) {
    case State::kStart: return step_start(final, out);
    case State::kContent:
    case State::kReasoning: return step_text(final, out);
    case State::kHermes: return step_hermes(final, out);
    case State::kMistral: return step_mistral(final, out);
    case State::kLlama: return step_llama(final, out);
    case State::kLlamaNext: return step_llama_next(final, out);
    case State::kPythonTag: return step_python_tag(final, out);
  }
  return false;
}

// Beginning of the reply (or just after </think>): decides between reasoning, a whole-reply
// Llama 3 JSON call and plain content.
bool OutputParser::step_start(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  if (i == buf_.size() && !final) return false;
  if (format_.think && !think_closed_) {
    if (could_become(buf_, i, kThinkOpen) && !final) return false;
    if (starts_with(buf_, i, kThinkOpen)) {
      consume(i + kThinkOpen.size());
      state_ = State::kReasoning;
      skip_ws_ = true;
      return true;
    }
    if (format_.starts_in_think) {
      state_ = State::kReasoning;
      skip_ws_ = true;
      return true;
    }
  }
  if (format_.tools == ToolCallFormat::kLlama3Json && i < buf_.size() && buf_[i] == '{') {
    marker_.clear();
    state_ = State::kLlama;
    return true;
  }
  state_ = State::kContent;
  return true;
}

// Content or reasoning text up to the next marker; holds back a possible marker prefix.
bool OutputParser::step_text(bool final, Out& out) {
  const bool reasoning = state_ == State::kReasoning;
  // <think> opens reasoning only at the start (step_start): deciding it here would depend on
  // how the text was chunked.
  std::string_view markers[1];
  size_t n_markers = 0;
  if (reasoning) {
    markers[n_markers++] = kThinkClose;
  } else {
    switch (format_.tools) {
      case ToolCallFormat::kHermes: markers[n_markers++] = kHermesOpen; break;
      case ToolCallFormat::kMistral: markers[n_markers++] = kMistralCalls; break;
      case ToolCallFormat::kLlama3Json: markers[n_markers++] = kPythonTag; break;
      case ToolCallFormat::kNone: break;
    }
  }
  size_t best = std::string::npos;
  std::string_view found;
  for (size_t m = 0; m < n_markers; ++m) {
    size_t p = buf_.find(markers[m]);
    if (p < best) best = p, found = markers[m];
  }
  if (best == std::string::npos) {
    size_t hold = 0;
    if (!final) {
      for (size_t m = 0; m < n_markers; ++m) hold = std::max(hold, partial_suffix(buf_, markers[m]));
    }
    emit_text(reasoning, std::string_view(buf_).substr(0, buf_.size() - hold), out);
    consume(buf_.size() - hold);
    return false;
  }
  emit_text(reasoning, std::string_view(buf_).substr(0, best), out);
  consume(best + found.size());
  if (found == kThinkClose) {
    pending_ws_.clear();
    skip_ws_ = true;
    think_closed_ = true;
    state_ = State::kStart;
  } else {
    marker_ = std::string(found);
    state_ = found == kHermesOpen    ? State::kHermes
             : found == kMistralCalls ? State::kMistral
                                      : State::kPythonTag;
  }
  return true;
}

void OutputParser::emit_text(bool reasoning, std::string_view s, Out& out) {
  if (skip_ws_) {
    size_t i = skip_space(s, 0);
    s.remove_prefix(i);
    if (s.empty()) return;
    skip_ws_ = false;
  }
  if (s.empty()) return;
  size_t e = s.size();
  while (e > 0 && is_space(s[e - 1])) --e;
  if (e == 0) {  // only whitespace: hold it with what is already held
    if (pending_reasoning_ != reasoning) pending_ws_.clear();
    pending_ws_.append(s);
    pending_reasoning_ = reasoning;
    return;
  }
  std::string text = pending_reasoning_ == reasoning ? std::move(pending_ws_) : std::string();
  text.append(s.substr(0, e));
  pending_ws_ = std::string(s.substr(e));
  pending_reasoning_ = reasoning;
  (reasoning ? message_.reasoning_content : message_.content) += text;
  if (!out.empty() && out.back().tool_index < 0 &&
      (reasoning ? out.back().content.empty() : out.back().reasoning_content.empty())) {
    (reasoning ? out.back().reasoning_content : out.back().content) += text;
    return;
  }
  OutputDelta d;
  (reasoning ? d.reasoning_content : d.content) = std::move(text);
  out.push_back(std::move(d));
}

std::string OutputParser::new_id() {
  static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  // Mistral's templates require ids of exactly 9 alphanumerics; others follow OpenAI's "call_".
  bool mistral = format_.tools == ToolCallFormat::kMistral;
  std::string id = mistral ? "" : "call_";
  for (int i = 0; i < (mistral ? 9 : 24); ++i) id += kAlnum[rng_() % (sizeof(kAlnum) - 1)];
  return id;
}

void OutputParser::add_call(std::string name, std::string arguments, std::string id, Out& out) {
  pending_ws_.clear();
  skip_ws_ = true;
  ToolCall call{id.empty() ? new_id() : std::move(id), std::move(name), std::move(arguments)};
  OutputDelta d;
  d.tool_index = static_cast<int>(message_.tool_calls.size());
  d.tool_id = call.id;
  d.tool_name = call.name;
  d.tool_arguments = call.arguments;
  message_.tool_calls.push_back(std::move(call));
  out.push_back(std::move(d));
}

bool OutputParser::fallback(Out& out) {
  emit_text(false, marker_, out);
  marker_.clear();
  state_ = State::kContent;
  return true;
}

bool OutputParser::in_call() const {
  switch (state_) {
    case State::kHermes:
    case State::kMistral:
    case State::kPythonTag: return true;
    // At the very start of a reply, JSON may be content: only a marker or an earlier call makes it a call.
    case State::kLlama: return !marker_.empty() || !message_.tool_calls.empty();
    default: return false;
  }
}

// Text that could still complete a call has run out. Unless the reply was cut inside a call
// (then drop_cut_call), the marker becomes content.
// The reply was cut inside a call: keep the complete elements of a Mistral array, drop the rest
// (and the whitespace before the marker).
bool OutputParser::incomplete(bool final, Out& out) {
  if (!final) return false;
  if (truncated_ && in_call()) {
    drop_cut_call(out);
    return true;
  }
  return fallback(out);
}

void OutputParser::drop_cut_call(Out& out) {
  size_t i = skip_space(buf_, 0);
  if (state_ == State::kMistral && i < buf_.size() && buf_[i] == '[') {
    i = skip_space(buf_, i + 1);
    size_t end = 0;
    while (i < buf_.size() && buf_[i] == '{' && json_extent(buf_, i, &end) == Extent::kComplete) {
      auto call = parse_call_object(std::string_view(buf_).substr(i, end - i), false);
      if (!call) break;
      add_call(std::move(call->name), std::move(call->arguments), std::move(call->id), out);
      i = skip_space(buf_, end);
      if (i >= buf_.size() || buf_[i] != ',') break;
      i = skip_space(buf_, i + 1);
    }
  }
  buf_.clear();
  marker_.clear();
  pending_ws_.clear();
  state_ = State::kContent;
}

// After <tool_call>: a JSON call object (or Qwen3-Coder XML) and </tool_call>.
bool OutputParser::step_hermes(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  if (i == buf_.size()) return incomplete(final, out);
  if (buf_[i] == '<') {
    if (could_become(buf_, i, kXmlFunction)) return incomplete(final, out);
    if (starts_with(buf_, i, kXmlFunction)) return step_hermes_xml(i, final, out);
    return fallback(out);
  }
  if (buf_[i] != '{') return fallback(out);  // prose mentioning the tag
  size_t end = 0;
  Extent ext = json_extent(buf_, i, &end);
  if (ext == Extent::kIncomplete) return incomplete(final, out);
  if (ext == Extent::kInvalid) return fallback(out);
  auto call = parse_call_object(std::string_view(buf_).substr(i, end - i), false);
  if (!call) return fallback(out);
  size_t j = skip_space(buf_, end);
  if (could_become(buf_, j, kHermesClose) && j < buf_.size() && !final) return false;
  if (j == buf_.size() && !final) return false;
  // A missing </tool_call> (truncated, or another call right after) still leaves a whole call.
  consume(starts_with(buf_, j, kHermesClose) ? j + kHermesClose.size() : end);
  add_call(std::move(call->name), std::move(call->arguments), {}, out);
  state_ = State::kContent;
  return true;
}

bool OutputParser::step_hermes_xml(size_t at, bool final, Out& out) {
  size_t close = buf_.find(kHermesClose, at);
  if (close == std::string::npos) return incomplete(final, out);
  auto call = parse_xml_function(std::string_view(buf_).substr(at, close - at));
  if (!call) return fallback(out);
  consume(close + kHermesClose.size());
  add_call(std::move(call->name), std::move(call->arguments), {}, out);
  state_ = State::kContent;
  return true;
}

// After [TOOL_CALLS]: a JSON array of calls, or name[ARGS]{...}.
bool OutputParser::step_mistral(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  if (i == buf_.size()) return incomplete(final, out);
  if (buf_[i] != '[') return step_mistral_named(final, out);
  size_t end = 0;
  Extent ext = json_extent(buf_, i, &end);
  if (ext == Extent::kIncomplete) return incomplete(final, out);
  if (ext == Extent::kInvalid) return fallback(out);
  auto calls = parse_call_array(std::string_view(buf_).substr(i, end - i));
  if (!calls) return fallback(out);
  consume(end);
  for (auto& c : *calls) add_call(std::move(c.name), std::move(c.arguments), std::move(c.id), out);
  state_ = State::kContent;
  return true;
}

bool OutputParser::step_mistral_named(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  size_t k = i;
  while (k < buf_.size() && is_name_char(buf_[k])) ++k;
  if (k == buf_.size()) return incomplete(final, out);
  if (k == i || buf_[k] != '[') return fallback(out);
  std::string name = buf_.substr(i, k - i);
  std::string id;
  if (could_become(buf_, k, kMistralCallId) || could_become(buf_, k, kMistralArgs)) {
    return incomplete(final, out);
  }
  if (starts_with(buf_, k, kMistralCallId)) {
    size_t s = k + kMistralCallId.size(), e = s;
    while (e < buf_.size() && is_name_char(buf_[e])) ++e;
    if (e == buf_.size()) return incomplete(final, out);
    if (buf_[e] != '[') return fallback(out);
    id = buf_.substr(s, e - s);
    k = e;
    if (could_become(buf_, k, kMistralArgs)) return incomplete(final, out);
  }
  if (!starts_with(buf_, k, kMistralArgs)) return fallback(out);
  size_t a = skip_space(buf_, k + kMistralArgs.size());
  if (a == buf_.size()) return incomplete(final, out);
  if (buf_[a] != '{') return fallback(out);
  size_t end = 0;
  Extent ext = json_extent(buf_, a, &end);
  if (ext == Extent::kIncomplete) return incomplete(final, out);
  if (ext == Extent::kInvalid) return fallback(out);
  auto args = compact_object(std::string_view(buf_).substr(a, end - a));
  if (!args) return fallback(out);
  consume(end);
  add_call(std::move(name), std::move(*args), std::move(id), out);
  state_ = State::kContent;
  return true;
}

// A Llama 3 JSON call at the start of the reply (marker_ empty) or after <|python_tag|>.
bool OutputParser::step_llama(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  if (i == buf_.size()) return incomplete(final, out);
  size_t end = 0;
  Extent ext = i < buf_.size() && buf_[i] == '{' ? json_extent(buf_, i, &end) : Extent::kInvalid;
  if (ext == Extent::kIncomplete) return incomplete(final, out);
  std::optional<CallParts> call;
  if (ext == Extent::kComplete) {
    call = parse_call_object(std::string_view(buf_).substr(i, end - i), /*require_args=*/true);
  }
  if (!call) return fallback(out);  // plain JSON (or text) reply: all content
  consume(end);
  add_call(std::move(call->name), std::move(call->arguments), {}, out);
  state_ = State::kLlamaNext;
  return true;
}

// After a Llama 3 call: `;` and another call, or the rest is content.
bool OutputParser::step_llama_next(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  if (i == buf_.size()) {
    if (final) state_ = State::kContent;
    return final;
  }
  if (buf_[i] == ';') {
    consume(i + 1);
    marker_.clear();
    state_ = State::kLlama;
    return true;
  }
  state_ = State::kContent;
  return true;
}

// After <|python_tag|>: JSON call(s), a built-in `tool.call(...)`, or code for the interpreter.
bool OutputParser::step_python_tag(bool final, Out& out) {
  size_t i = skip_space(buf_, 0);
  if (i == buf_.size()) return incomplete(final, out);
  if (buf_[i] == '{') {
    state_ = State::kLlama;
    return true;
  }
  if (!final) return false;  // the call runs to the end of the reply
  auto call = parse_builtin_call(buf_);
  if (!call) {
    // Llama 3.1 writes code for its code_interpreter built-in right after the tag.
    call = CallParts{"python", json{{"code", buf_.substr(i)}}.dump(-1, ' ', false, json::error_handler_t::replace), {}};
  }
  buf_.clear();
  add_call(std::move(call->name), std::move(call->arguments), {}, out);
  state_ = State::kContent;
  return true;
}

}  // namespace lm::chat
