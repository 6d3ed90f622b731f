#include "consumers/delivery_payload.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace keyflow {
namespace {

// The body is put together from its parts; it must be the very bytes Boost.JSON gives for the
// same object, escapes included, since receivers verify signatures over those bytes.
TEST(DeliveryBody, IsTheSerializedObjectInTheDocumentedOrder) {
  CloudEvent event;
  event.type = "api_key.updated";
  event.subject = "4503599627370497";
  event.time = "2026-12-07T10:00:00.123Z";
  event.data = boost::json::parse(
                   R"({"name":"quote \" backslash \\ tab \t line \n bell \u0007 é 😀","n":1.5,)"
                   R"("list":[true,null,{"x":"y"}]})")
                   .as_object();

  const auto body = delivery_body("msg_2Zx\"\\", event);

  boost::json::object expected;
  expected["id"] = "msg_2Zx\"\\";
  expected["event"] = "api_key.updated";
  expected["resource"] = "api_key";
  expected["resourceId"] = "4503599627370497";
  expected["timestamp"] = "2026-12-07T10:00:00.123Z";
  expected["apiVersion"] = kWebhookApiVersion;
  expected["data"] = event.data;
  EXPECT_EQ(body, boost::json::serialize(expected));
  EXPECT_EQ(body, delivery_body("msg_2Zx\"\\", event, delivery_data(event)));
}

}  // namespace
}  // namespace keyflow
