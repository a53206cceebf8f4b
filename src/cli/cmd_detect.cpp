// `localmax detect`: print the sensitive spans the router's detectors find in a text (kind, byte
// offsets, sub-kind label; the matched text only with --show). --jsonl scans a corpus in one
// process: each input line is a JSON string, each output line {"spans": [...]} for it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "detect/detect.h"
#include "detect/redact.h"

namespace lm::cli {
namespace {

nlohmann::json spans_json(std::string_view text, const std::vector<detect::Span>& spans, bool show) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : spans) {
    nlohmann::json j = {{"kind", detect::kind_name(s.kind)}, {"label", std::string(s.label)},
                        {"begin", s.begin}, {"end", s.end}, {"confidence", s.confidence}};
    if (show) j["text"] = std::string(text.substr(s.begin, s.end - s.begin));
    arr.push_back(std::move(j));
  }
  return arr;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_jsonl(const detect::Detector& det, const std::string& input, bool show) {
  std::istringstream in(input);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_string()) return fail(errorf("--jsonl line {}: expected a JSON string", n));
    std::string text = j.get<std::string>();
    fmt::print("{}\n", dump({{"spans", spans_json(text, det.scan(text), show)}}));
  }
  return 0;
}

Result<std::string> read_input(const std::string& file) {
  if (file != "-") return read_file(file);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

}  // namespace

int cmd_detect(const Args& args) {
  CLI::App app{"Print the sensitive spans (emails, cards, secrets, ...) found in a text.", "localmax detect"};
  std::string config_path, file = "-";
  bool json = false, jsonl = false, show = false, redact = false;
  app.add_option("--config", config_path, "detector config (JSON: kinds, disable, patterns, keywords)");
  app.add_flag("--json", json, "print {\"spans\": [...]} as JSON");
  app.add_flag("--jsonl", jsonl, "each input line is a JSON string; one JSON line of spans per input line");
  app.add_flag("--show", show, "include the matched text (it is sensitive: not for logs)");
  app.add_flag("--redact", redact, "print the text with placeholders such as [EMAIL_1] instead");
  app.add_option("file", file, "input file, or - for stdin (default)");
  if (auto rc = parse_args(app, args)) return *rc;

  detect::DetectorConfig cfg;
  if (!config_path.empty()) {
    auto text = read_file(config_path);
    if (!text.ok()) return fail(text.error());
    auto c = detect::DetectorConfig::from_json(*text);
    if (!c.ok()) return fail(std::move(c).error().wrap(config_path));
    cfg = std::move(*c);
  }
  auto det = detect::Detector::create(cfg);
  if (!det.ok()) return fail(det.error());
  auto input = read_input(file);
  if (!input.ok()) return fail(input.error());
  if (jsonl) return run_jsonl(*det, *input, show);

  detect::ScanStats stats;
  std::vector<detect::Span> spans = det->scan(*input, &stats);
  if (stats.regex_limit_hits > 0) {
    fmt::print(stderr, "warning: {} custom pattern(s) hit the match limit\n", stats.regex_limit_hits);
  }
  if (redact) {
    detect::Redactor red;
    fmt::print("{}", red.redact(*input, spans));
  } else if (json) {
    fmt::print("{}\n", dump({{"spans", spans_json(*input, spans, show)}}));
  } else {
    for (const auto& s : spans) {
      fmt::print("{}\t{}\t{}\t{}", detect::kind_name(s.kind), s.begin, s.end, s.label);
      if (show) fmt::print("\t{}", std::string_view(*input).substr(s.begin, s.end - s.begin));
      fmt::print("\n");
    }
  }
  return 0;
}

}  // namespace lm::cli
