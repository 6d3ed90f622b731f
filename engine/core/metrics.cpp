#include "engine/core/metrics.hpp"

#include <fmt/format.h>

namespace keyflow {
namespace {
std::string family_of(const std::string& name) {
  return name.substr(0, name.find('{'));
}
}  // namespace

Metrics::Counter& Metrics::counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family_of(name), Family{help, "counter"});
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

void Metrics::gauge(const std::string& name, const std::string& help,
                    std::function<double()> read) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family_of(name), Family{help, "gauge"});
  gauges_[name] = std::move(read);
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [family, meta] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family, meta.help, family, meta.type);
    for (const auto& [name, counter] : counters_) {
      if (family_of(name) == family) out += fmt::format("{} {}\n", name, counter->value());
    }
    for (const auto& [name, read] : gauges_) {
      if (family_of(name) == family) out += fmt::format("{} {}\n", name, read());
    }
  }
  return out;
}

}  // namespace keyflow
