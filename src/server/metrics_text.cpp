#include "server/metrics_text.h"

#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace lm::server {
namespace {

struct Family {
  std::string help, type;
  std::vector<std::string> samples;
};

std::string sample_name(const std::string& line) {
  size_t end = line.find_first_of("{ ");
  return line.substr(0, end);
}

}  // namespace

std::string group_metric_families(const std::string& text) {
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  auto family = [&](const std::string& name) -> Family& {
    auto [it, added] = families.try_emplace(name);
    if (added) order.push_back(name);
    return it->second;
  };
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      Family& f = family(rest.substr(0, rest.find(' ')));
      std::string& slot = line[2] == 'H' ? f.help : f.type;
      if (slot.empty()) slot = line;
      continue;
    }
    std::string name = sample_name(line);
    if (!families.count(name)) {   // histogram series: NAME_bucket, NAME_sum, NAME_count
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s(suffix);
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
            families.count(name.substr(0, name.size() - s.size()))) {
          name.resize(name.size() - s.size());
          break;
        }
      }
    }
    family(name).samples.push_back(line);
  }
  std::string out;
  for (const auto& name : order) {
    const Family& f = families[name];
    if (!f.help.empty()) out += f.help + "\n";
    if (!f.type.empty()) out += f.type + "\n";
    for (const auto& s : f.samples) out += s + "\n";
  }
  return out;
}

}  // namespace lm::server
