#include "engine/core/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace keyflow {
namespace {

std::string family_of(const std::string& name) {
  return name.substr(0, name.find('{'));
}

// name{a="1"} + le="0.5" -> name_bucket{a="1",le="0.5"}
std::string with_suffix_and_label(const std::string& name, const std::string& suffix,
                                  const std::string& label) {
  const auto brace = name.find('{');
  const auto family = name.substr(0, brace);
  std::string labels =
      brace == std::string::npos ? "" : name.substr(brace + 1, name.size() - brace - 2);
  if (!label.empty()) labels += (labels.empty() ? "" : ",") + label;
  return family + suffix + (labels.empty() ? "" : "{" + labels + "}");
}

}  // namespace

Metrics::Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Metrics::Histogram::observe(double value) {
  const auto slot = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[static_cast<std::size_t>(slot)].fetch_add(1, std::memory_order_relaxed);
  if (value > 0) {
    sum_micros_.fetch_add(static_cast<std::uint64_t>(std::llround(value * 1e6)),
                          std::memory_order_relaxed);
  }
}

std::vector<std::uint64_t> Metrics::Histogram::cumulative() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Metrics::Histogram::sum() const {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

std::vector<double> Metrics::latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

Metrics::Counter& Metrics::counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family_of(name), Family{help, "counter"});
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Metrics::Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family_of(name), Family{help, "histogram"});
  auto& slot = histograms_[name];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

void Metrics::gauge(const std::string& name, const std::string& help,
                    std::function<double()> read) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family_of(name), Family{help, "gauge"});
  gauges_[name] = std::move(read);
}

void Metrics::counter(const std::string& name, const std::string& help,
                      std::function<double()> read) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family_of(name), Family{help, "counter"});
  gauges_[name] = std::move(read);
}

void Metrics::gauges(const std::string& family, const std::string& help,
                     std::function<std::vector<Sample>()> read) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(family, Family{help, "gauge"});
  gauge_families_[family] = std::move(read);
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [family, meta] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family, meta.help, family, meta.type);
    for (const auto& [name, counter] : counters_) {
      if (family_of(name) == family) out += fmt::format("{} {}\n", name, counter->value());
    }
    for (const auto& [name, histogram] : histograms_) {
      if (family_of(name) != family) continue;
      const auto counts = histogram->cumulative();
      const auto& bounds = histogram->bounds();
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        out += fmt::format(
            "{} {}\n", with_suffix_and_label(name, "_bucket", fmt::format("le=\"{}\"", bounds[i])),
            counts[i]);
      }
      out += fmt::format("{} {}\n", with_suffix_and_label(name, "_bucket", "le=\"+Inf\""),
                         counts.back());
      out += fmt::format("{} {}\n", with_suffix_and_label(name, "_sum", ""), histogram->sum());
      out += fmt::format("{} {}\n", with_suffix_and_label(name, "_count", ""), counts.back());
    }
    for (const auto& [name, read] : gauges_) {
      if (family_of(name) == family) out += fmt::format("{} {}\n", name, read());
    }
    if (const auto it = gauge_families_.find(family); it != gauge_families_.end()) {
      for (const auto& sample : it->second())
        out += fmt::format("{}{} {}\n", family, sample.labels, sample.value);
    }
  }
  return out;
}

}  // namespace keyflow
