#include "convert/hf_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace lm::convert {

void write_gguf_vocab(gguf::Writer& w, const GgufVocab& v) {
  w.set_string("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) w.set_string("tokenizer.ggml.pre", v.pre);
  w.set_array_string("tokenizer.ggml.tokens", v.tokens);
  if (v.model == "llama") w.set_array_f32("tokenizer.ggml.scores", v.scores);
  w.set_array_i32("tokenizer.ggml.token_type", v.types);
  if (!v.merges.empty()) w.set_array_string("tokenizer.ggml.merges", v.merges);
  if (v.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
  if (v.eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
  if (v.unk >= 0) w.set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk));
  if (v.pad >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(v.pad));
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  if (!v.chat_template.empty()) w.set_string("tokenizer.chat_template", v.chat_template);
}

namespace {

using nlohmann::json;

Result<json> read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open {}", path);
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    return errorf("{}: invalid JSON: {}", path, e.what());
  }
}

// tokenizer_config.json writes special tokens as a string or as {"content": ...}.
std::string token_string(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"];
  return {};
}

// Places every token at its id; ids left over (added tokens beyond the model vocabulary, or
// gaps) become "[PADn]" tokens of type unused, as the reference converters do.
Status place_token(GgufVocab& v, int64_t id, std::string text, int32_t type, float score) {
  if (id < 0 || id > 10'000'000) return errorf("token '{}' has id {} out of range", text, id);
  if (static_cast<int64_t>(v.tokens.size()) <= id) {
    for (int64_t i = static_cast<int64_t>(v.tokens.size()); i <= id; ++i) {
      v.tokens.push_back(fmt::format("[PAD{}]", i));
      v.types.push_back(kUnused);
      v.scores.push_back(0.0f);
    }
  }
  v.tokens[id] = std::move(text);
  v.types[id] = type;
  v.scores[id] = score;
  return Ok{};
}

Status import_model_vocab(GgufVocab& v, const json& model, bool spm) {
  const std::string type = model.value("type", "");
  const json& vocab = model.at("vocab");
  if (type == "Unigram") {
    // [[piece, score], ...], the id is the index.
    for (size_t i = 0; i < vocab.size(); ++i) {
      std::string piece = vocab[i].at(0).get<std::string>();
      bool is_byte = piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>';
      LM_TRY_STATUS(place_token(v, static_cast<int64_t>(i), piece, is_byte ? kByte : kNormal,
                                vocab[i].at(1).get<float>()));
    }
    if (model.contains("unk_id") && model["unk_id"].is_number()) v.unk = model["unk_id"];
    return Ok{};
  }
  // BPE: {"piece": id}, merges as "a b" strings or [a, b] pairs.
  for (const auto& [piece, id_json] : vocab.items()) {
    int64_t id = id_json.get<int64_t>();
    bool is_byte = spm && piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>';
    LM_TRY_STATUS(place_token(v, id, piece, is_byte ? kByte : kNormal,
                              spm ? -static_cast<float>(id) : 0.0f));
  }
  if (!spm && model.contains("merges")) {
    for (const json& m : model["merges"]) {
      if (m.is_string()) v.merges.push_back(m.get<std::string>());
      else v.merges.push_back(m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    std::string unk = model["unk_token"];
    if (vocab.contains(unk)) v.unk = vocab[unk].get<int64_t>();
  }
  return Ok{};
}

// The id of `text`, or -1; with `control_only`, only control (special) tokens match, so that a
// plain "<s>" piece of a byte-level vocabulary is not taken for BOS.
int64_t find_token(const GgufVocab& v, const std::string& text, bool control_only = false) {
  if (text.empty()) return -1;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.tokens[i] == text && (!control_only || v.types[i] == kControl)) return static_cast<int64_t>(i);
  }
  return -1;
}

// Picks the pre-tokenizer name llama.cpp uses, from the split regex of the tokenizer.json.
std::string detect_pre(const json& tok, std::string_view arch) {
  std::string dump = tok.contains("pre_tokenizer") ? tok["pre_tokenizer"].dump() : "";
  if (dump.find("\\\\p{N}{1,3}") != std::string::npos) return "llama-bpe";
  if (arch == "qwen2" || arch == "qwen3") return "qwen2";
  return "default";
}

std::string config_token(const json& cfg, const char* key) {
  return cfg.is_object() && cfg.contains(key) ? token_string(cfg[key]) : std::string();
}

// BOS/EOS/PAD from tokenizer_config.json, else from well-known special tokens.
void apply_config(GgufVocab& v, const json& tok, const json& cfg) {
  int64_t bos = find_token(v, config_token(cfg, "bos_token"));
  int64_t eos = find_token(v, config_token(cfg, "eos_token"));
  int64_t pad = find_token(v, config_token(cfg, "pad_token"));
  for (const char* name : {"<|begin_of_text|>", "<s>", "<bos>", "<|endoftext|>"}) {
    if (bos < 0) bos = find_token(v, name, true);
  }
  for (const char* name : {"<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"}) {
    if (eos < 0) eos = find_token(v, name, true);
  }
  v.bos = bos, v.eos = eos, v.pad = pad;
  if (cfg.is_object() && cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) {
    v.add_bos = cfg["add_bos_token"];
  } else {
    // Added when the post-processor template names the BOS token, or when the config names a
    // BOS token at all (Llama 3's PreTrainedTokenizerFast adds it; Qwen's config has null).
    std::string post = tok.contains("post_processor") ? tok["post_processor"].dump() : "";
    v.add_bos = bos >= 0 && (post.find(json(v.tokens[bos]).dump()) != std::string::npos ||
                             !config_token(cfg, "bos_token").empty());
  }
  if (cfg.is_object() && cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
    v.chat_template = cfg["chat_template"];
  }
}

Result<GgufVocab> build_vocab(const json& tok, const json& cfg, std::string_view arch) {
  const json& model = tok.at("model");
  const std::string type = model.value("type", "");
  if (type != "BPE" && type != "Unigram") return errorf("unsupported tokenizer model type '{}'", type);
  const bool spm = type == "Unigram" || model.value("byte_fallback", false);
  GgufVocab v;
  v.model = spm ? "llama" : "gpt2";
  if (!spm) v.pre = detect_pre(tok, arch);
  LM_TRY_STATUS(import_model_vocab(v, model, spm));
  if (tok.contains("added_tokens")) {
    for (const json& a : tok["added_tokens"]) {
      int32_t type_id = a.value("special", false) ? kControl : kUserDefined;
      std::string content = a.at("content");
      LM_TRY_STATUS(place_token(v, a.at("id").get<int64_t>(), content, type_id, 0.0f));
    }
  }
  if (v.unk >= 0 && v.unk < static_cast<int64_t>(v.types.size())) v.types[v.unk] = kUnknown;
  apply_config(v, tok, cfg);
  return v;
}

}  // namespace

Result<GgufVocab> read_hf_tokenizer(const std::string& path, std::string_view arch, int64_t min_vocab) {
  LM_TRY(json tok, read_json(path));
  json cfg;
  auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(cfg_path)) {
    LM_TRY(json c, read_json(cfg_path.string()));
    cfg = std::move(c);
  }
  Result<GgufVocab> v = [&]() -> Result<GgufVocab> {
    try {
      return build_vocab(tok, cfg, arch);
    } catch (const std::exception& e) {
      return errorf("unexpected structure: {}", e.what());
    }
  }();
  if (!v.ok()) return std::move(v).error().wrap(path);
  if (v->tokens.empty()) return errorf("{}: no tokens", path);
  if (min_vocab > static_cast<int64_t>(v->tokens.size())) {
    LM_TRY_STATUS(place_token(*v, min_vocab - 1, fmt::format("[PAD{}]", min_vocab - 1), kUnused, 0.0f));
  }
  return v;
}

Result<int64_t> import_tokenizer_json(gguf::Writer& w, const std::string& path,
                                      std::string_view arch, int64_t min_vocab) {
  LM_TRY(GgufVocab v, read_hf_tokenizer(path, arch, min_vocab));
  write_gguf_vocab(w, v);
  return static_cast<int64_t>(v.tokens.size());
}

std::string hf_tokenizer_json(const GgufVocab& v) {
  json vocab = json::array();
  json added = json::array();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const float score = i < v.scores.size() ? v.scores[i] : 0.0f;
    vocab.push_back({v.tokens[i], score});
    const int32_t type = i < v.types.size() ? v.types[i] : kNormal;
    if (type == kControl || type == kUserDefined) {
      added.push_back({{"id", i}, {"content", v.tokens[i]}, {"special", type == kControl},
                       {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", type != kControl}});
    }
  }
  json model = {{"type", "Unigram"}, {"vocab", vocab}, {"byte_fallback", true}};
  if (v.unk >= 0) model["unk_id"] = v.unk;
  json tok = {{"version", "1.0"}, {"added_tokens", added}, {"model", model}};
  return tok.dump(1) + "\n";
}

std::string hf_tokenizer_config_json(const GgufVocab& v) {
  auto name = [&](int64_t id) -> json {
    return id >= 0 && id < static_cast<int64_t>(v.tokens.size()) ? json(v.tokens[id]) : json(nullptr);
  };
  json cfg = {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"add_bos_token", v.add_bos},
              {"add_eos_token", false}, {"bos_token", name(v.bos)}, {"eos_token", name(v.eos)},
              {"unk_token", name(v.unk)}, {"pad_token", name(v.pad)}};
  if (!v.chat_template.empty()) cfg["chat_template"] = v.chat_template;
  return cfg.dump(2) + "\n";
}

}  // namespace lm::convert
