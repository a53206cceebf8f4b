// Subcommands of the `localmax` binary: one file each (cmd_<name>.cpp). Each takes the
// arguments after the subcommand name and returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace lm::cli {

using Args = std::vector<std::string>;

int cmd_info(const Args& args);
int cmd_run(const Args& args);
int cmd_perplexity(const Args& args);
int cmd_bench(const Args& args);
int cmd_tokenize(const Args& args);
int cmd_quantize(const Args& args);
int cmd_logits(const Args& args);
int cmd_gen_model(const Args& args);
int cmd_pull(const Args& args);
int cmd_ls(const Args& args);
int cmd_rm(const Args& args);
int cmd_show(const Args& args);
int cmd_chat(const Args& args);
int cmd_template(const Args& args);
int cmd_convert(const Args& args);
int cmd_serve(const Args& args);
int cmd_embed(const Args& args);

}  // namespace lm::cli
