// Parsing of model references: what `localmax pull` accepts, and what -m accepts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lm::store {

// A file on a Hugging Face-style hub. Forms accepted by parse_pull_ref:
//   hf.co/OWNER/REPO:FILE.gguf   (also huggingface.co/..., https://huggingface.co/...)
//   OWNER/REPO/FILE.gguf         (FILE may contain further '/' for sub-folders)
//   OWNER/REPO:QUANT             (e.g. :Q4_K_M, chosen from the repo listing)
//   OWNER/REPO                   (the only .gguf in the repo)
// each with an optional @REVISION suffix (branch, tag or commit).
struct PullRef {
  std::string repo;       // "OWNER/REPO"
  std::string file;       // path inside the repo; "" when chosen by quant tag or by uniqueness
  std::string quant;      // tag such as "Q4_K_M"; "" when file is given
  std::string revision;   // "main" by default
};

Result<PullRef> parse_pull_ref(std::string_view ref);

// The default local name: "REPO:FILE-stem" (file name without folders and ".gguf").
std::string default_model_name(const PullRef& ref, std::string_view chosen_file);

// Checks a local model name (used as a file name once escaped): non-empty, at most 200 bytes,
// printable ASCII without spaces, and no '@' (reserved for name@sha256:...).
Status validate_model_name(std::string_view name);

// The .gguf files of a listing that match a quant tag (case-insensitive substring). The tag
// must not be glued to further letters or digits ("Q4_K" does not pick "Q4_K_M").
std::vector<std::string> match_quant(const std::vector<std::string>& files, std::string_view quant);

// A reference given to -m, once it is known not to be an existing path.
struct ModelRef {
  enum class Kind { kName, kPinned, kDigestPrefix };
  Kind kind = Kind::kName;
  std::string name;     // kName, kPinned
  std::string digest;   // kPinned: 64 lowercase hex; kDigestPrefix: lowercase hex prefix
};

Result<ModelRef> parse_model_ref(std::string_view ref);

// Percent-encodes every byte outside [A-Za-z0-9._-] (for URLs and for manifest file names).
std::string percent_encode(std::string_view s, bool keep_slash);

}  // namespace lm::store
