#pragma once

#include <algorithm>
#include <chrono>

namespace keyflow {

// How long to wait before trying again after consecutive failures: initial, then doubled each
// time up to max; reset() after a success starts over.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(std::min(initial, max)), max_(max), current_(initial_) {}

  // The wait now; the next one is twice as long (at most max).
  std::chrono::milliseconds next() {
    const auto delay = current_;
    current_ = std::min(current_ * 2, max_);
    return delay;
  }
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
};

}  // namespace keyflow
