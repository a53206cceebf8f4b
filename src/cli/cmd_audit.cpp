// `localmax audit verify|show|append`: check and read the router's hash-chained audit log.
// (append is a developer command, for tests and scripts: the router appends in-process.)
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "audit/audit_log.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace lm::cli {

namespace {

Status resolve_log(std::string& log) {
  if (!log.empty()) return Ok{};
  LM_TRY(log, audit::default_log_path());
  return Ok{};
}

int audit_verify(const Args& args) {
  CLI::App app{"Check the audit log's hash chain and head anchor. Exit 0: intact; 3: only a torn last "
               "line (an interrupted write); 1: edited, reordered or deleted entries.",
               "localmax audit verify"};
  std::string log, key_file;
  bool no_anchor = false;
  app.add_option("--log", log, "audit log (default: $LOCALMAX_AUDIT_LOG or <home>/audit/audit.jsonl)");
  app.add_option("--key-file", key_file, "HMAC key file (default: $LOCALMAX_AUDIT_KEY when set)");
  app.add_flag("--no-anchor", no_anchor, "accept a missing head anchor (tail deletions go unnoticed)");
  if (auto rc = parse_args(app, args)) return *rc;
  if (auto s = resolve_log(log); !s.ok()) return fail(s.error());
  auto key = audit::load_hmac_key(key_file);
  if (!key.ok()) return fail(key.error());
  audit::VerifyOptions opts;
  opts.hmac_key = *key;
  opts.require_anchor = !no_anchor;
  auto rep = audit::verify_log(log, opts);
  if (!rep.ok()) return fail(rep.error());
  for (const auto& n : rep->notes) fmt::print(stderr, "note: {}\n", n);
  fmt::print("{}\n", rep->summary());
  switch (rep->status) {
    case audit::VerifyStatus::intact: return 0;
    case audit::VerifyStatus::torn_tail: return 3;
    case audit::VerifyStatus::broken: return 1;
  }
  return 1;
}

std::string detectors_text(const std::map<std::string, int64_t>& d) {
  std::string s;
  for (const auto& [k, n] : d) s += fmt::format("{}{}:{}", s.empty() ? "" : ",", k, n);
  return s.empty() ? "-" : s;
}

void print_table(const std::vector<const audit::AuditEntry*>& rows) {
  fmt::print("{:>6}  {:<24}  {:<8}  {:<18}  {:<16}  {:<20}  {:>15}  {:>10}  {:>7}  {}\n", "SEQ", "TIME",
             "ROUTE", "RULE", "DESTINATION", "MODEL", "IN/CACHED/OUT", "COST USD", "MS", "DETECTORS");
  for (const auto* e : rows) {
    const auto& r = e->record;
    std::string tokens = fmt::format("{}/{}/{}", r.tokens_in, r.tokens_cached, r.tokens_out);
    fmt::print("{:>6}  {:<24}  {:<8}  {:<18}  {:<16}  {:<20}  {:>15}  {:>10.6f}  {:>7}  {}{}{}\n", e->seq,
               e->time, r.route, r.rule, r.destination, r.model, tokens, r.cost_usd, r.latency_ms,
               detectors_text(r.detectors), r.error.empty() ? "" : "  error: " + r.error,
               r.fallback.empty() ? "" : "  fallback: " + r.fallback);
  }
}

int audit_show(const Args& args) {
  CLI::App app{"List audit log entries, filtered (all filters must match).", "localmax audit show"};
  std::string log, since, until;
  audit::AuditFilter f;
  bool json_out = false;
  app.add_option("--log", log, "audit log (default: $LOCALMAX_AUDIT_LOG or <home>/audit/audit.jsonl)");
  app.add_option("--since", since, "entries at or after this UTC time (YYYY-MM-DD[THH:MM:SS[.mmm]Z])");
  app.add_option("--until", until, "entries before this UTC time");
  app.add_option("--route", f.route, "local, upstream or refused");
  app.add_option("--rule", f.rule, "policy rule name");
  app.add_option("--model", f.model, "model name");
  app.add_option("--destination", f.destination, "local model or upstream name");
  app.add_option("--detector", f.detector, "entries where this detector kind fired");
  app.add_option("--key", f.key, "API key name");
  app.add_option("--limit", f.limit, "only the last N matching entries")->check(CLI::NonNegativeNumber);
  app.add_flag("--json", json_out, "a JSON array of the entries (as stored) instead of a table");
  if (auto rc = parse_args(app, args)) return *rc;
  if (auto s = resolve_log(log); !s.ok()) return fail(s.error());
  if (!since.empty()) {
    auto t = audit::parse_time(since);
    if (!t.ok()) return fail(std::move(t).error().wrap("--since"));
    f.since_ms = *t;
  }
  if (!until.empty()) {
    auto t = audit::parse_time(until);
    if (!t.ok()) return fail(std::move(t).error().wrap("--until"));
    f.until_ms = *t;
  }
  auto entries = audit::read_entries(log);
  if (!entries.ok()) return fail(entries.error());
  std::vector<const audit::AuditEntry*> rows;
  for (const auto& e : *entries)
    if (audit::matches(e, f)) rows.push_back(&e);
  if (f.limit > 0 && rows.size() > static_cast<size_t>(f.limit))
    rows.erase(rows.begin(), rows.end() - f.limit);
  if (json_out) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto* e : rows) arr.push_back(nlohmann::json::parse(audit::entry_line(*e)));
    fmt::print("{}\n", arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    print_table(rows);
  }
  return 0;
}

int audit_append(const Args& args) {
  CLI::App app{"(developer) Append one entry to an audit log, as the router does.", "localmax audit append"};
  std::string log, key_file, entry, fsync = "always";
  int64_t time_ms = -1;
  app.add_option("--log", log, "audit log");
  app.add_option("--key-file", key_file, "HMAC key file (default: $LOCALMAX_AUDIT_KEY when set)");
  app.add_option("--json", entry, "the record: a JSON object of AuditRecord members")->required();
  app.add_option("--time-ms", time_ms, "entry time in Unix milliseconds (default: now)");
  app.add_option("--fsync", fsync, "always, periodic or never")->check(CLI::IsMember({"always", "periodic", "never"}));
  if (auto rc = parse_args(app, args)) return *rc;
  if (auto s = resolve_log(log); !s.ok()) return fail(s.error());
  auto key = audit::load_hmac_key(key_file);
  if (!key.ok()) return fail(key.error());
  auto rec = audit::parse_record(entry);
  if (!rec.ok()) return fail(rec.error());
  audit::AuditLogOptions o;
  o.path = log;
  o.hmac_key = *key;
  o.fsync = fsync == "always" ? audit::FsyncPolicy::always
            : fsync == "never" ? audit::FsyncPolicy::never : audit::FsyncPolicy::periodic;
  if (time_ms >= 0) o.clock = [time_ms] { return time_ms; };
  auto opened = audit::AuditLog::open(std::move(o));
  if (!opened.ok()) return fail(opened.error());
  auto e = (*opened)->append(*rec);
  if (!e.ok()) return fail(e.error());
  fmt::print("appended seq {} hash {}\n", e->seq, e->hash);
  return 0;
}

}  // namespace

int cmd_audit(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::FILE* out = args.empty() ? stderr : stdout;
    std::fprintf(out,
                 "usage: localmax audit <verify|show> [options]\n\n"
                 "  verify   check the hash chain and head anchor; name the first bad entry\n"
                 "  show     list entries, filtered (--since --until --route --rule --model\n"
                 "           --destination --detector --key --limit --json)\n\n"
                 "`localmax audit <sub> --help` for the options.\n");
    return args.empty() ? 2 : 0;
  }
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "verify") return audit_verify(rest);
  if (args[0] == "show") return audit_show(rest);
  if (args[0] == "append") return audit_append(rest);
  std::fprintf(stderr, "localmax audit: unknown subcommand '%s' (verify, show)\n", args[0].c_str());
  return 2;
}

}  // namespace lm::cli
