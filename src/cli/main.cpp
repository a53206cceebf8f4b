// localmax: a local-first LLM runtime. Dispatches to one subcommand per file.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "core/egress.h"
#include "core/log.h"

namespace {

struct Command {
  const char* name;
  int (*fn)(const lm::cli::Args&);
  const char* help;
};

const Command kCommands[] = {
    {"run", lm::cli::cmd_run, "generate text from a prompt (default model: the demo)"},
    {"chat", lm::cli::cmd_chat, "chat with a model in the terminal (its chat template, KV cache reused)"},
    {"perplexity", lm::cli::cmd_perplexity, "perplexity of a model on a text file"},
    {"tokenize", lm::cli::cmd_tokenize, "print the token ids of a text"},
    {"bench", lm::cli::cmd_bench, "prompt/generation tokens per second, or --memory bandwidth"},
    {"info", lm::cli::cmd_info, "summarise a GGUF file's metadata and tensors"},
    {"quantize", lm::cli::cmd_quantize, "convert a GGUF file's weights to a quantized type"},
    {"logits", lm::cli::cmd_logits, "run tokens through a model and dump the logits"},
    {"pull", lm::cli::cmd_pull, "download a GGUF model from Hugging Face into the local store"},
    {"ls", lm::cli::cmd_ls, "list the models in the local store"},
    {"rm", lm::cli::cmd_rm, "remove a model from the local store"},
    {"show", lm::cli::cmd_show, "show a model's source, digest and GGUF summary"},
    {"gen-model", lm::cli::cmd_gen_model, "write a GGUF test model with seeded random weights"},
    {"serve", lm::cli::cmd_serve, "OpenAI- and Ollama-compatible HTTP server"},
    {"embed", lm::cli::cmd_embed, "print the embedding (unit vector) of each text as JSON"},
    {"template", lm::cli::cmd_template, "render a chat template for a conversation"},
    {"convert", lm::cli::cmd_convert, "convert a Hugging Face model folder (safetensors) to GGUF"},
    {"detect", lm::cli::cmd_detect, "print the sensitive spans (emails, cards, secrets, ...) in a text"},
    {"audit", lm::cli::cmd_audit, "verify or show the router's hash-chained audit log"},
    {"costs", lm::cli::cmd_costs, "spend from the audit log: local vs hosted, by model/key/route/day"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: localmax <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-12s %s\n", c.name, c.help);
  std::fprintf(out, "\n`localmax <command> --help` for the options of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("localmax 0.1.0\n");
    return 0;
  }
  // LOCALMAX_OFFLINE=1: no outbound connection from any command (pull included), not only serve.
  if (const char* off = std::getenv("LOCALMAX_OFFLINE"); off && *off && std::strcmp(off, "0") != 0) {
    lm::egress::set_offline(true);
  }
  for (const auto& c : kCommands) {
    if (name == c.name) return c.fn(lm::cli::Args(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "localmax: unknown command '%s'\n\n", name.c_str());
  usage(stderr);
  return 2;
}
