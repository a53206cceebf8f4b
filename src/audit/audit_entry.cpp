// Audit entries <-> JSON lines, the canonical form, hashing (OpenSSL), times, key and paths.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "audit/audit_log.h"

namespace lm::audit {

using nlohmann::json;

namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json record_json(const AuditEntry& e) {
  const AuditRecord& r = e.record;
  json j = json::object();
  j["seq"] = e.seq;
  j["time"] = e.time;
  j["time_ms"] = e.time_ms;
  j["request_id"] = r.request_id;
  j["key"] = r.key;
  j["rule"] = r.rule;
  j["detectors"] = json::object();
  for (const auto& [k, n] : r.detectors) j["detectors"][k] = n;
  j["route"] = r.route;
  j["destination"] = r.destination;
  j["model"] = r.model;
  j["tokens_in"] = r.tokens_in;
  j["tokens_cached"] = r.tokens_cached;
  j["tokens_out"] = r.tokens_out;
  j["cost_usd"] = r.cost_usd;
  j["latency_ms"] = r.latency_ms;
  j["request_sha256"] = r.request_sha256;
  j["error"] = r.error;
  j["fallback"] = r.fallback;
  j["hash_alg"] = e.hash_alg;
  j["prev_hash"] = e.prev_hash;
  return j;
}

template <typename T>
Status get_field(const json& j, const char* name, T& out) {
  auto it = j.find(name);
  if (it == j.end()) return errorf("missing field \"{}\"", name);
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return errorf("field \"{}\" has the wrong type", name);
  }
  return Ok{};
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm, a fact).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

int64_t system_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string zero_hash() { return std::string(64, '0'); }

std::string format_time_ms(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int millis = static_cast<int>(ms - secs * 1000);
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];  // room for any int the compiler imagines (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

Result<int64_t> parse_time(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
  bool ok = false;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
    if (s.size() == 10) {
      ok = true;
    } else if ((s[10] == 'T' || s[10] == ' ') &&
               std::sscanf(s.c_str() + 11, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) == 3) {
      size_t p = 11 + static_cast<size_t>(n);
      if (p < s.size() && s[p] == '.') {
        size_t q = p + 1, digits = 0;
        for (; q < s.size() && std::isdigit(static_cast<unsigned char>(s[q])); ++q, ++digits)
          if (digits < 3) ms = ms * 10 + (s[q] - '0');
        for (; digits < 3 && digits > 0; ++digits) ms *= 10;
        p = q;
      }
      ok = (p == s.size()) || (p + 1 == s.size() && s[p] == 'Z');
    }
  }
  if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return errorf("bad time '{}': expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.mmm]Z (UTC)", s);
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms;
}

std::string canonical_json(const AuditEntry& e) { return dump(record_json(e)); }

std::string compute_hash(const std::string& canonical, const std::string& hmac_key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (hmac_key.empty()) {
    EVP_Digest(canonical.data(), canonical.size(), md, &len, EVP_sha256(), nullptr);
  } else {
    HMAC(EVP_sha256(), hmac_key.data(), static_cast<int>(hmac_key.size()),
         reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md, &len);
  }
  return to_hex(md, len);
}

std::string entry_line(const AuditEntry& e) {
  json j = record_json(e);
  j["hash"] = e.hash;
  return dump(j);
}

Result<AuditEntry> parse_entry(const std::string& line, std::string* canonical) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& ex) {
    return errorf("not valid JSON ({})", ex.what());
  }
  if (!j.is_object()) return Error("not a JSON object");
  AuditEntry e;
  AuditRecord& r = e.record;
  LM_TRY_STATUS(get_field(j, "seq", e.seq));
  LM_TRY_STATUS(get_field(j, "time", e.time));
  LM_TRY_STATUS(get_field(j, "time_ms", e.time_ms));
  LM_TRY_STATUS(get_field(j, "hash_alg", e.hash_alg));
  LM_TRY_STATUS(get_field(j, "prev_hash", e.prev_hash));
  LM_TRY_STATUS(get_field(j, "hash", e.hash));
  LM_TRY_STATUS(get_field(j, "request_id", r.request_id));
  LM_TRY_STATUS(get_field(j, "key", r.key));
  LM_TRY_STATUS(get_field(j, "rule", r.rule));
  LM_TRY_STATUS(get_field(j, "detectors", r.detectors));
  LM_TRY_STATUS(get_field(j, "route", r.route));
  LM_TRY_STATUS(get_field(j, "destination", r.destination));
  LM_TRY_STATUS(get_field(j, "model", r.model));
  LM_TRY_STATUS(get_field(j, "tokens_in", r.tokens_in));
  LM_TRY_STATUS(get_field(j, "tokens_cached", r.tokens_cached));
  LM_TRY_STATUS(get_field(j, "tokens_out", r.tokens_out));
  LM_TRY_STATUS(get_field(j, "cost_usd", r.cost_usd));
  LM_TRY_STATUS(get_field(j, "latency_ms", r.latency_ms));
  LM_TRY_STATUS(get_field(j, "request_sha256", r.request_sha256));
  LM_TRY_STATUS(get_field(j, "error", r.error));
  LM_TRY_STATUS(get_field(j, "fallback", r.fallback));
  // Every member must be one we know: an added member would otherwise escape the hash.
  static const size_t kMembers = 21;
  if (j.size() != kMembers) return errorf("has {} members, expected {}", j.size(), kMembers);
  if (canonical) {
    j.erase("hash");
    *canonical = dump(j);
  }
  return e;
}

Result<AuditRecord> parse_record(const std::string& json_text) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& ex) {
    return errorf("audit record: not valid JSON ({})", ex.what());
  }
  if (!j.is_object()) return Error("audit record: expected a JSON object");
  // Start from an entry with every member, overlay the given ones, and parse that.
  AuditEntry blank;
  blank.hash_alg = "sha256";
  blank.prev_hash = zero_hash();
  json full = record_json(blank);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!full.contains(it.key()) || it.key() == "seq" || it.key() == "time" || it.key() == "time_ms" ||
        it.key() == "hash_alg" || it.key() == "prev_hash")
      return errorf("audit record: unknown or chain-owned member \"{}\"", it.key());
    full[it.key()] = it.value();
  }
  full["hash"] = "";
  auto e = parse_entry(dump(full));
  if (!e.ok()) return std::move(e).error().wrap("audit record");
  return e->record;
}

Result<std::string> load_hmac_key(const std::string& key_file) {
  std::string key;
  if (!key_file.empty()) {
    std::ifstream in(key_file, std::ios::binary);
    if (!in) return errorf("cannot open HMAC key file {}: {}", key_file, std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    key = ss.str();
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (key.empty()) return errorf("HMAC key file {} is empty", key_file);
  } else if (const char* k = std::getenv("LOCALMAX_AUDIT_KEY"); k && *k) {
    key = k;
  }
  return key;
}

Result<std::string> default_log_path() {
  if (const char* p = std::getenv("LOCALMAX_AUDIT_LOG"); p && *p) return std::string(p);
  if (const char* h = std::getenv("LOCALMAX_HOME"); h && *h) return std::string(h) + "/audit/audit.jsonl";
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    return std::string(x) + "/localmax/audit/audit.jsonl";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.local/share/localmax/audit/audit.jsonl";
  return Error("cannot locate the audit log: pass --log or set LOCALMAX_AUDIT_LOG (or HOME)");
}

std::string anchor_path(const std::string& log_path) { return log_path + ".head"; }

}  // namespace lm::audit
