// Import of Hugging Face tokenizer.json (+ tokenizer_config.json) BPE tokenizers into a Vocab.
//
// Supported shapes (what current models ship): model BPE; normalizer null / NFC / Replace(" " →
// "▁") / a Sequence of those; pre_tokenizer null / ByteLevel / Split(Regex, Isolated) / a
// Sequence of those; post_processor TemplateProcessing (BOS / EOS) or none. Anything else is an
// error naming the component, rather than a silently different tokenization.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"

namespace lm::tokenizer {
namespace {

using nlohmann::json;

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";   // U+2581 "▁"
// HF's ByteLevel pre-tokenizer regex (GPT-2's, plus a final \s+).
constexpr std::string_view kByteLevelRegex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

Result<json> load_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return errorf("'{}' is not valid JSON", path);
  return j;
}

std::string str_or(const json& j, const char* key, std::string def = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}

bool bool_or(const json& j, const char* key, bool def) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}

// Flattens a component and its "Sequence" children (key: "normalizers" / "pretokenizers").
std::vector<json> flatten(const json& j, const char* children) {
  if (j.is_null()) return {};
  if (str_or(j, "type") == "Sequence" && j.contains(children)) {
    std::vector<json> out;
    for (const json& c : j[children]) {
      auto sub = flatten(c, children);
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  return {j};
}

Status read_normalizer(const json& root, Vocab& v, bool& spaces_escaped) {
  for (const json& n : flatten(root.value("normalizer", json()), "normalizers")) {
    std::string type = str_or(n, "type");
    if (type == "NFC") {
      v.normalize_nfc = true;
    } else if (type == "Replace" && n.contains("pattern") && str_or(n["pattern"], "String") == " " &&
               str_or(n, "content") == kSpaceSymbol) {
      spaces_escaped = true;
    } else {
      return errorf("normalizer '{}' is not supported ({})", type, n.dump().substr(0, 120));
    }
  }
  return Ok{};
}

Status read_pre_tokenizer(const json& root, Vocab& v, bool spaces_escaped) {
  bool byte_level = false;
  for (const json& p : flatten(root.value("pre_tokenizer", json()), "pretokenizers")) {
    std::string type = str_or(p, "type");
    if (type == "ByteLevel") {
      byte_level = true;
      if (bool_or(p, "add_prefix_space", false)) {
        return errorf("pre_tokenizer ByteLevel with add_prefix_space is not supported");
      }
      if (bool_or(p, "use_regex", true)) v.pre_regexes.emplace_back(kByteLevelRegex);
    } else if (type == "Split" && p.contains("pattern") && p["pattern"].contains("Regex")) {
      if (str_or(p, "behavior") != "Isolated" || bool_or(p, "invert", false)) {
        return errorf("pre_tokenizer Split with behavior '{}' is not supported", str_or(p, "behavior"));
      }
      v.pre_regexes.push_back(p["pattern"]["Regex"].get<std::string>());
    } else if (type == "Split" && spaces_escaped && p.contains("pattern") &&
               str_or(p["pattern"], "String") == " ") {
      // Splitting on " " after the normalizer turned every space into "▁": a no-op.
    } else {
      return errorf("pre_tokenizer '{}' is not supported ({})", type, p.dump().substr(0, 120));
    }
  }
  if (byte_level == spaces_escaped) {
    return errorf("expected either a ByteLevel pre-tokenizer or spaces replaced by '▁'");
  }
  v.byte_level = byte_level;
  return Ok{};
}

Status read_model(const json& model, Vocab& v, std::string& unk_piece) {
  if (str_or(model, "type") != "BPE") {
    return errorf("model type '{}' is not supported (supported: BPE)", str_or(model, "type"));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) return errorf("model.vocab is missing");
  for (const auto& [piece, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX) {
      return errorf("model.vocab['{}'] is not a valid id", piece);
    }
    auto i = static_cast<size_t>(id.get<int64_t>());
    if (i >= v.pieces.size()) v.pieces.resize(i + 1);
    v.pieces[i] = piece;
  }
  if (!model.contains("merges") || !model["merges"].is_array()) return errorf("model.merges is missing");
  v.merges.reserve(model["merges"].size());
  for (const json& m : model["merges"]) {
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      v.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) return errorf("merge '{}' is not of the form 'left right'", s);
      v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else {
      return errorf("merge {} is neither 'left right' nor [left, right]", m.dump());
    }
  }
  v.ignore_merges = bool_or(model, "ignore_merges", false);
  v.fuse_unk = bool_or(model, "fuse_unk", false);
  unk_piece = str_or(model, "unk_token");
  return Ok{};
}

Status read_added_tokens(const json& root, Vocab& v) {
  if (!root.contains("added_tokens")) return Ok{};
  for (const json& t : root["added_tokens"]) {
    if (!t.contains("id") || !t["id"].is_number_integer() || !t.contains("content")) {
      return errorf("added token {} lacks id or content", t.dump().substr(0, 120));
    }
    int64_t id = t["id"].get<int64_t>();
    if (id < 0 || id >= INT32_MAX) return errorf("added token id {} is out of range", id);
    if (static_cast<size_t>(id) >= v.pieces.size()) v.pieces.resize(id + 1);
    v.pieces[id] = t["content"].get<std::string>();
    if (v.types.size() < v.pieces.size()) v.types.resize(v.pieces.size(), TokenType::kNormal);
    v.types[id] = bool_or(t, "special", false) ? TokenType::kControl : TokenType::kUserDefined;
  }
  return Ok{};
}

// The id of a special token named in tokenizer_config.json: a string or {"content": ...}.
// -2 when the key is absent, -1 when the token is not in the vocabulary (or null).
int32_t config_token(const json& cfg, const char* key,
                     const std::unordered_map<std::string, int32_t>& ids) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return -2;   // absent
  std::string s = it->is_string() ? it->get<std::string>()
                  : it->is_object() ? str_or(*it, "content") : "";
  auto f = ids.find(s);
  return f == ids.end() ? -1 : f->second;
}

void read_post_processor(const json& root, Vocab& v,
                         const std::unordered_map<std::string, int32_t>& ids) {
  const json pp = root.value("post_processor", json());
  if (pp.is_null() || str_or(pp, "type") != "TemplateProcessing" || !pp.contains("single")) return;
  const json& single = pp["single"];
  auto special_id = [&](const json& item) -> int32_t {
    if (!item.contains("SpecialToken")) return -1;
    auto f = ids.find(str_or(item["SpecialToken"], "id"));
    return f == ids.end() ? -1 : f->second;
  };
  if (!single.empty() && special_id(single.front()) >= 0) {
    v.bos = special_id(single.front());
    v.add_bos = true;
  }
  if (single.size() > 1 && special_id(single.back()) >= 0) {
    v.eos = special_id(single.back());
    v.add_eos = true;
  }
}

Status read_config(const std::string& path, Vocab& v,
                   const std::unordered_map<std::string, int32_t>& ids) {
  LM_TRY(json cfg, load_json(path));
  if (int32_t id = config_token(cfg, "bos_token", ids); id != -2) v.bos = id;
  if (int32_t id = config_token(cfg, "eos_token", ids); id != -2) v.eos = id;
  if (int32_t id = config_token(cfg, "pad_token", ids); id != -2) v.pad = id;
  if (int32_t id = config_token(cfg, "unk_token", ids); id != -2) v.unk = id;
  v.add_bos = bool_or(cfg, "add_bos_token", v.add_bos) && v.bos >= 0;
  v.add_eos = bool_or(cfg, "add_eos_token", v.add_eos) && v.eos >= 0;
  return Ok{};
}

Result<Vocab> read_hf_vocab(const std::string& path, const std::string& config_path) {
  LM_TRY(json root, load_json(path));
  if (!root.is_object() || !root.contains("model")) return errorf("no 'model' object");
  Vocab v;
  v.model = "hf-bpe";
  v.add_bos = v.add_eos = v.add_space_prefix = false;
  v.split_leftmost = true;
  std::string unk_piece;
  bool spaces_escaped = false;
  LM_TRY_STATUS(read_model(root["model"], v, unk_piece));
  LM_TRY_STATUS(read_normalizer(root, v, spaces_escaped));
  LM_TRY_STATUS(read_pre_tokenizer(root, v, spaces_escaped));
  v.types.resize(v.pieces.size(), TokenType::kNormal);
  LM_TRY_STATUS(read_added_tokens(root, v));
  v.scores.assign(v.pieces.size(), 0.0f);
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    if (v.pieces[i].empty()) v.types[i] = TokenType::kUnused;   // a hole in the id space
    else ids.emplace(v.pieces[i], static_cast<int32_t>(i));
  }
  if (bool_or(root["model"], "byte_fallback", false)) {
    for (int b = 0; b < 256; ++b) {
      auto f = ids.find(fmt::format("<0x{:02X}>", b));
      if (f != ids.end() && v.types[f->second] == TokenType::kNormal) v.types[f->second] = TokenType::kByte;
    }
  }
  if (!unk_piece.empty()) {
    auto f = ids.find(unk_piece);
    if (f == ids.end()) return errorf("unk_token '{}' is not in the vocabulary", unk_piece);
    v.unk = f->second;
  }
  read_post_processor(root, v, ids);
  if (!config_path.empty()) LM_TRY_STATUS(read_config(config_path, v, ids).wrap(config_path));
  return v;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_json(const std::string& path,
                                                           const std::string& config_path) {
  auto v = read_hf_vocab(path, config_path);
  if (!v.ok()) return std::move(v).error().wrap(fmt::format("tokenizer {}", path));
  return from_vocab(std::move(v).value()).wrap(fmt::format("tokenizer {}", path));
}

}  // namespace lm::tokenizer
