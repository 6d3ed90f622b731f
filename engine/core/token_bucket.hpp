#pragma once

#include <algorithm>
#include <chrono>

#include "engine/core/clock.hpp"

namespace keyflow {

// At most `rate` takes a second, with bursts of up to `rate`: the bucket holds that many
// tokens and refills continuously. Pure: the caller passes the time.
class TokenBucket {
 public:
  TokenBucket(int rate, TimePoint now) : rate_(std::max(rate, 1)), tokens_(rate_), at_(now) {}

  // Takes a token when one is there.
  bool take(TimePoint now) {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  bool empty(TimePoint now) {
    refill(now);
    return tokens_ < 1.0;
  }

  // Full again: nothing taken for a second. Such a bucket can be forgotten.
  bool full(TimePoint now) {
    refill(now);
    return tokens_ >= rate_;
  }

  int rate() const { return rate_; }

 private:
  void refill(TimePoint now) {
    if (now <= at_) return;
    const std::chrono::duration<double> elapsed = now - at_;
    tokens_ = std::min<double>(rate_, tokens_ + elapsed.count() * rate_);
    at_ = now;
  }

  int rate_;
  double tokens_;
  TimePoint at_;
};

}  // namespace keyflow
