// Parsing generated text into an OpenAI-style assistant message: content, reasoning_content
// (<think>...</think>) and tool_calls, for the tool-call formats of the common model families.
//
// Formats (as written by the models' own chat templates):
//   kHermes     Hermes 2/3, Qwen 2.5, Qwen 3, QwQ:
//                 text <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>  (repeated)
//               and the Qwen3-Coder XML body: <tool_call>\n<function=f>\n<parameter=k>\nv\n
//                 </parameter>\n</function>\n</tool_call>
//   kLlama3Json Llama 3.1-3.3: the whole reply is {"name": "f", "parameters": {...}} (or
//               "arguments"), optionally after <|python_tag|>, several joined by ';'; built-in
//               tools as <|python_tag|>brave_search.call(query="...").
//   kMistral    [TOOL_CALLS][{"name": "f", "arguments": {...}, "id": "abc123def"}] (v3 tokenizer),
//               [TOOL_CALLS]f[ARGS]{...} (v11+), [TOOL_CALLS]f[CALL_ID]abc123def[ARGS]{...}.
//
// Whitespace around markers is dropped (reasoning "<think>\nx\n</think>\n\nA" gives reasoning
// "x" and content "A"); all other text is kept verbatim. Malformed or truncated calls become
// content, literally, so nothing the model wrote is lost.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace lm::chat {

enum class ToolCallFormat { kNone, kHermes, kLlama3Json, kMistral };

const char* tool_call_format_name(ToolCallFormat f);

struct OutputFormat {
  ToolCallFormat tools = ToolCallFormat::kNone;
  bool think = false;            // <think>...</think> blocks are reasoning
  bool starts_in_think = false;  // the prompt already opened <think>: output starts as reasoning
};

// Guesses the output format from the chat template text. starts_in_think is a guess from the
// generation-prompt part of the template; prompt_opens_think() on the rendered prompt is exact.
OutputFormat detect_output_format(std::string_view chat_template);

// The marker texts the parser for `f` reacts to (<think>, </think>, <tool_call>, [TOOL_CALLS],
// [ARGS], [CALL_ID], <|python_tag|>, ...). Where a vocabulary has one as a control token, the
// generation must render it as this text (engine CompletionRequest::preserved_tokens), or the
// parser never sees it: a Mistral call would arrive as content "[{...}]".
std::vector<std::string> output_markers(const OutputFormat& f);

// True when the rendered prompt ends inside an open <think> block (QwQ, DeepSeek-R1 templates).
bool prompt_opens_think(std::string_view rendered_prompt);

struct ToolCall {
  std::string id, name;
  std::string arguments;  // compact JSON text
};

struct ParsedMessage {
  std::string content, reasoning_content;
  std::vector<ToolCall> tool_calls;
  // {"role": "assistant", "content": str|null, ["reasoning_content"], ["tool_calls"]}. The text
  // is the model's bytes: dump with error_handler_t::replace if it may hold broken UTF-8.
  nlohmann::json to_json() const;
};

// One step of output. Text deltas fill content/reasoning_content; a tool-call delta
// (tool_index >= 0) carries one whole call, emitted once it is complete and valid.
struct OutputDelta {
  std::string content, reasoning_content;
  int tool_index = -1;
  std::string tool_id, tool_name, tool_arguments;
};

// Incremental parser for one generated reply. Text that may start a marker, whitespace that may
// precede one, and tool calls not yet closed are held back until decided, so feeding the same
// text in any chunking gives the same message (tool-call ids aside: they are random).
// Not thread-safe; cheap (holds only the undecided tail). Never throws.
class OutputParser {
 public:
  explicit OutputParser(OutputFormat f);

  std::vector<OutputDelta> feed(std::string_view text);
  // End of generation: flushes what was held back; malformed or unclosed calls become content,
  // an unclosed <think> block stays reasoning. Later feed() calls are ignored.
  // truncated: the reply was cut (max_tokens, full context). A tool call still being written
  // (after its marker, or after an earlier call of a Llama 3 `;` chain) is then dropped rather
  // than becoming content: the complete calls before it stay tool calls (a Mistral
  // [TOOL_CALLS][...] array keeps its complete elements), and the caller reports the cut
  // (finish_reason "length"). A reply cut before any marker is content, as without truncation.
  std::vector<OutputDelta> finish(bool truncated = false);
  const ParsedMessage& message() const { return message_; }

 private:
  enum class State { kStart, kContent, kReasoning, kHermes, kMistral, kLlama, kLlamaNext, kPythonTag };
  using Out = std::vector<OutputDelta>;

  void run(bool final, Out& out);
  bool step(bool final, Out& out);
  bool step_start(bool final, Out& out);
  bool step_text(bool final, Out& out);
  bool step_hermes(bool final, Out& out);
  bool step_hermes_xml(size_t at, bool final, Out& out);
  bool step_mistral(bool final, Out& out);
  bool step_mistral_named(bool final, Out& out);
  bool step_llama(bool final, Out& out);
  bool step_llama_next(bool final, Out& out);
  bool step_python_tag(bool final, Out& out);

  void emit_text(bool reasoning, std::string_view s, Out& out);
  void add_call(std::string name, std::string arguments, std::string id, Out& out);
  bool fallback(Out& out);  // the pending marker becomes content; back to kContent
  bool in_call() const;     // inside a tool call (after its marker or an earlier call)
  // The text of a call ran out: wait for more, or (final) drop the call if the reply was cut
  // inside it (drop_cut_call), else fallback().
  bool incomplete(bool final, Out& out);
  void drop_cut_call(Out& out);
  void consume(size_t n) { buf_.erase(0, n); }
  std::string new_id();

  OutputFormat format_;
  State state_ = State::kStart;
  std::string buf_;            // undecided text
  std::string marker_;         // the tool-call marker that opened the current call state
  std::string pending_ws_;     // trailing whitespace held until we know a marker does not follow
  bool pending_reasoning_ = false;  // channel of pending_ws_
  bool skip_ws_ = false;       // drop leading whitespace (just after a marker)
  bool think_closed_ = false;  // a </think> was seen
  bool finished_ = false;
  bool truncated_ = false;     // finish(true)
  ParsedMessage message_;
  std::mt19937_64 rng_;
};

}  // namespace lm::chat
