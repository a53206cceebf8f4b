#include "server/metrics.h"

#include <fmt/format.h>

#include <array>

#include "server/metrics_text.h"
#include "server/model_registry.h"

namespace lm::server {
namespace {

constexpr std::array<const char*, 14> kEndpoints = {
    "/health",        "/metrics",    "/v1/models",   "/v1/completions", "/v1/chat/completions",
    "/api/version",   "/api/tags",   "/api/ps",      "/api/show",       "/api/generate",
    "/api/chat",      "/api/embed",  "/api/embeddings", "/v1/embeddings"};

void histogram(std::string& out, const std::string& name, const std::string& help,
               const std::string& labels, const engine::LatencyHistogram& h) {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  int64_t cum = 0;
  for (size_t i = 0; i < h.bounds_ms.size(); ++i) {
    cum += i < h.counts.size() ? h.counts[i] : 0;
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, h.bounds_ms[i] / 1000.0, cum);
  }
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, h.count);
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, h.sum_ms / 1000.0);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, h.count);
}

void gauge(std::string& out, const char* name, const char* type, const char* help,
           const std::string& labels, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{{{}}} {}\n", name, help, name, type, name,
                     labels, value);
}

}  // namespace

std::string Metrics::endpoint_of(const std::string& path) {
  for (const char* e : kEndpoints) {
    if (path == e) return e;
  }
  return "other";
}

void Metrics::record(const std::string& path, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint_of(path), status}];
}

std::string Metrics::render(const ModelRegistry& models) const {
  std::string out =
      "# HELP localmax_http_requests_total HTTP requests answered, by endpoint and status.\n"
      "# TYPE localmax_http_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, n] : requests_) {
      out += fmt::format("localmax_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n",
                         key.first, key.second, n);
    }
  }
  RegistryCounters rc = models.counters();
  gauge(out, "localmax_models_loaded", "gauge", "Models loaded now.", "", static_cast<double>(rc.loaded));
  gauge(out, "localmax_models_memory_bytes", "gauge", "Estimated bytes of loaded models.", "",
        static_cast<double>(rc.memory_used));
  gauge(out, "localmax_model_loads_total", "counter", "Models loaded.", "", static_cast<double>(rc.loads));
  gauge(out, "localmax_model_load_failures_total", "counter", "Model loads that failed.", "",
        static_cast<double>(rc.load_failures));
  gauge(out, "localmax_model_evictions_total", "counter", "Idle models unloaded to make room.", "",
        static_cast<double>(rc.evictions));
  gauge(out, "localmax_model_expirations_total", "counter", "Models unloaded by keep_alive.", "",
        static_cast<double>(rc.expirations));
  for (const auto& e : models.loaded_entries()) {
    if (!e->scheduler) continue;
    engine::SchedulerStats s = e->scheduler->stats();
    std::string l = fmt::format("model=\"{}\"", e->info.name);
    gauge(out, "localmax_requests_running", "gauge", "Requests holding a sequence slot.", l, s.running);
    gauge(out, "localmax_requests_queued", "gauge", "Requests waiting for a slot (queue depth).", l, s.queued);
    gauge(out, "localmax_slots", "gauge", "Sequence slots (--parallel).", l, s.n_parallel);
    gauge(out, "localmax_requests_admitted_total", "counter", "Requests admitted to a slot.", l,
          static_cast<double>(s.requests));
    gauge(out, "localmax_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", l,
          static_cast<double>(s.prompt_tokens));
    gauge(out, "localmax_prompt_tokens_cached_total", "counter",
          "Prompt tokens served from the prefix cache.", l, static_cast<double>(s.cached_prompt_tokens));
    gauge(out, "localmax_prefix_cache_hits_total", "counter",
          "Requests that reused a cached prefix.", l, static_cast<double>(s.prefix_hits));
    gauge(out, "localmax_completion_tokens_total", "counter", "Generated tokens.", l,
          static_cast<double>(s.completion_tokens));
    gauge(out, "localmax_embedding_requests_total", "counter", "Embedding inputs completed.", l,
          static_cast<double>(s.embedding_requests));
    gauge(out, "localmax_embedding_tokens_total", "counter", "Input tokens of embedding inputs.", l,
          static_cast<double>(s.embedding_tokens));
    gauge(out, "localmax_engine_steps_total", "counter", "Forward passes run by the engine.", l,
          static_cast<double>(s.steps));
    gauge(out, "localmax_kv_cells_used", "gauge", "KV cache positions in use.", l,
          static_cast<double>(s.kv_cells_used));
    gauge(out, "localmax_kv_cells_total", "gauge", "KV cache positions in all.", l,
          static_cast<double>(s.kv_cells_total));
    gauge(out, "localmax_kv_blocks_used", "gauge", "KV pool blocks in use.", l,
          static_cast<double>(s.kv_blocks_used));
    gauge(out, "localmax_kv_blocks_total", "gauge", "KV pool blocks in all.", l,
          static_cast<double>(s.kv_blocks_total));
    gauge(out, "localmax_kv_full_total", "counter", "Requests ended (length) by a full KV pool.", l,
          static_cast<double>(s.kv_full_ends));
    histogram(out, "localmax_time_to_first_token_seconds", "Submit to first token.", l, s.ttft);
    histogram(out, "localmax_inter_token_latency_seconds", "Time between tokens of a request.", l,
              s.inter_token);
  }
  return group_metric_families(out);   // one HELP/TYPE per family across models
}

}  // namespace lm::server
