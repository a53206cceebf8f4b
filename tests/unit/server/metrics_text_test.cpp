#include <gtest/gtest.h>

#include "server/metrics_text.h"

namespace lm::server {
namespace {

TEST(MetricsText, GroupsFamiliesAcrossModels) {
  std::string text =
      "# HELP a_total A.\n# TYPE a_total counter\na_total{model=\"x\"} 1\n"
      "# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{model=\"x\",le=\"+Inf\"} 2\n"
      "h_seconds_sum{model=\"x\"} 0.5\nh_seconds_count{model=\"x\"} 2\n"
      "# HELP a_total A.\n# TYPE a_total counter\na_total{model=\"y\"} 3\n"
      "# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{model=\"y\",le=\"+Inf\"} 4\n"
      "h_seconds_sum{model=\"y\"} 1\nh_seconds_count{model=\"y\"} 4\n";
  std::string want =
      "# HELP a_total A.\n# TYPE a_total counter\na_total{model=\"x\"} 1\na_total{model=\"y\"} 3\n"
      "# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{model=\"x\",le=\"+Inf\"} 2\n"
      "h_seconds_sum{model=\"x\"} 0.5\nh_seconds_count{model=\"x\"} 2\n"
      "h_seconds_bucket{model=\"y\",le=\"+Inf\"} 4\nh_seconds_sum{model=\"y\"} 1\n"
      "h_seconds_count{model=\"y\"} 4\n";
  EXPECT_EQ(group_metric_families(text), want);
  EXPECT_EQ(group_metric_families(want), want);   // idempotent
}

}  // namespace
}  // namespace lm::server
