#include "outbox/outbox_retention.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono_literals;

TEST(ParseRetention, ReadsAWholeNumberWithAUnit) {
  EXPECT_EQ(parse_retention("7d"), std::optional(std::chrono::seconds(7 * 86400)));
  EXPECT_EQ(parse_retention("36h"), std::optional(std::chrono::seconds(36h)));
  EXPECT_EQ(parse_retention("90m"), std::optional(std::chrono::seconds(90min)));
  EXPECT_EQ(parse_retention("45s"), std::optional(45s));
  EXPECT_EQ(parse_retention("3600"), std::optional(3600s));
}

TEST(ParseRetention, ZeroKeepsRowsForEver) {
  EXPECT_EQ(parse_retention("0"), std::optional(0s));
  EXPECT_EQ(parse_retention("0d"), std::optional(0s));
}

TEST(ParseRetention, RejectsWhatIsNotADuration) {
  for (const char* text : {"", "d", "-1d", "7 d", "7days", "1.5h", "7w", "h7", "99999999999999d"})
    EXPECT_EQ(parse_retention(text), std::nullopt) << text;
}

}  // namespace
}  // namespace keyflow
