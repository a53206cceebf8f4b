// GET /v1/models and GET /v1/models/{id}.
#include "server/route_dispatch.h"
#include "server/server_context.h"

namespace lm::server {
namespace {

nlohmann::json model_object(const ModelInfo& m) {
  return {{"id", m.name}, {"object", "model"}, {"created", m.modified_unix}, {"owned_by", "localmax"},
          {"meta", {{"arch", m.arch}, {"n_ctx_train", m.n_ctx_train}, {"n_params", m.n_params},
                    {"size", m.size_bytes}, {"quantization", m.quantization}, {"n_ctx", m.n_ctx}}}};
}

}  // namespace

void add_openai_models(httplib::Server& http, ServerContext& ctx) {
  http.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json data = nlohmann::json::array();
    for (const auto& st : ctx.models.status()) {
      ModelInfo i = st.info ? *st.info : ModelInfo{};
      i.name = st.spec.name;
      data.push_back(model_object(i));
    }
    append_upstream_models(ctx, data);
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  });
  http.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    auto st = ctx.models.status(name);
    if (!st || name.empty()) {
      ApiError e = not_found("model '" + name + "' not found");
      e.code = "model_not_found";
      e.param = "model";
      send_error(res, e, Dialect::kOpenAi);
      return;
    }
    ModelInfo i = st->info ? *st->info : ModelInfo{};
    i.name = st->spec.name;
    send_json(res, 200, model_object(i));
  });
}

}  // namespace lm::server
