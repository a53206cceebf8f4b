#include "server/chat_output.h"

namespace lm::server {
namespace {

class PassThrough : public ChatOutput {
 public:
  ChatDelta feed(const std::string& text) override {
    ChatDelta d;
    d.content = text;
    return d;
  }
  ChatDelta finish() override { return {}; }
};

}  // namespace

std::unique_ptr<ChatOutput> make_chat_output(const ModelInfo& model, const nlohmann::json& tools) {
  (void)model;
  (void)tools;
  return std::make_unique<PassThrough>();
}

}  // namespace lm::server
