#include "engine/core/time_format.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono;

TEST(TimeFormat, FormatsUtcWithMilliseconds) {
  const TimePoint t = TimePoint(seconds(1566656122)) + milliseconds(123);
  EXPECT_EQ(format_timestamp(t), "2019-08-24T14:15:22.123Z");
}

TEST(TimeFormat, ParsesRfc3339AndPostgresText) {
  const TimePoint expected(seconds(1566656122));
  EXPECT_EQ(parse_timestamp("2019-08-24T14:15:22Z"), expected);
  EXPECT_EQ(parse_timestamp("2019-08-24T16:15:22+02:00"), expected);
  EXPECT_EQ(parse_timestamp("2019-08-24 14:15:22+00"), expected);
  EXPECT_EQ(parse_timestamp("2019-08-24T14:15:22.5Z"), expected + milliseconds(500));
  EXPECT_EQ(parse_timestamp("2019-08-24 14:15:22.123456+00"), expected + microseconds(123456));
  EXPECT_EQ(parse_timestamp("1969-12-31T23:59:59Z"), TimePoint(seconds(-1)));
}

TEST(TimeFormat, RejectsWhatIsNotADateTime) {
  for (const char* bad :
       {"", "2019-08-24", "2019-08-24T14:15:22", "2019-13-01T00:00:00Z", "2019-08-24T25:00:00Z",
        "tomorrow", "2019-08-24T14:15:22Zjunk", "2019-08-24T14:15:22.Z", "2999-01-01T00:00:00Z",
        "1800-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
  }
}

TEST(TimeFormat, RoundTrips) {
  const TimePoint t = time_point_cast<milliseconds>(system_clock::now());
  EXPECT_EQ(parse_timestamp(format_timestamp(t)), t);
}

}  // namespace
}  // namespace keyflow
