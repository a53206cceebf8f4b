// `localmax chat`: a terminal chat with a model, using the model's own chat template.
//
// The history is kept as OpenAI messages; each turn renders the whole conversation and
// engine::ChatSession feeds only the tokens not already in the KV cache. Replies are parsed
// (reasoning, tool calls) as they stream. From a pipe (stdin not a terminal) it reads one user
// line per turn and prints each reply on its own, without colors or prompts: that is how the
// end-to-end test drives it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <random>

#include "chat/chat_template.h"
#include "chat/tool_calls.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "engine/chat_session.h"

namespace lm::cli {

namespace {

// Used when the model carries no tokenizer.chat_template.
constexpr const char* kChatMlTemplate =
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

constexpr const char* kHelp =
    "commands:\n"
    "  /help          this list\n"
    "  /clear         forget the conversation (keeps the system prompt)\n"
    "  /system TEXT   set the system prompt (empty TEXT removes it)\n"
    "  /save FILE     write the conversation as JSON (OpenAI messages)\n"
    "  /load FILE     read a conversation written by /save\n"
    "  /exit          quit (also Ctrl-D; Ctrl-C stops a reply, or quits at the prompt)\n";

constexpr const char* kDim = "\x1b[2m";
constexpr const char* kCyan = "\x1b[36m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kReset = "\x1b[0m";

// Ctrl-C: the first stops the reply (the generate callback sees it), a second one before the
// reply has stopped quits at once. At the prompt it interrupts read() (no SA_RESTART).
std::atomic<int> g_sigint{0};

void on_sigint(int) {
  if (g_sigint.fetch_add(1) >= 1) {
    static const char kMsg[] = "\x1b[0m\n";
    (void)!::write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    ::_exit(130);
  }
}

void install_sigint() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

enum class ReadStatus { kLine, kEof, kInterrupted };

// Reads stdin line by line with read(2), so a Ctrl-C at the prompt is seen (EINTR).
class LineReader {
 public:
  ReadStatus next(std::string* line) {
    while (true) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos || (eof_ && !buf_.empty())) {
        size_t n = nl == std::string::npos ? buf_.size() : nl;
        *line = buf_.substr(0, n);
        buf_.erase(0, nl == std::string::npos ? n : n + 1);
        if (!line->empty() && line->back() == '\r') line->pop_back();
        return ReadStatus::kLine;
      }
      if (eof_) return ReadStatus::kEof;
      char tmp[4096];
      ssize_t n = ::read(STDIN_FILENO, tmp, sizeof(tmp));
      if (n < 0 && errno == EINTR) {
        if (g_sigint.load() > 0) return ReadStatus::kInterrupted;
        continue;
      }
      if (n <= 0) eof_ = true;
      else buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

// Cuts the reply at the first stop string (the fallback template's end markers, which the
// model's vocabulary may not have as tokens); holds back text that may begin one.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  std::string push(std::string_view t) {
    if (hit_) return "";
    held_.append(t);
    size_t first = std::string::npos;
    for (const auto& s : stops_) first = std::min(first, held_.find(s));
    if (first != std::string::npos) {
      hit_ = true;
      std::string out = held_.substr(0, first);
      held_.clear();
      return out;
    }
    size_t keep = 0;
    for (const auto& s : stops_) {
      for (size_t k = std::min(held_.size(), s.size() - 1); k > keep; --k) {
        if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
  }
  std::string flush() { return std::exchange(held_, std::string()); }
  bool hit() const { return hit_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool hit_ = false;
};

// Writes parsed deltas to stdout: content as is, reasoning dimmed (only with --show-reasoning),
// tool calls on their own line.
class ReplyPrinter {
 public:
  ReplyPrinter(bool color, bool show_reasoning) : color_(color), show_reasoning_(show_reasoning) {}

  void print(const chat::OutputDelta& d) {
    if (!d.reasoning_content.empty() && show_reasoning_) {
      if (!in_reasoning_) std::fputs(color_ ? kDim : "[reasoning] ", stdout);
      in_reasoning_ = true;
      write(d.reasoning_content);
    }
    if (!d.content.empty()) {
      end_reasoning();
      write(d.content);
    }
    if (d.tool_index >= 0) {
      end_reasoning();
      if (at_line_start_ == false) std::fputc('\n', stdout);
      std::fprintf(stdout, "%s[tool call %s] %s %s%s\n", color_ ? kCyan : "", d.tool_id.c_str(),
                   d.tool_name.c_str(), d.tool_arguments.c_str(), color_ ? kReset : "");
      at_line_start_ = true;
    }
    std::fflush(stdout);
  }
  void end_reasoning() {
    if (!in_reasoning_) return;
    if (color_) std::fputs(kReset, stdout);
    std::fputc('\n', stdout);
    in_reasoning_ = false;
    at_line_start_ = true;
  }
  void end_reply() {
    end_reasoning();
    if (!at_line_start_) std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    at_line_start_ = s.back() == '\n';
  }
  bool color_, show_reasoning_;
  bool in_reasoning_ = false;
  bool at_line_start_ = true;
};

struct ChatOptions {
  engine::GenerateRequest req;
  bool show_reasoning = false, stats = false, print_prompt = false;
  bool interactive = false, color = false;
};

class ChatRepl {
 public:
  ChatRepl(engine::Session& session, chat::ChatTemplate tmpl, std::vector<std::string> stops,
           ChatOptions opt)
      : session_(session), chat_(session), tmpl_(std::move(tmpl)), stops_(std::move(stops)),
        opt_(std::move(opt)), format_(chat::detect_output_format(tmpl_.source())) {}

  void set_system(const std::string& text);
  int run();

 private:
  bool command(const std::string& line);  // false: exit
  void turn(const std::string& user_text);
  Status save(const std::string& path) const;
  Status load(const std::string& path);

  engine::Session& session_;
  engine::ChatSession chat_;
  chat::ChatTemplate tmpl_;
  std::vector<std::string> stops_;
  ChatOptions opt_;
  chat::OutputFormat format_;
  // The client's key order is kept (a /load-ed message's tool-call arguments reach `tojson`
  // in file order, as with transformers).
  nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();
};

void ChatRepl::set_system(const std::string& text) {
  bool has = !messages_.empty() && messages_[0].value("role", "") == "system";
  if (text.empty()) {
    if (has) messages_.erase(0);
  } else if (has) {
    messages_[0]["content"] = text;
  } else {
    messages_.insert(messages_.begin(),
                     nlohmann::ordered_json{{"role", "system"}, {"content", text}});
  }
}

int ChatRepl::run() {
  if (opt_.interactive) {
    fmt::print(stderr, "localmax chat: /help for commands, Ctrl-C stops a reply, Ctrl-D exits\n");
  }
  LineReader reader;
  std::string line;
  while (true) {
    if (opt_.interactive) {
      std::fputs(opt_.color ? "\x1b[1m> \x1b[0m" : "> ", stdout);
      std::fflush(stdout);
    }
    ReadStatus st = reader.next(&line);
    if (st != ReadStatus::kLine) {
      if (opt_.interactive) std::fputc('\n', stdout);
      return st == ReadStatus::kInterrupted ? 130 : 0;
    }
    if (line.empty()) continue;
    if (line[0] == '/') {
      if (!command(line)) return 0;
      continue;
    }
    turn(line);
    if (g_sigint.exchange(0) > 0) fmt::print(stderr, "[interrupted: the partial reply is kept]\n");
  }
}

bool ChatRepl::command(const std::string& line) {
  size_t sp = line.find(' ');
  std::string cmd = line.substr(0, sp);
  std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
  auto report = [](const Status& s, const std::string& done) {
    if (s.ok()) fmt::print(stderr, "{}\n", done);
    else fmt::print(stderr, "error: {}\n", s.error().message());
  };
  if (cmd == "/exit" || cmd == "/quit") return false;
  if (cmd == "/help") {
    fmt::print(stderr, "{}", kHelp);
  } else if (cmd == "/clear") {
    bool has_system = !messages_.empty() && messages_[0].value("role", "") == "system";
    nlohmann::ordered_json keep = has_system ? messages_[0] : nlohmann::ordered_json();
    messages_ = nlohmann::ordered_json::array();
    if (has_system) messages_.push_back(keep);
    fmt::print(stderr, "conversation cleared\n");
  } else if (cmd == "/system") {
    set_system(arg);
    fmt::print(stderr, "{}\n", arg.empty() ? "system prompt removed" : "system prompt set");
  } else if (cmd == "/save" && !arg.empty()) {
    report(save(arg), fmt::format("saved {} messages to {}", messages_.size(), arg));
  } else if (cmd == "/load" && !arg.empty()) {
    Status s = load(arg);
    report(s, fmt::format("loaded {} messages from {}", messages_.size(), arg));
  } else {
    fmt::print(stderr, "unknown command '{}' (/help lists them)\n", line);
  }
  return true;
}

Status ChatRepl::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  if (!out) return errorf("cannot write {}", path);
  out << messages_.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  if (!out) return errorf("cannot write {}", path);
  return Ok{};
}

Status ChatRepl::load(const std::string& path) {
  LM_TRY(std::string text, read_file(path));
  auto j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return errorf("{}: not valid JSON", path);
  if (j.is_object() && j.contains("messages")) j = nlohmann::ordered_json(j["messages"]);
  if (!j.is_array()) return errorf("{}: expected an array of messages", path);
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return errorf("{}: message {} has no string \"role\"", path, i);
    }
    if (m.contains("content") && !m["content"].is_string() && !m["content"].is_null()) {
      return errorf("{}: message {}: \"content\" must be a string", path, i);
    }
  }
  messages_ = std::move(j);
  return Ok{};
}

void ChatRepl::turn(const std::string& user_text) {
  messages_.push_back({{"role", "user"}, {"content", user_text}});
  auto prompt = tmpl_.render_ordered(messages_, nullptr, /*add_generation_prompt=*/true);
  if (!prompt.ok()) {
    fmt::print(stderr, "error: rendering the chat template: {}\n", prompt.error().message());
    messages_.erase(messages_.size() - 1);
    return;
  }
  // Templates that write bos_token themselves would double the BOS the tokenizer adds.
  const auto& tok = session_.tokenizer();
  std::string bos_text = tok.bos() >= 0 ? std::string(tok.token_text(tok.bos())) : "";
  if (tok.add_bos() && !bos_text.empty() && prompt->starts_with(bos_text)) prompt->erase(0, bos_text.size());
  if (opt_.print_prompt) fmt::print(stderr, "[prompt]\n{}\n[/prompt]\n", *prompt);

  chat::OutputFormat fmt = format_;
  if (fmt.think) fmt.starts_in_think = chat::prompt_opens_think(*prompt);
  chat::OutputParser parser(fmt);
  StopFilter stop(stops_);
  ReplyPrinter printer(opt_.color, opt_.show_reasoning);
  auto show = [&](const std::vector<chat::OutputDelta>& deltas) {
    for (const auto& d : deltas) printer.print(d);
  };
  engine::GenerateRequest req = opt_.req;
  req.prompt = std::move(*prompt);
  auto res = chat_.generate(req, [&](std::string_view text) {
    if (g_sigint.load() > 0) return false;
    show(parser.feed(stop.push(text)));
    return !stop.hit();
  });
  show(parser.feed(stop.flush()));
  show(parser.finish());
  printer.end_reply();
  if (!res.ok()) {
    fmt::print(stderr, "error: {}\n", res.error().message());
    messages_.erase(messages_.size() - 1);
    return;
  }
  nlohmann::ordered_json reply = parser.message().to_json();
  reply["content"] = parser.message().content;  // a string, even next to tool calls: templates test it
  messages_.push_back(std::move(reply));
  if (opt_.stats) {
    const auto& g = res->gen;
    auto stop_name = stop.hit() ? std::string_view("stop string") : engine::stop_reason_name(g.stop);
    fmt::print(stderr,
               "[localmax] prompt {} tokens ({} reused) in {:.3f} s, reply {} tokens in {:.3f} s "
               "({:.1f} tok/s), stop: {}\n",
               g.n_prompt_tokens, res->n_reused, g.prompt_seconds, g.n_generated, g.generate_seconds,
               g.generate_seconds > 0 ? g.n_generated / g.generate_seconds : 0.0, stop_name);
  }
}

// The model's template, or ChatML (with its end markers as stop strings) when it has none.
Result<chat::ChatTemplate> load_template(engine::Session& s, const std::string& override_path,
                                         std::vector<std::string>* stops) {
  const auto& tok = s.tokenizer();
  chat::TemplateSource src;
  src.bos_token = tok.bos() >= 0 ? std::string(tok.token_text(tok.bos())) : "";
  src.eos_token = tok.eos() >= 0 ? std::string(tok.token_text(tok.eos())) : "";
  if (!override_path.empty()) {
    LM_TRY(src.text, read_file(override_path));
  } else if (const gguf::Value* v = s.model().file().find("tokenizer.chat_template");
             v && v->type() == gguf::ValueType::STRING) {
    src.text = std::string(v->as_string());
  } else {
    fmt::print(stderr, "note: the model has no chat template (tokenizer.chat_template); using ChatML\n");
    src.text = kChatMlTemplate;
    *stops = {"<|im_end|>", "<|im_start|>"};
  }
  auto t = chat::ChatTemplate::parse(src);
  if (!t.ok()) return std::move(t).error().wrap("parsing the chat template");
  return t;
}

}  // namespace

int cmd_chat(const Args& args) {
  CLI::App app{"Chat with a model in the terminal (or line by line from a pipe).", "localmax chat"};
  engine::SessionOptions so;
  ChatOptions opt;
  std::string system, template_file;
  int64_t seed = -1;
  bool verbose = false, no_color = false;
  auto& req = opt.req;
  auto& sp = req.sampling;
  req.n_predict = -1;
  app.add_option("-m,--model", so.model_path, "GGUF model (default: the demo model in models/)");
  app.add_option("--system", system, "system prompt");
  app.add_option("--chat-template-file", template_file, "use this Jinja chat template instead of the model's");
  app.add_flag("--show-reasoning", opt.show_reasoning, "show the model's reasoning (<think> blocks), dimmed");
  app.add_flag("--stats", opt.stats, "print token counts and speed after each reply (stderr)");
  app.add_flag("--print-prompt", opt.print_prompt, "print each rendered prompt (stderr)");
  app.add_flag("--no-color", no_color, "no terminal colors");
  app.add_option("-n,--n-predict", req.n_predict, "max tokens per reply (-1: until end of turn)")->capture_default_str();
  add_sampling_flags(app, sp);
  app.add_option("-s,--seed", seed, "random seed (default: random)");
  app.add_option("-t,--threads", so.n_threads, "threads (default: all cores)");
  add_perf_flags(app, so);
  app.add_option("-c,--ctx-size", so.n_ctx, "context size (default: the model's)");
  app.add_option("-b,--batch-size", req.n_batch, "prompt tokens per forward pass")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "log loading details");
  if (auto rc = parse_args(app, args)) return *rc;
  log::set_level(verbose ? log::Level::kDebug : log::Level::kWarn);
  if (so.model_path.empty()) {
    so.model_path = demo_model_path();
    if (so.model_path.empty()) return fail(Error("no -m MODEL given and the demo model (models/demo.gguf) was not found"));
  }
  if (seed < 0) seed = static_cast<int64_t>(std::random_device{}() & 0x7fffffff);
  sp.seed = static_cast<uint64_t>(seed);
  if (auto v = sampling::validate(sp); !v.ok()) return fail(v.error());

  auto session = engine::Session::open(so);
  if (!session.ok()) return fail(session.error());
  std::vector<std::string> stops;
  auto tmpl = load_template(**session, template_file, &stops);
  if (!tmpl.ok()) return fail(tmpl.error());
  opt.interactive = ::isatty(STDIN_FILENO) != 0;
  opt.color = opt.interactive && ::isatty(STDOUT_FILENO) != 0 && !no_color;
  install_sigint();
  ChatRepl repl(**session, std::move(*tmpl), std::move(stops), std::move(opt));
  repl.set_system(system);
  return repl.run();
}

}  // namespace lm::cli

