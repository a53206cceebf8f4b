// `localmax pull REF`: download a GGUF model from a Hugging Face-style hub into the store.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>

#include "cli/commands.h"
#include "cli/common.h"
#include "store/http.h"
#include "store/pull.h"

namespace lm::cli {

namespace {

void on_sigint(int) { store::cancel_flag().store(true); }

// Ctrl-C stops the transfer at its next callback; the partial file stays for a resume.
void install_sigint() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

int cmd_pull(const Args& args) {
  CLI::App app{"Download a GGUF model from Hugging Face (or $HF_ENDPOINT) into the local store.\n"
               "REF: hf.co/OWNER/REPO:FILE.gguf | OWNER/REPO/FILE.gguf | OWNER/REPO:QUANT | OWNER/REPO,\n"
               "each optionally followed by @REVISION (branch, tag or commit). HF_TOKEN is sent when set.",
               "localmax pull"};
  std::string ref_text;
  store::PullOptions opts;
  bool quiet = false;
  app.add_option("REF", ref_text, "model reference")->required();
  app.add_option("--name", opts.name, "local name (default: REPO:FILE-stem)");
  app.add_option("--retries", opts.retries, "automatic resumes after a dropped connection")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "no progress bar");
  if (auto rc = parse_args(app, args)) return *rc;
  if (opts.retries < 0) return fail(Error("--retries must be >= 0"));
  auto ref = store::parse_pull_ref(ref_text);
  if (!ref.ok()) return fail(ref.error());
  auto st = store::Store::open_default();
  if (!st.ok()) return fail(st.error());
  opts.progress = !quiet && ::isatty(STDERR_FILENO);
  install_sigint();
  auto res = store::pull(*st, *ref, opts);
  if (!res.ok()) {
    fail(res.error());
    return store::cancel_flag().load() ? 130 : 1;
  }
  const auto& m = res->manifest;
  if (!res->downloaded) {
    fmt::print("{}: already in the store (sha256:{}, {:.1f} MB)\n", m.name, m.digest.substr(0, 12), m.size / 1e6);
    return 0;
  }
  double rate = res->seconds > 0 ? res->bytes_received / res->seconds / 1e6 : 0;
  fmt::print("pulled {} (sha256:{}, {:.1f} MB) from {}/{} in {:.1f} s ({:.2f} MB/s{})\n", m.name,
             m.digest.substr(0, 12), m.size / 1e6, m.repo, m.file, res->seconds, rate,
             res->resumed_from > 0 ? fmt::format(", resumed at {:.1f} MB", res->resumed_from / 1e6) : "");
  return 0;
}

}  // namespace lm::cli
