#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace keyflow {

// Counters, histograms and gauges rendered in the Prometheus text format for GET /metrics.
// Counters and histograms are lock-free to bump; gauges are read through callbacks when
// scraped. Names may carry labels: keyflow_http_requests_total{code="200"}.
class Metrics {
 public:
  class Counter {
   public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<std::uint64_t> value_{0};
  };

  // Observations counted into cumulative buckets by upper bound, with their sum and count.
  class Histogram {
   public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    // Per bound, how many observations were at most it; then the total count.
    std::vector<std::uint64_t> cumulative() const;
    double sum() const;
    const std::vector<double>& bounds() const { return bounds_; }

   private:
    std::vector<double> bounds_;                            // ascending
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per bound, and +Inf
    std::atomic<std::uint64_t> sum_micros_{0};              // the sum, in millionths: an atomic add
  };

  // One sample of a gauge family read at scrape time: its labels ({subscription_id="7"}, or
  // empty) and value.
  struct Sample {
    std::string labels;
    double value = 0;
  };

  // Latency buckets in seconds, from 5 ms to 30 s (a webhook attempt's deadline).
  static std::vector<double> latency_buckets();

  Counter& counter(const std::string& name, const std::string& help);
  // A counter kept elsewhere (a component's own statistics), read when scraped; exported as a
  // counter, so that rate() works on it.
  void counter(const std::string& name, const std::string& help, std::function<double()> read);
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> bounds);
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // A gauge family whose samples (and their number) are known only when scraped.
  void gauges(const std::string& family, const std::string& help,
              std::function<std::vector<Sample>()> read);
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::unique_ptr<Histogram>> histograms_;
  std::map<std::string, std::function<double()>> gauges_;
  std::map<std::string, std::function<std::vector<Sample>()>> gauge_families_;
};

}  // namespace keyflow
