// The hash-chained audit log: the canonical form, appends, and what verify catches.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "audit/audit_log.h"
#include "test_util.h"

namespace lm::audit {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<std::string> lines_of(const std::string& p) {
  std::vector<std::string> v;
  std::istringstream in(slurp(p));
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

void write_lines(const std::string& p, const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += l + "\n";
  spit(p, s);
}

AuditRecord sample(int i) {
  AuditRecord r;
  r.request_id = "req-" + std::to_string(i);
  r.key = i % 2 ? "team-a" : "team-b";
  r.rule = i % 3 ? "default-local" : "frontier-alias";
  r.route = i % 3 ? "local" : "upstream";
  r.destination = i % 3 ? "llama-local" : "openai";
  r.model = i % 3 ? "llama-3.2-3b" : "gpt-5.5";
  if (i % 4 == 0) r.detectors = {{"email", 2}, {"iban", 1}};
  r.tokens_in = 100 + i;
  r.tokens_cached = i;
  r.tokens_out = 10 * i;
  r.cost_usd = 0.001 * i;
  r.latency_ms = 50 + i;
  r.request_sha256 = std::string(64, 'a');
  return r;
}

// A log of n entries one second apart from 2026-06-01T00:00:00Z.
std::string make_log(int n, const std::string& key = "") {
  std::string path = test::temp_path("audit.jsonl");
  int64_t t = *parse_time("2026-06-01");
  AuditLogOptions o;
  o.path = path;
  o.hmac_key = key;
  o.fsync = FsyncPolicy::never;
  o.clock = [&t] { return t += 1000; };
  auto log = AuditLog::open(o);
  EXPECT_TRUE(log.ok()) << log.error().message();
  for (int i = 1; i <= n; ++i) {
    auto e = (*log)->append(sample(i));
    EXPECT_TRUE(e.ok()) << e.error().message();
  }
  return path;
}

VerifyReport verify(const std::string& path, const std::string& key = "") {
  auto r = verify_log(path, {.hmac_key = key});
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : VerifyReport{};
}

// Replaces the first occurrence of `from` in line `i` (0-based).
void edit_line(const std::string& path, size_t i, const std::string& from, const std::string& to) {
  auto v = lines_of(path);
  auto p = v[i].find(from);
  ASSERT_NE(p, std::string::npos) << from << " not in " << v[i];
  v[i].replace(p, from.size(), to);
  write_lines(path, v);
}

TEST(AuditEntry, CanonicalFormIsSortedCompactAndHashed) {
  AuditEntry e;
  e.seq = 7;
  e.time_ms = 1780000000123;
  e.time = format_time_ms(e.time_ms);
  e.hash_alg = "sha256";
  e.prev_hash = zero_hash();
  e.record.route = "local";
  e.record.detectors = {{"phone", 1}, {"email", 3}};
  e.record.cost_usd = 0.25;
  e.record.error = "quote \" and \xc3\xa9";
  std::string c = canonical_json(e);
  std::string expect =
      "{\"cost_usd\":0.25,\"destination\":\"\",\"detectors\":{\"email\":3,\"phone\":1},"
      "\"error\":\"quote \\\" and \xc3\xa9\",\"fallback\":\"\",\"hash_alg\":\"sha256\",\"key\":\"\","
      "\"latency_ms\":0,\"model\":\"\",\"prev_hash\":\"" + zero_hash() + "\",\"request_id\":\"\","
      "\"request_sha256\":\"\",\"route\":\"local\",\"rule\":\"\",\"seq\":7,"
      "\"time\":\"2026-05-28T20:26:40.123Z\",\"time_ms\":1780000000123,\"tokens_cached\":0,"
      "\"tokens_in\":0,\"tokens_out\":0}";
  EXPECT_EQ(c, expect);
  // SHA-256("abc") and HMAC-SHA256 (RFC 4231 test case 2) pin the hash functions.
  EXPECT_EQ(compute_hash("abc", ""), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(compute_hash("what do ya want for nothing?", "Jefe"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  e.hash = compute_hash(c, "");
  std::string canon_back;
  auto back = parse_entry(entry_line(e), &canon_back);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(canon_back, c);
  EXPECT_EQ(back->record.detectors.at("email"), 3);
  EXPECT_EQ(back->record.error, e.record.error);
}

TEST(AuditEntry, TimesRoundTrip) {
  EXPECT_EQ(format_time_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(*parse_time("1970-01-02"), 86400000);
  EXPECT_EQ(*parse_time("2026-06-01T12:34:56.789Z"), *parse_time("2026-06-01") + 45296789);
  EXPECT_EQ(format_time_ms(*parse_time("2028-02-29T23:59:59.999Z")), "2028-02-29T23:59:59.999Z");
  EXPECT_FALSE(parse_time("2026-13-01").ok());
  EXPECT_FALSE(parse_time("yesterday").ok());
  EXPECT_FALSE(parse_time("2026-06-01T12:00").ok());
}

TEST(AuditEntry, ParseRecordRejectsUnknownAndChainMembers) {
  auto r = parse_record(R"({"route":"local","tokens_in":5,"detectors":{"ssn":1}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->tokens_in, 5);
  EXPECT_EQ(r->detectors.at("ssn"), 1);
  auto bad = parse_record(R"({"route":"local","text":"secret"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"text\""), std::string::npos);
  EXPECT_FALSE(parse_record(R"({"seq":3})").ok());
  auto typ = parse_record(R"({"tokens_in":"many"})");
  ASSERT_FALSE(typ.ok());
  EXPECT_NE(typ.error().message().find("tokens_in"), std::string::npos);
}

TEST(AuditLog, IntactLogVerifies) {
  std::string path = make_log(10);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::intact) << r.summary();
  EXPECT_EQ(r.entries, 10);
  EXPECT_EQ(r.last_seq, 10);
  auto entries = read_entries(path);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].prev_hash, zero_hash());
  for (size_t i = 1; i < entries->size(); ++i) EXPECT_EQ((*entries)[i].prev_hash, (*entries)[i - 1].hash);
  EXPECT_EQ((*entries)[3].record.detectors.at("email"), 2);
  // Reopening continues the chain.
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::never});
  ASSERT_TRUE(log.ok());
  auto e = (*log)->append(sample(11));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->seq, 11);
  EXPECT_EQ(e->prev_hash, (*entries)[9].hash);
  EXPECT_EQ(verify(path).status, VerifyStatus::intact);
}

TEST(AuditVerify, CatchesAnEditedField) {
  std::string path = make_log(6);
  edit_line(path, 2, "\"tokens_out\":30", "\"tokens_out\":3");
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_line, 3);
  EXPECT_EQ(r.first_bad_seq, 3);
  EXPECT_NE(r.problem.find("edited"), std::string::npos) << r.problem;
}

TEST(AuditVerify, CatchesAnEditedHash) {
  std::string path = make_log(6);
  auto e = read_entries(path);
  std::string h = (*e)[1].hash;
  std::string h2 = h;
  h2[10] = h2[10] == '0' ? '1' : '0';
  edit_line(path, 1, h, h2);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_seq, 2);
  EXPECT_NE(r.problem.find("hash does not match"), std::string::npos) << r.problem;
}

TEST(AuditVerify, CatchesAnEditedAndRehashedEntryByTheNextLink) {
  std::string path = make_log(6);
  auto v = lines_of(path);
  auto e = parse_entry(v[2]);
  e->record.route = "local";
  e->record.destination = "nowhere";
  e->hash = compute_hash(canonical_json(*e), "");
  v[2] = entry_line(*e);
  write_lines(path, v);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_seq, 4);
  EXPECT_NE(r.problem.find("prev_hash"), std::string::npos) << r.problem;
}

TEST(AuditVerify, CatchesAReorderedPair) {
  std::string path = make_log(6);
  auto v = lines_of(path);
  std::swap(v[2], v[3]);
  write_lines(path, v);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_line, 3);
  EXPECT_NE(r.problem.find("reordered"), std::string::npos) << r.problem;
}

TEST(AuditVerify, CatchesADeletedMiddleEntry) {
  std::string path = make_log(6);
  auto v = lines_of(path);
  v.erase(v.begin() + 2);
  write_lines(path, v);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_seq, 4);
  EXPECT_NE(r.problem.find("entry 3 was deleted"), std::string::npos) << r.problem;
}

TEST(AuditVerify, CatchesADeletedTailThroughTheAnchor) {
  std::string path = make_log(6);
  auto v = lines_of(path);
  v.resize(4);
  write_lines(path, v);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_NE(r.problem.find("entries 5..6 were deleted from the tail"), std::string::npos) << r.problem;
  // A writer refuses to append (and so to overwrite the anchor that proves the deletion).
  auto w = AuditLog::open({.path = path});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("refusing to append"), std::string::npos);
  // Without the anchor the same file looks whole: that is what the anchor is for.
  std::filesystem::remove(anchor_path(path));
  EXPECT_EQ(verify(path).status, VerifyStatus::broken);  // missing anchor is itself a failure
  auto lax = verify_log(path, {.require_anchor = false});
  EXPECT_EQ(lax->status, VerifyStatus::intact);
}

TEST(AuditVerify, CatchesAReplacedLastEntryThroughTheAnchor) {
  std::string path = make_log(4);
  auto v = lines_of(path);
  auto e = parse_entry(v[3]);
  e->record.cost_usd = 0;
  e->hash = compute_hash(canonical_json(*e), "");
  v[3] = entry_line(*e);
  write_lines(path, v);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_NE(r.problem.find("anchor mismatch"), std::string::npos) << r.problem;
}

TEST(AuditVerify, TornTailIsNotTampering) {
  std::string path = make_log(5);
  std::string data = slurp(path);
  std::string extra = lines_of(path)[1];
  spit(path, data + extra.substr(0, extra.size() / 2));  // a crash mid-write
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::torn_tail) << r.summary();
  EXPECT_EQ(r.entries, 5);
  EXPECT_EQ(r.first_bad_line, 6);
  EXPECT_NE(r.summary().find("TORN TAIL"), std::string::npos);
  // The next writer moves the torn bytes aside and chains onto seq 5.
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::never});
  ASSERT_TRUE(log.ok()) << log.error().message();
  EXPECT_NE((*log)->repaired_note().find("torn"), std::string::npos);
  auto e = (*log)->append(sample(6));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->seq, 6);
  EXPECT_EQ(verify(path).status, VerifyStatus::intact);
  EXPECT_EQ(slurp(path + ".torn"), extra.substr(0, extra.size() / 2) + "\n");
}

TEST(AuditVerify, AnchorBehindAfterACrashIsANoteNotTampering) {
  std::string path = make_log(3);
  std::string old_anchor = slurp(anchor_path(path));
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::never});
  ASSERT_TRUE((*log)->append(sample(4)).ok());
  spit(anchor_path(path), old_anchor);  // as if the process died before the anchor rename
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::intact) << r.summary();
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("behind"), std::string::npos);
}

TEST(AuditLog, PeriodicPolicyAnchorsAtCheckpointsAndOnClose) {
  std::string path = test::temp_path("periodic.jsonl");
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::periodic, .fsync_every = 4});
  ASSERT_TRUE(log.ok());
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE((*log)->append(sample(i)).ok());
  EXPECT_NE(slurp(anchor_path(path)).find("\"seq\":4"), std::string::npos);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::intact);
  EXPECT_EQ(r.notes.size(), 1u);  // anchor one entry behind
  ASSERT_TRUE((*log)->flush_anchor().ok());
  EXPECT_NE(slurp(anchor_path(path)).find("\"seq\":5"), std::string::npos);
  EXPECT_TRUE(verify(path).notes.empty());
}

TEST(AuditVerify, TornTailAfterADeletedTailIsTampering) {
  std::string path = make_log(5);
  auto v = lines_of(path);
  std::string s;
  for (int i = 0; i < 4; ++i) s += v[i] + "\n";
  spit(path, s + v[4].substr(0, 20));  // the last entry cut in half
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_NE(r.problem.find("deleted from the tail"), std::string::npos) << r.problem;
}

TEST(AuditVerify, HmacKeyMakesRehashingDetectable) {
  std::string path = make_log(5, "k3y");
  EXPECT_EQ(verify(path, "k3y").status, VerifyStatus::intact);
  EXPECT_EQ(verify(path, "wrong").status, VerifyStatus::broken);
  VerifyReport nokey = verify(path);
  EXPECT_EQ(nokey.status, VerifyStatus::intact);
  ASSERT_FALSE(nokey.notes.empty());
  // Someone without the key edits entry 2 and re-hashes it with each possible function.
  auto v = lines_of(path);
  auto e = parse_entry(v[1]);
  e->record.route = "refused";
  e->hash = compute_hash(canonical_json(*e), "guess");
  v[1] = entry_line(*e);
  write_lines(path, v);
  VerifyReport r = verify(path, "k3y");
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_seq, 2);
  e->hash_alg = "sha256";
  e->hash = compute_hash(canonical_json(*e), "");
  v[1] = entry_line(*e);
  write_lines(path, v);
  r = verify(path, "k3y");
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_NE(r.problem.find("without the HMAC key"), std::string::npos) << r.problem;
}

TEST(AuditVerify, ForgedKeyedAnchorIsCaught) {
  std::string path = make_log(5, "k3y");
  auto v = lines_of(path);
  auto last = parse_entry(v[3]);
  v.resize(4);
  write_lines(path, v);
  spit(anchor_path(path), "{\"hash\":\"" + last->hash + "\",\"seq\":4}\n");  // no valid mac
  VerifyReport r = verify(path, "k3y");
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_NE(r.problem.find("anchor mac"), std::string::npos) << r.problem;
}

TEST(AuditVerify, GarbageLineIsNamed) {
  std::string path = make_log(4);
  auto v = lines_of(path);
  v[1] = "{not json";
  write_lines(path, v);
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::broken);
  EXPECT_EQ(r.first_bad_line, 2);
  EXPECT_FALSE(verify_log(path + ".absent", {}).ok());
}

TEST(AuditLog, ConcurrentThreadsKeepOneChain) {
  std::string path = test::temp_path("threads.jsonl");
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::never});
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ASSERT_TRUE((*log)->append(sample(t * 100 + i)).ok());
    });
  }
  for (auto& t : ts) t.join();
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::intact) << r.summary();
  EXPECT_EQ(r.entries, 400);
}

TEST(AuditLog, TwoProcessesKeepOneChain) {
  std::string path = test::temp_path("procs.jsonl");
  { ASSERT_TRUE(AuditLog::open({.path = path}).ok()); }
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::never});
      int bad = log.ok() ? 0 : 1;
      for (int i = 0; i < 150 && !bad; ++i) bad = (*log)->append(sample(p * 1000 + i)).ok() ? 0 : 1;
      _exit(bad);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  VerifyReport r = verify(path);
  EXPECT_EQ(r.status, VerifyStatus::intact) << r.summary();
  EXPECT_EQ(r.entries, 300);
  auto e = read_entries(path);
  std::set<std::string> ids;
  for (const auto& x : *e) ids.insert(x.record.request_id);
  EXPECT_EQ(ids.size(), 300u);
}

TEST(AuditLog, WriteErrorIsAStatusAndLeavesTheChainWhole) {
  std::string path = make_log(3);
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::always});
  ASSERT_TRUE(log.ok());
  auto size = std::filesystem::file_size(path);
  // A file-size limit just above the current size: the next write fails like a full disk.
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = size + 10;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  auto e = (*log)->append(sample(4));
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("appending to audit log"), std::string::npos) << e.error().message();
  EXPECT_EQ(std::filesystem::file_size(path), size);
  EXPECT_EQ(verify(path).status, VerifyStatus::intact);
  auto again = (*log)->append(sample(4));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->seq, 4);
  EXPECT_EQ(verify(path).status, VerifyStatus::intact);
}

TEST(AuditLog, UnwritablePathIsAnError) {
  auto log = AuditLog::open({.path = "/proc/nonexistent-dir/audit.jsonl"});
  EXPECT_FALSE(log.ok());
}

TEST(AuditQuery, FiltersMatch) {
  std::string path = make_log(12);
  auto es = read_entries(path);
  ASSERT_TRUE(es.ok());
  auto count = [&](const AuditFilter& f) {
    int n = 0;
    for (const auto& e : *es) n += matches(e, f);
    return n;
  };
  EXPECT_EQ(count({}), 12);
  EXPECT_EQ(count({.route = "upstream"}), 4);   // i = 3, 6, 9, 12
  EXPECT_EQ(count({.detector = "iban"}), 3);    // i = 4, 8, 12
  EXPECT_EQ(count({.model = "gpt-5.5", .detector = "email"}), 1);  // i = 12
  EXPECT_EQ(count({.key = "team-a"}), 6);
  int64_t t0 = *parse_time("2026-06-01");
  EXPECT_EQ(count({.since_ms = t0 + 3000, .until_ms = t0 + 6000}), 3);  // seq 3, 4, 5
}

}  // namespace
}  // namespace lm::audit
