#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace keyflow {

// Counters and gauges rendered in the Prometheus text format for GET /metrics. Counters are
// lock-free to bump; gauges are read through callbacks when scraped.
class Metrics {
 public:
  class Counter {
   public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<std::uint64_t> value_{0};
  };

  // name may carry labels: keyflow_http_requests_total{code="200"}.
  Counter& counter(const std::string& name, const std::string& help);
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::function<double()>> gauges_;
};

}  // namespace keyflow
