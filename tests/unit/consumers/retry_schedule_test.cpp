#include "consumers/retry_schedule.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(RetrySchedule, DefaultsToSvixsPublishedSchedule) {
  const RetrySchedule schedule;
  EXPECT_EQ(schedule.max_attempts(), 8);
  const std::vector<milliseconds> expected = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
  for (int attempt = 2; attempt <= 8; ++attempt)
    EXPECT_EQ(schedule.base_delay(attempt), expected[static_cast<std::size_t>(attempt - 2)]);
  EXPECT_FALSE(schedule.delay_before(9, 0.0).has_value());
}

TEST(RetrySchedule, JitterStaysWithinTwentyPercentOfEachEntry) {
  const RetrySchedule schedule;
  for (int attempt = 2; attempt <= 8; ++attempt) {
    const auto base = schedule.base_delay(attempt);
    for (double jitter = 0.0; jitter < 1.0; jitter += 0.125) {
      const auto delay = schedule.delay_before(attempt, jitter);
      ASSERT_TRUE(delay.has_value());
      EXPECT_GE(*delay, base * 8 / 10) << "attempt " << attempt << " jitter " << jitter;
      EXPECT_LE(*delay, base * 12 / 10) << "attempt " << attempt << " jitter " << jitter;
    }
  }
  EXPECT_EQ(schedule.delay_before(2, 0.0), milliseconds(4000));
  EXPECT_EQ(schedule.delay_before(2, 0.5), milliseconds(5000));
  EXPECT_EQ(schedule.delay_before(2, -3.0), milliseconds(4000));  // clamped
  EXPECT_LE(*schedule.delay_before(2, 7.0), milliseconds(6000));
}

TEST(RetrySchedule, TheFirstAttemptHasNoRetryDelayAndTheLastEndsIt) {
  const RetrySchedule schedule({0ms, 1s, 1s, 1s});
  EXPECT_FALSE(schedule.delay_before(1, 0.5).has_value());
  EXPECT_FALSE(schedule.delay_before(0, 0.5).has_value());
  EXPECT_TRUE(schedule.delay_before(4, 0.5).has_value());
  EXPECT_FALSE(schedule.delay_before(5, 0.5).has_value());
  EXPECT_EQ(schedule.max_attempts(), 4);
  EXPECT_FALSE(RetrySchedule({0ms}).delay_before(2, 0.5).has_value());
}

TEST(RetrySchedule, ParsesTheSettingsFormAndRefusesAnythingElse) {
  const auto parsed = RetrySchedule::parse("0s,1s, 5m,2h,1d");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->max_attempts(), 5);
  EXPECT_EQ(parsed->base_delay(3), milliseconds(5min));
  EXPECT_EQ(parsed->base_delay(5), milliseconds(24h));
  EXPECT_EQ(RetrySchedule::parse("0s")->max_attempts(), 1);
  for (const char* bad : {"", "5s,10s", "0s,", ",0s", "0s,,1s", "0s,5", "0s,x", "0s,-1s"})
    EXPECT_FALSE(RetrySchedule::parse(bad)) << bad;
  EXPECT_THROW(RetrySchedule(RetrySchedule::Delays{}), std::invalid_argument);
  EXPECT_THROW(RetrySchedule({1s}), std::invalid_argument);
}

}  // namespace
}  // namespace keyflow
