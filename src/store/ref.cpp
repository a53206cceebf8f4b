#include "store/ref.h"

#include <algorithm>
#include <cctype>

namespace lm::store {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with_gguf(std::string_view s) { return s.size() > 5 && lower(s.substr(s.size() - 5)) == ".gguf"; }

bool valid_repo_part(std::string_view s) {
  if (s.empty() || s.size() > 96 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool valid_file_path(std::string_view s) {
  if (s.empty() || s.front() == '/' || s.back() == '/') return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f;
  });
}

std::string_view strip_host(std::string_view r) {
  for (std::string_view p : {"https://", "http://"}) {
    if (r.substr(0, p.size()) == p) r.remove_prefix(p.size());
  }
  for (std::string_view h : {"hf.co/", "huggingface.co/"}) {
    if (r.substr(0, h.size()) == h) return r.substr(h.size());
  }
  return r;
}

}  // namespace

Result<PullRef> parse_pull_ref(std::string_view ref) {
  auto bad = [&](std::string_view why) {
    return errorf("bad model reference '{}': {} (expected OWNER/REPO:FILE.gguf, OWNER/REPO/FILE.gguf "
                  "or OWNER/REPO:QUANT, optionally with @REVISION)", ref, why);
  };
  PullRef out;
  std::string_view r = strip_host(ref);
  if (size_t at = r.rfind('@'); at != std::string_view::npos) {
    out.revision = std::string(r.substr(at + 1));
    r = r.substr(0, at);
    if (out.revision.empty()) return bad("empty revision after '@'");
    if (!valid_file_path(out.revision)) return bad("invalid revision");
  } else {
    out.revision = "main";
  }
  size_t slash = r.find('/');
  if (slash == std::string_view::npos) return bad("missing OWNER/");
  std::string_view owner = r.substr(0, slash);
  std::string_view rest = r.substr(slash + 1);
  size_t end = rest.find_first_of("/:");
  std::string_view name = rest.substr(0, end);
  if (!valid_repo_part(owner) || !valid_repo_part(name)) return bad("invalid OWNER/REPO");
  out.repo = std::string(owner) + "/" + std::string(name);
  if (end == std::string_view::npos) return out;  // the only .gguf of the repo
  std::string_view tail = rest.substr(end + 1);
  if (tail.empty()) return bad("empty file or quant after the repo");
  if (rest[end] == ':' && !ends_with_gguf(tail)) {
    if (!std::all_of(tail.begin(), tail.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        }))
      return bad("invalid quant tag");
    out.quant = std::string(tail);
    return out;
  }
  if (!valid_file_path(tail)) return bad("invalid file path");
  if (!ends_with_gguf(tail)) return bad("the file must be a .gguf");
  out.file = std::string(tail);
  return out;
}

std::string default_model_name(const PullRef& ref, std::string_view chosen_file) {
  std::string_view base = chosen_file;
  if (size_t s = base.rfind('/'); s != std::string_view::npos) base.remove_prefix(s + 1);
  if (ends_with_gguf(base)) base.remove_suffix(5);
  std::string_view repo = ref.repo;
  repo.remove_prefix(repo.find('/') + 1);
  std::string name = std::string(repo) + ":" + std::string(base);
  std::replace(name.begin(), name.end(), ' ', '_');
  std::replace(name.begin(), name.end(), '@', '_');
  return name;
}

Status validate_model_name(std::string_view name) {
  if (name.empty()) return Error("empty model name");
  if (name.size() > 200) return errorf("model name longer than 200 bytes");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '@')
      return errorf("model name '{}': only printable ASCII without spaces or '@'", name);
  }
  if (name.substr(0, 7) == "sha256:") return errorf("model name '{}' must not start with sha256:", name);
  return Ok{};
}

std::vector<std::string> match_quant(const std::vector<std::string>& files, std::string_view quant) {
  std::vector<std::string> out;
  std::string q = lower(quant);
  for (const auto& f : files) {
    if (!ends_with_gguf(f)) continue;
    std::string lf = lower(f);
    std::string_view base = lf;
    if (size_t s = base.rfind('/'); s != std::string_view::npos) base.remove_prefix(s + 1);
    for (size_t pos = base.find(q); pos != std::string_view::npos; pos = base.find(q, pos + 1)) {
      auto glued = [&](size_t i) { return i < base.size() && (std::isalnum(static_cast<unsigned char>(base[i])) || base[i] == '_'); };
      bool left = pos > 0 && glued(pos - 1);
      bool right = glued(pos + q.size());
      if (!left && !right) {
        out.push_back(f);
        break;
      }
    }
  }
  return out;
}

Result<ModelRef> parse_model_ref(std::string_view ref) {
  ModelRef out;
  if (ref.substr(0, 7) == "sha256:") {
    std::string hex = lower(ref.substr(7));
    if (hex.size() < 4 || hex.size() > 64 ||
        !std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return errorf("bad digest reference '{}': expected sha256: and 4 to 64 hex digits", ref);
    out.kind = ModelRef::Kind::kDigestPrefix;
    out.digest = hex;
    return out;
  }
  if (size_t at = ref.find("@sha256:"); at != std::string_view::npos) {
    std::string hex = lower(ref.substr(at + 8));
    if (hex.size() != 64 ||
        !std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return errorf("bad pinned reference '{}': expected NAME@sha256: and 64 hex digits", ref);
    out.kind = ModelRef::Kind::kPinned;
    out.name = std::string(ref.substr(0, at));
    out.digest = hex;
    LM_TRY_STATUS(validate_model_name(out.name).wrap(fmt::format("pinned reference '{}'", ref)));
    return out;
  }
  LM_TRY_STATUS(validate_model_name(ref));
  out.name = std::string(ref);
  return out;
}

std::string percent_encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '_' || c == '-' || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace lm::store
