#include "engine/core/log_limiter.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono_literals;

TEST(LogLimiter, LetsALineThroughPerIntervalAndCountsTheRest) {
  LogLimiter limiter(1s);
  const LogLimiter::TimePoint t0{};
  EXPECT_EQ(limiter.admit(t0), 1u) << "the first occurrence is logged at once";
  for (int i = 1; i <= 999; ++i)
    EXPECT_EQ(limiter.admit(t0 + std::chrono::milliseconds(i)), 0u);
  EXPECT_EQ(limiter.admit(t0 + 1s), 1000u) << "the next line counts the 999 held back";
  EXPECT_EQ(limiter.admit(t0 + 1500ms), 0u);
  EXPECT_EQ(limiter.admit(t0 + 5s), 2u);
}

}  // namespace
}  // namespace keyflow
