// Detectors: positives and hard negatives per kind, checksums, overlap resolution, config errors,
// and linear time on adversarial input.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "detect/detect.h"
#include "detect/scanners.h"

namespace lm::detect {
namespace {

const Detector& all() {
  static Detector d = std::move(Detector::create(DetectorConfig{}).value());
  return d;
}

// The (kind, matched text) pairs found in text.
std::vector<std::pair<Kind, std::string>> found(std::string_view text, const Detector& d = all()) {
  std::vector<std::pair<Kind, std::string>> out;
  for (const Span& s : d.scan(text)) out.emplace_back(s.kind, std::string(text.substr(s.begin, s.end - s.begin)));
  return out;
}

void expect_one(Kind kind, std::string_view value, std::string_view sentence_fmt = "text {} text") {
  std::string text(sentence_fmt);
  text.replace(text.find("{}"), 2, value);
  auto f = found(text);
  ASSERT_EQ(f.size(), 1u) << text;
  EXPECT_EQ(f[0].first, kind) << text << " -> " << kind_name(f[0].first);
  EXPECT_EQ(f[0].second, value) << text;
}

void expect_none(std::string_view text) {
  auto f = found(text);
  EXPECT_TRUE(f.empty()) << text << " -> " << kind_name(f[0].first) << " '" << f[0].second << "'";
}

TEST(Checksums, Luhn) {
  EXPECT_TRUE(scan::luhn_ok("4111111111111111"));
  EXPECT_FALSE(scan::luhn_ok("4111111111111112"));
  EXPECT_TRUE(scan::luhn_ok("378282246310005"));
}

TEST(Checksums, Iban) {
  EXPECT_TRUE(scan::iban_ok("DE89370400440532013000"));
  EXPECT_TRUE(scan::iban_ok("GB82WEST12345698765432"));
  EXPECT_FALSE(scan::iban_ok("DE89370400440532013001"));
  EXPECT_FALSE(scan::iban_ok("GB82WEST1234569876543"));
}

TEST(Email, FindsAddresses) {
  expect_one(Kind::EMAIL, "jane.doe+tag@example.co.uk", "mail {}.");
  expect_one(Kind::EMAIL, "Hector_Mohr62@yahoo.com", "<{}>");
  expect_none("@Override public void f() {}  a@b  x@localhost  user@host.c1");
}

TEST(Phone, E164AndNational) {
  expect_one(Kind::PHONE, "+19802180495", "call {} now");
  expect_one(Kind::PHONE, "+49-807-9727149");
  expect_one(Kind::PHONE, "(264) 611-8936", "Phone: {}");
  expect_one(Kind::PHONE, "1-703-301-3354", "{} x628");
  expect_one(Kind::PHONE, "04 46 28 06 45");
  expect_one(Kind::PHONE, "+55 (70) 3101-3354");
  expect_one(Kind::PHONE, "0670310133", "mon numéro: {}");
}

TEST(Phone, NotDatesVersionsOrIds) {
  expect_none("on 2024-01-15 10:30 and 15.01.2024, v1.2.3, build 10.0.19041.1234");
  expect_none("order #12345678, ORD-2024-004512, ISBN 978-3-16-148410-0, 1 200 000 units");
  expect_none("x = 3.14159265 * 2; y = 123456789; total 12,345,678.90");
}

TEST(Card, LuhnAndNetworks) {
  expect_one(Kind::CARD, "4111 1111 1111 1111", "card {} exp 12/27");
  expect_one(Kind::CARD, "6011-5443-2622-6512");
  expect_one(Kind::CARD, "3721-014607-11787");
  expect_one(Kind::CARD, "5109522715982460");
  expect_none("card 4111 1111 1111 1112 and 1234567890123456");
}

TEST(Iban, WithAndWithoutSpaces) {
  expect_one(Kind::IBAN, "DE89 3704 0044 0532 0130 00", "IBAN: {}.");
  expect_one(Kind::IBAN, "GB82WEST12345698765432");
  expect_none("DE89 3704 0044 0532 0130 01 and XX89370400440532013000");
}

TEST(NationalIds, SsnRules) {
  expect_one(Kind::SSN, "123-45-6789");
  expect_one(Kind::SSN, "536 22 8842");
  expect_one(Kind::SSN, "536228842", "SSN: {}");
  expect_none("000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000 ref 536228842");
}

TEST(NationalIds, Nino) {
  expect_one(Kind::NINO, "AB 12 34 56 C");
  expect_one(Kind::NINO, "AB123456D");
  expect_none("GB123456A DA123456A QQ123456C AB123456E");
}

TEST(Ip, V4AndV6) {
  expect_one(Kind::IP, "192.168.1.10", "host {}.");
  expect_one(Kind::IP, "2001:db8::8a2e:370:7334");
  expect_one(Kind::IP, "fe80::1");
  expect_one(Kind::IP, "5c0e:8a97:cf26:0ae4:9ee3:db2d:abb4:ed75");
  expect_none("256.1.1.1 1.2.3 v1.2.3.4 12:30:45 std::vector a::b 00:1A:2B:3C:4D:5E 1.2.3.4.5");
}

TEST(Secrets, KnownPrefixes) {
  expect_one(Kind::SECRET, "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f");
  expect_one(Kind::SECRET, "sk-ant-api03-Xy7Zz9Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc3Vb5Nm7Qq9Ww1Ee3Rr5Tt7Yy");
  expect_one(Kind::SECRET, "AKIAIOSFODNN7EXAMPLE");
  expect_one(Kind::SECRET, "ghp_abcdefghijklmnopqrstuvwxyz0123456789");
  expect_one(Kind::SECRET, "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx");
  expect_one(Kind::SECRET, "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
  expect_one(Kind::SECRET, "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY");
  expect_one(Kind::SECRET, "glpat-xK3mP9qR2sT5vW8yZ1bC");
  expect_one(Kind::SECRET,
             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U");
  expect_none("task-1234 disk-usage sk-learn ghp_short AKIA1234 the skill-tree eyJ.x.y");
}

TEST(Secrets, AwsPairAndAssignments) {
  std::string text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
  auto f = found(text);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].second, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  expect_one(Kind::SECRET, "Tr0ub4dor&3xQ", "password=\"{}\"");
  expect_one(Kind::SECRET, "a8Fk2LmQ9zXw", "api_key: {}");
  expect_none("password = get_password(user); token = tokens[i]; password: ********; secret=${SECRET}");
  expect_none("const passwordHint = 'your name'; api_key = config.api_key");
}

TEST(PrivateKey, Blocks) {
  std::string key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq\nAbCd==\n-----END RSA PRIVATE KEY-----";
  expect_one(Kind::PRIVATE_KEY, key, "here:\n{}\nthanks");
  expect_one(Kind::PRIVATE_KEY, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA", "{}");
  expect_none("-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----");
}

TEST(Overlaps, MostSpecificKindWins) {
  // An SSN is also phone-shaped; a card inside a longer secret assignment is the secret.
  auto f = found("ssn 123-45-6789");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, Kind::SSN);
  std::string text = "a@b.com 4111 1111 1111 1111 10.0.0.1";
  auto spans = all().scan(text);
  ASSERT_EQ(spans.size(), 3u);
  for (size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].end, spans[i].begin);
}

TEST(Config, JsonKindsPatternsKeywords) {
  auto cfg = DetectorConfig::from_json(R"({"kinds": ["email", "custom", "keyword"],
      "patterns": [{"name": "employee", "regex": "EMP-\\d{6}"}],
      "keywords": [{"name": "projects", "words": ["Project Falcon", "bluebird"]}]})");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  auto det = Detector::create(*cfg);
  ASSERT_TRUE(det.ok());
  std::string text = "EMP-123456 asks about project falcon and Bluebirds, not bluebird's 4111 1111 1111 1111";
  auto spans = det->scan(text);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].kind, Kind::CUSTOM);
  EXPECT_EQ(spans[0].label, "employee");
  EXPECT_EQ(text.substr(spans[1].begin, spans[1].end - spans[1].begin), "project falcon");
  EXPECT_EQ(text.substr(spans[2].begin, spans[2].end - spans[2].begin), "bluebird");
}

TEST(Config, Errors) {
  auto bad = DetectorConfig::from_json(R"({"patterns": [{"name": "broken", "regex": "a(b"}]})");
  ASSERT_TRUE(bad.ok());
  auto det = Detector::create(*bad);
  ASSERT_FALSE(det.ok());
  EXPECT_NE(det.error().message().find("custom pattern 'broken': PCRE2 error at offset 3"), std::string::npos)
      << det.error().message();
  auto unknown = DetectorConfig::from_json(R"({"kinds": ["emails"]})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("unknown kind 'emails'"), std::string::npos);
  EXPECT_FALSE(DetectorConfig::from_json("[1]").ok());
  EXPECT_FALSE(DetectorConfig::from_json(R"({"colour": 1})").ok());
  auto off = DetectorConfig::from_json(R"({"disable": ["ip"]})");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->is_enabled(Kind::IP));
  EXPECT_TRUE(off->is_enabled(Kind::EMAIL));
}

TEST(Config, RegexMatchLimitIsCounted) {
  auto cfg = DetectorConfig::from_json(R"({"kinds": ["custom"], "match_limit": 1000,
      "patterns": [{"name": "evil", "regex": "(a+)+$"}]})");
  ASSERT_TRUE(cfg.ok());
  auto det = Detector::create(*cfg);
  ASSERT_TRUE(det.ok());
  ScanStats stats;
  (void)det->scan(std::string(5000, 'a') + "!", &stats);
  EXPECT_EQ(stats.regex_limit_hits, 1);
}

// Hostile inputs of 1 MB: every scanner returns well-formed spans (sorted, inside the text, not
// overlapping). Their speed is measured in bench/bench_detect (BM_detect_hostile_1mb), not here.
TEST(Hostile, MegabyteInputsGiveWellFormedSpans) {
  const std::vector<std::string> units = {
      "a@", "1-", "1 ", "+1 ", "4111 ", "DE89 ", "sk-", "-----BEGIN RSA PRIVATE KEY-----\n\n", "eyJ.",
      "password=", "tokentoken", "::", "1.", "a:", "[EMAIL_", "AKIA", "(((", "123-45-",
  };
  for (const std::string& u : units) {
    std::string text;
    while (text.size() < (1u << 20)) text += u;
    auto spans = all().scan(text);
    size_t prev_end = 0;
    for (const auto& sp : spans) {
      ASSERT_LE(prev_end, sp.begin) << "unit '" << u << "': overlapping or unsorted spans";
      ASSERT_LT(sp.begin, sp.end) << "unit '" << u << "'";
      ASSERT_LE(sp.end, text.size()) << "unit '" << u << "'";
      prev_end = sp.end;
    }
  }
}

}  // namespace
}  // namespace lm::detect
