#include "engine/webhooks/webhook_message.hpp"

#include <array>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "engine/core/time_format.hpp"

namespace keyflow {
namespace {

TimePoint at(const char* text) {
  return *parse_timestamp(text);
}

const TimePoint kEventTime = at("2026-12-08T00:00:00Z");

TEST(DeliveryIdFor, IsAWebhookIdOfTheUsualForm) {
  const auto id =
      delivery_id_for("4503599627370497", "6f1c2a8e-4b1d-4f4e-9d2a-0c1b2a3d4e5f", kEventTime);
  EXPECT_TRUE(is_delivery_id(id)) << id;
}

// A first attempt sent before its row was written, and sent again after a crash, carries the
// same webhook-id: the receiver drops the duplicate.
TEST(DeliveryIdFor, IsTheSameForTheSamePairAndDiffersOtherwise) {
  const std::string event = "6f1c2a8e-4b1d-4f4e-9d2a-0c1b2a3d4e5f";
  EXPECT_EQ(delivery_id_for("1", event, kEventTime), delivery_id_for("1", event, kEventTime));
  std::set<std::string> ids{
      delivery_id_for("1", event, kEventTime), delivery_id_for("2", event, kEventTime),
      delivery_id_for("1", "6f1c2a8e-4b1d-4f4e-9d2a-0c1b2a3d4e60", kEventTime),
      // Length-prefixed parts: moving a character across the boundary makes another id.
      delivery_id_for("12", "3", kEventTime), delivery_id_for("1", "23", kEventTime)};
  EXPECT_EQ(ids.size(), 5u);
}

// The KSUID specification's example (github.com/segmentio/ksuid): its time and payload give
// its 27 characters.
TEST(KsuidMessageId, EncodesTheSpecificationsExample) {
  const std::array<std::uint8_t, 16> payload{0xB5, 0xA1, 0xCD, 0x34, 0xB5, 0xF9, 0x9D, 0x11,
                                             0x54, 0xFB, 0x68, 0x53, 0x34, 0x5C, 0x97, 0x35};
  // 107608047 seconds after the KSUID epoch (1400000000).
  EXPECT_EQ(ksuid_message_id(TimePoint(std::chrono::seconds(1400000000LL + 107608047)), payload),
            "msg_0ujtsYcgvSTl8PAuAdqWYSMnLOv");
}

// Ids sort by their time, whatever their other bytes: new rows go in at the end of the delivery
// log's indexes.
TEST(KsuidMessageId, SortsByTime) {
  const auto earlier = at("2026-12-08T00:00:00Z");
  const auto later = at("2026-12-08T00:00:01Z");
  for (int i = 0; i < 50; ++i) {
    EXPECT_LT(new_delivery_id(earlier), new_delivery_id(later));
    EXPECT_LT(delivery_id_for(std::to_string(i), "e", earlier),
              delivery_id_for(std::to_string(i + 1000), "f", later));
  }
  EXPECT_TRUE(is_delivery_id(new_delivery_id(earlier)));
  EXPECT_NE(new_delivery_id(earlier), new_delivery_id(earlier));
}

}  // namespace
}  // namespace keyflow
