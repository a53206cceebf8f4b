// verify_log: checks every entry's hash, the seq order, the prev_hash links and the head anchor;
// read_entries / matches: what `audit show` and the cost ledger read.
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "audit/audit_log.h"

namespace lm::audit {

namespace {

struct Line {
  int64_t number = 0;  // 1-based
  std::string text;
};

struct SplitFile {
  std::vector<Line> lines;  // complete lines
  std::optional<Line> torn; // bytes after the last '\n'
};

Result<SplitFile> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open audit log {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return errorf("cannot read audit log {}", path);
  std::string data = ss.str();
  SplitFile f;
  size_t pos = 0;
  int64_t n = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) {
      f.torn = Line{++n, data.substr(pos)};
      break;
    }
    f.lines.push_back({++n, data.substr(pos, nl - pos)});
    pos = nl + 1;
  }
  return f;
}

struct Anchor {
  int64_t seq = 0;
  std::string hash, mac;
};

// Missing anchor: nullopt. Unreadable anchor: Error.
Result<std::optional<Anchor>> read_anchor(const std::string& log_path) {
  std::string p = anchor_path(log_path);
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::optional<Anchor>{};
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(ss.str());
    Anchor a;
    a.seq = j.at("seq").get<int64_t>();
    a.hash = j.at("hash").get<std::string>();
    if (j.contains("mac")) a.mac = j["mac"].get<std::string>();
    return std::optional<Anchor>(a);
  } catch (const nlohmann::json::exception& e) {
    return errorf("head anchor {} is unreadable ({})", p, e.what());
  }
}

class Verifier {
 public:
  Verifier(const VerifyOptions& opts, VerifyReport& rep) : opts_(opts), rep_(rep) {}

  void fail(int64_t line, int64_t seq, std::string problem) {
    if (rep_.status == VerifyStatus::broken) return;  // keep the first problem
    rep_.status = VerifyStatus::broken;
    rep_.first_bad_line = line;
    rep_.first_bad_seq = seq;
    rep_.problem = std::move(problem);
  }
  bool broken() const { return rep_.status == VerifyStatus::broken; }

  void check_entries(const std::vector<Line>& lines);
  void check_anchor(const std::string& path, const std::vector<AuditEntry>& entries);

  std::vector<AuditEntry> entries;

 private:
  void check_one(const Line& l, const AuditEntry& e, const std::string& canonical,
                 const std::set<int64_t>& seqs);

  const VerifyOptions& opts_;
  VerifyReport& rep_;
  int64_t expected_seq_ = 1;
  std::string prev_hash_ = zero_hash();
  bool noted_unkeyed_ = false;
};

void Verifier::check_one(const Line& l, const AuditEntry& e, const std::string& canonical,
                         const std::set<int64_t>& seqs) {
  const int64_t L = l.number;
  if (!opts_.hmac_key.empty() && e.hash_alg != "hmac-sha256") {
    return fail(L, e.seq, fmt::format("seq {} has hash_alg \"{}\" but a key was given: the entry "
                                      "was written or rewritten without the HMAC key", e.seq, e.hash_alg));
  }
  if (e.hash_alg != "sha256" && e.hash_alg != "hmac-sha256")
    return fail(L, e.seq, fmt::format("seq {} has an unknown hash_alg \"{}\"", e.seq, e.hash_alg));
  if (e.hash_alg == "hmac-sha256" && opts_.hmac_key.empty()) {
    if (!noted_unkeyed_)
      rep_.notes.push_back("entries are HMAC-keyed and no key was given: checked order, links and "
                           "anchor, not the entry hashes (--key-file or LOCALMAX_AUDIT_KEY)");
    noted_unkeyed_ = true;
  } else if (compute_hash(canonical, opts_.hmac_key) != e.hash) {
    return fail(L, e.seq, fmt::format("seq {}: the hash does not match the content: the entry (a "
                                      "field or its hash) was edited", e.seq));
  }
  if (e.seq != expected_seq_) {
    if (e.seq > expected_seq_ && !seqs.count(expected_seq_)) {
      return fail(L, e.seq, fmt::format("seq {} follows seq {}: entr{} {} deleted (missing)", e.seq,
                                        expected_seq_ - 1, e.seq - expected_seq_ > 1 ? "ies" : "y",
                                        e.seq - expected_seq_ > 1
                                            ? fmt::format("{}..{} were", expected_seq_, e.seq - 1)
                                            : fmt::format("{} was", expected_seq_)));
    }
    return fail(L, e.seq, fmt::format("seq {} found where seq {} was expected: entries reordered{}",
                                      e.seq, expected_seq_, e.seq < expected_seq_ ? " or duplicated" : ""));
  }
  if (e.prev_hash != prev_hash_) {
    return fail(L, e.seq, fmt::format("seq {}: prev_hash does not match the hash of seq {}: an "
                                      "earlier entry was edited and re-hashed, or replaced", e.seq, e.seq - 1));
  }
  prev_hash_ = e.hash;
  ++expected_seq_;
  ++rep_.entries;
  rep_.last_seq = e.seq;
  rep_.last_hash = e.hash;
}

void Verifier::check_entries(const std::vector<Line>& lines) {
  std::vector<std::string> canon(lines.size());
  std::set<int64_t> seqs;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto e = parse_entry(lines[i].text, &canon[i]);
    if (!e.ok()) {
      return fail(lines[i].number, 0, fmt::format("line {} is not a valid entry ({}): edited or "
                                                  "corrupted", lines[i].number, e.error().message()));
    }
    seqs.insert(e->seq);
    entries.push_back(std::move(*e));
  }
  for (size_t i = 0; i < lines.size() && !broken(); ++i) check_one(lines[i], entries[i], canon[i], seqs);
}

void Verifier::check_anchor(const std::string& path, const std::vector<AuditEntry>& all) {
  auto anchor = read_anchor(path);
  if (!anchor.ok()) return fail(0, 0, anchor.error().message());
  if (!*anchor) {
    if (opts_.require_anchor && !all.empty())
      fail(0, 0, fmt::format("head anchor {} is missing: a deleted tail cannot be ruled out",
                             anchor_path(path)));
    return;
  }
  const Anchor& a = **anchor;
  if (!opts_.hmac_key.empty()) {
    std::string mac = compute_hash(fmt::format("localmax-audit-anchor\n{}\n{}", a.seq, a.hash), opts_.hmac_key);
    if (mac != a.mac) return fail(0, a.seq, "head anchor mac does not match: the anchor was forged or edited");
  }
  int64_t last = all.empty() ? 0 : all.back().seq;
  if (a.seq > last) {
    return fail(0, last + 1, fmt::format("the log ends at seq {} but the head anchor records seq {}: "
                                         "entries {}..{} were deleted from the tail", last, a.seq,
                                         last + 1, a.seq));
  }
  if (a.seq < 1) return fail(0, 0, fmt::format("head anchor has a bad seq {}", a.seq));
  const AuditEntry& at = all[static_cast<size_t>(a.seq - 1)];
  if (at.hash != a.hash) {
    return fail(0, a.seq, fmt::format("anchor mismatch: the head anchor's hash for seq {} differs from "
                                      "the log's (entry seq {} replaced)", a.seq, a.seq));
  }
  if (a.seq < last) {
    rep_.notes.push_back(fmt::format("head anchor at seq {} is behind the last entry (seq {}): an "
                                     "append was interrupted before the anchor update", a.seq, last));
  }
}

}  // namespace

std::string VerifyReport::summary() const {
  switch (status) {
    case VerifyStatus::intact:
      return fmt::format("OK: {} entries (seq 1..{}), hash chain and head anchor intact, last hash {}",
                         entries, last_seq, last_hash.substr(0, 16));
    case VerifyStatus::torn_tail:
      return fmt::format("TORN TAIL: {} entries intact (seq 1..{}); {}", entries, last_seq, problem);
    case VerifyStatus::broken:
      break;
  }
  std::string where = first_bad_line > 0 ? fmt::format(" at line {}", first_bad_line) : "";
  if (first_bad_seq > 0) where += fmt::format(" (seq {})", first_bad_seq);
  return fmt::format("TAMPERED{}: {}", where, problem);
}

Result<VerifyReport> verify_log(const std::string& path, const VerifyOptions& opts) {
  LM_TRY(SplitFile f, read_lines(path));
  VerifyReport rep;
  Verifier v(opts, rep);
  v.check_entries(f.lines);
  if (!v.broken()) v.check_anchor(path, v.entries);
  if (f.torn) {
    std::string what = fmt::format("the last line (line {}, {} bytes, no newline) is incomplete: an "
                                   "interrupted write, not an edit (the next append moves it to {}.torn)",
                                   f.torn->number, f.torn->text.size(), path);
    if (v.broken()) {
      rep.notes.push_back(what);
    } else {
      rep.status = VerifyStatus::torn_tail;
      rep.first_bad_line = f.torn->number;
      rep.problem = what;
    }
  }
  return rep;
}

Result<std::vector<AuditEntry>> read_entries(const std::string& path) {
  LM_TRY(SplitFile f, read_lines(path));
  std::vector<AuditEntry> out;
  out.reserve(f.lines.size());
  for (const auto& l : f.lines) {
    auto e = parse_entry(l.text);
    if (!e.ok()) return std::move(e).error().wrap(fmt::format("{} line {}", path, l.number));
    out.push_back(std::move(*e));
  }
  return out;
}

bool matches(const AuditEntry& e, const AuditFilter& f) {
  const AuditRecord& r = e.record;
  if (f.since_ms && e.time_ms < *f.since_ms) return false;
  if (f.until_ms && e.time_ms >= *f.until_ms) return false;
  if (!f.route.empty() && r.route != f.route) return false;
  if (!f.rule.empty() && r.rule != f.rule) return false;
  if (!f.model.empty() && r.model != f.model) return false;
  if (!f.destination.empty() && r.destination != f.destination) return false;
  if (!f.key.empty() && r.key != f.key) return false;
  if (!f.detector.empty()) {
    auto it = r.detectors.find(f.detector);
    if (it == r.detectors.end() || it->second <= 0) return false;
  }
  return true;
}

}  // namespace lm::audit
