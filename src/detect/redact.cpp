// Placeholder redaction and restoration (see redact.h).
#include "detect/redact.h"

#include <fmt/format.h>

#include "core/check.h"
#include "detect/scanners.h"

namespace lm::detect {
namespace {

std::string upper_kind(Kind k) {
  std::string s = kind_name(k);
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return s;
}

bool inner_char(char c) { return scan::is_upper(c) || scan::is_digit(c) || c == '_'; }

}  // namespace

std::string Redactor::redact(std::string_view text, const std::vector<Span>& spans) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (const Span& s : spans) {
    LM_CHECK(s.begin >= pos && s.begin <= s.end && s.end <= text.size(), "spans must be sorted, disjoint, in range");
    out.append(text.substr(pos, s.begin - pos));
    std::string_view value = text.substr(s.begin, s.end - s.begin);
    std::string key(1, static_cast<char>(s.kind));
    key.append(value);
    auto it = by_value_.find(key);
    size_t idx;
    if (it != by_value_.end()) {
      idx = it->second;
    } else {
      int k = static_cast<int>(s.kind);
      std::string inner, placeholder;
      do {  // skip numbers whose placeholder the text already contains literally
        inner = fmt::format("{}_{}", upper_kind(s.kind), ++next_[k]);
        placeholder = "[" + inner + "]";
      } while (text.find(placeholder) != std::string_view::npos);
      idx = entries_.size();
      entries_.push_back({placeholder, std::string(value), s.kind});
      by_value_.emplace(std::move(key), idx);
      by_inner_.emplace(std::move(inner), idx);
    }
    out.append(entries_[idx].placeholder);
    pos = s.end;
  }
  out.append(text.substr(pos));
  return out;
}

const std::string* Redactor::lookup(std::string_view inner) const {
  auto it = by_inner_.find(std::string(inner));
  return it == by_inner_.end() ? nullptr : &entries_[it->second].value;
}

std::string restore_placeholders(const Redactor& red, std::string_view t, bool partial, size_t* held) {
  std::string out;
  out.reserve(t.size());
  size_t pos = 0, i = 0;
  if (held) *held = t.size();
  while ((i = t.find('[', i)) != std::string_view::npos) {
    size_t j = i + 1;
    while (j < t.size() && j - i - 1 <= Redactor::kMaxInner && inner_char(t[j])) ++j;
    if (j == t.size() && partial && j - i - 1 <= Redactor::kMaxInner) {
      if (held) *held = i;  // may still become "[NAME_N]"
      out.append(t.substr(pos, i - pos));
      return out;
    }
    const std::string* v = j < t.size() && t[j] == ']' ? red.lookup(t.substr(i + 1, j - i - 1)) : nullptr;
    if (v) {
      out.append(t.substr(pos, i - pos));
      out.append(*v);
      pos = i = j + 1;
    } else {
      ++i;
    }
  }
  out.append(t.substr(pos));
  return out;
}

std::string Redactor::restore(std::string_view text) const {
  return restore_placeholders(*this, text, false, nullptr);
}

std::string StreamRestorer::feed(std::string_view chunk) {
  pending_.append(chunk);
  size_t held = 0;
  std::string out = restore_placeholders(red_, pending_, true, &held);
  pending_.erase(0, held);
  return out;
}

std::string StreamRestorer::finish() {
  std::string out = restore_placeholders(red_, pending_, false, nullptr);
  pending_.clear();
  return out;
}

}  // namespace lm::detect
