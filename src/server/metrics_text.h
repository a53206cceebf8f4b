// Prometheus text-format hygiene: with several models, per-model samples of one metric are
// written model by model; the format wants each family's samples together under one HELP/TYPE.
#pragma once

#include <string>

namespace lm::server {

// Regroups `text` (Prometheus text format) by metric family, in order of first appearance,
// keeping the first HELP and TYPE line of each and dropping repeats. Samples keep their order.
std::string group_metric_families(const std::string& text);

}  // namespace lm::server
