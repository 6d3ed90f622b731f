#include "consumers/retry_schedule.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

RetrySchedule::Options options(milliseconds initial, double multiplier, milliseconds max_delay,
                               int max_attempts) {
  RetrySchedule::Options o;
  o.initial = initial;
  o.multiplier = multiplier;
  o.max_delay = max_delay;
  o.max_attempts = max_attempts;
  return o;
}

TEST(RetrySchedule, FirstRetryWaitsTheInitialDelay) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, hours(1), 8));
  EXPECT_EQ(schedule.base_delay(2), milliseconds(1000));
}

TEST(RetrySchedule, BaseDelayGrowsByTheMultiplier) {
  const RetrySchedule schedule(options(milliseconds(1000), 3.0, hours(1), 8));
  EXPECT_EQ(schedule.base_delay(3), milliseconds(3000));
  EXPECT_EQ(schedule.base_delay(4), milliseconds(9000));
  EXPECT_EQ(schedule.base_delay(5), milliseconds(27000));
}

TEST(RetrySchedule, BaseDelayIsCappedAtMaxDelay) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, milliseconds(5000), 20));
  EXPECT_EQ(schedule.base_delay(4), milliseconds(4000));
  EXPECT_EQ(schedule.base_delay(5), milliseconds(5000));
  EXPECT_EQ(schedule.base_delay(6), milliseconds(5000));
  // Far beyond double's exponent range the cap still holds instead of overflowing.
  EXPECT_EQ(schedule.base_delay(5000), milliseconds(5000));
}

TEST(RetrySchedule, JitteredDelayLiesBetweenHalfAndAllOfTheBase) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, hours(1), 8));
  for (int attempt = 2; attempt <= 8; ++attempt) {
    const auto base = schedule.base_delay(attempt);
    for (double jitter = 0.0; jitter < 1.0; jitter += 0.125) {
      const auto delay = schedule.delay_before(attempt, jitter);
      ASSERT_TRUE(delay.has_value());
      EXPECT_GE(*delay, base / 2) << "attempt " << attempt << " jitter " << jitter;
      EXPECT_LT(*delay, base) << "attempt " << attempt << " jitter " << jitter;
    }
  }
}

TEST(RetrySchedule, JitterEndsMapToTheBoundsOfTheRange) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, hours(1), 8));
  EXPECT_EQ(schedule.delay_before(2, 0.0), milliseconds(500));
  EXPECT_EQ(schedule.delay_before(2, 0.5), milliseconds(750));
  EXPECT_EQ(schedule.delay_before(3, 0.0), milliseconds(1000));
}

TEST(RetrySchedule, JitterOutsideTheUnitIntervalIsClamped) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, hours(1), 8));
  EXPECT_EQ(schedule.delay_before(2, -3.0), milliseconds(500));
  EXPECT_LE(*schedule.delay_before(2, 7.0), milliseconds(1000));
}

TEST(RetrySchedule, CappedDelayStillJitters) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, milliseconds(4000), 20));
  EXPECT_EQ(schedule.delay_before(15, 0.0), milliseconds(2000));
  EXPECT_EQ(schedule.delay_before(15, 0.5), milliseconds(3000));
}

TEST(RetrySchedule, DeliveryIsDeadAfterMaxAttempts) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, hours(1), 4));
  EXPECT_TRUE(schedule.delay_before(2, 0.5).has_value());
  EXPECT_TRUE(schedule.delay_before(4, 0.5).has_value());
  EXPECT_FALSE(schedule.delay_before(5, 0.5).has_value());
  EXPECT_FALSE(schedule.delay_before(100, 0.5).has_value());
  EXPECT_EQ(schedule.max_attempts(), 4);
}

TEST(RetrySchedule, OneAttemptMeansNoRetry) {
  const RetrySchedule schedule(options(milliseconds(1000), 2.0, hours(1), 1));
  EXPECT_FALSE(schedule.delay_before(2, 0.5).has_value());
}

TEST(RetrySchedule, TheFirstAttemptHasNoRetryDelay) {
  const RetrySchedule schedule;
  EXPECT_FALSE(schedule.delay_before(1, 0.5).has_value());
  EXPECT_FALSE(schedule.delay_before(0, 0.5).has_value());
}

TEST(RetrySchedule, DefaultsGrowFromFiveSecondsOverEightAttempts) {
  const RetrySchedule schedule;
  EXPECT_EQ(schedule.max_attempts(), 8);
  EXPECT_EQ(schedule.base_delay(2), milliseconds(5000));
  EXPECT_EQ(schedule.base_delay(8), milliseconds(5000 * 64));
  EXPECT_FALSE(schedule.delay_before(9, 0.0).has_value());
}

}  // namespace
}  // namespace keyflow
