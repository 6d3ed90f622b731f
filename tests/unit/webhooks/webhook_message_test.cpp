#include "engine/webhooks/webhook_message.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace keyflow {
namespace {

TEST(DeliveryIdFor, IsAWebhookIdOfTheUsualForm) {
  const auto id = delivery_id_for("4503599627370497", "6f1c2a8e-4b1d-4f4e-9d2a-0c1b2a3d4e5f");
  EXPECT_TRUE(is_delivery_id(id)) << id;
}

// A first attempt sent before its row was written, and sent again after a crash, carries the
// same webhook-id: the receiver drops the duplicate.
TEST(DeliveryIdFor, IsTheSameForTheSamePairAndDiffersOtherwise) {
  const std::string event = "6f1c2a8e-4b1d-4f4e-9d2a-0c1b2a3d4e5f";
  EXPECT_EQ(delivery_id_for("1", event), delivery_id_for("1", event));
  std::set<std::string> ids{delivery_id_for("1", event), delivery_id_for("2", event),
                            delivery_id_for("1", "6f1c2a8e-4b1d-4f4e-9d2a-0c1b2a3d4e60"),
                            // Length-prefixed parts: moving a character across the boundary
                            // makes another id.
                            delivery_id_for("12", "3"), delivery_id_for("1", "23")};
  EXPECT_EQ(ids.size(), 5u);
}

}  // namespace
}  // namespace keyflow
