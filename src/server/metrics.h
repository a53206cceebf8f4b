// Metrics: counters the HTTP layer keeps (requests by endpoint and status), rendered together
// with the Scheduler's statistics in the Prometheus text format for GET /metrics.
// Thread-safe: record() and render() may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace lm::server {

class ModelRegistry;

class Metrics {
 public:
  // path: the request path; unknown paths count as "other" (bounded label cardinality).
  void record(const std::string& path, int status);
  std::string render(const ModelRegistry& models) const;

  // The endpoint label of a path.
  static std::string endpoint_of(const std::string& path);

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
};

}  // namespace lm::server
