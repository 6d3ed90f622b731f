// The whole pipeline through the keyflowd binary: HTTP → PostgreSQL + outbox → relay → Kafka
// (embedded broker) → deliver → a signed webhook on a loopback receiver; and the scheduler.
#include <csignal>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/core/encoding.hpp"
#include "engine/core/time_format.hpp"
#include "tests/support/http_test_client.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/standard_webhooks.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::standard_webhooks_accepts;

class PipelineTest : public ::testing::Test {
 protected:
  test::HttpTestClient client() const { return keyflowd_.client(); }

  json::object post(const std::string& path, const json::value& body, int expected = 201) {
    const auto r = client().post(path, body);
    EXPECT_EQ(r.status, expected) << path << " " << r.body;
    return r.json().as_object();
  }

  test::TestDatabase db_;
  test::RunningKeyflowd keyflowd_{KEYFLOWD_PATH, db_.url()};
};

TEST_F(PipelineTest, CreatedKeyReachesKafkaAndASignedWebhook) {
  test::WebhookReceiver receiver;
  const auto org = post("/v1/organizations", {{"name", "acme"}});
  const auto project =
      post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "payments"}});
  const auto subscription =
      post("/api/v1/webhooks/subscriptions",
           {{"url", receiver.url()}, {"event_types", json::array{"api_key.created"}}});
  const std::string secret(subscription.at("secret").as_string());

  const auto key = post("/v1/api-keys", {{"project_id", project.at("id")},
                                         {"name", "checkout"},
                                         {"scopes", json::array{"READ", "orders:write"}}});
  const std::string key_id(key.at("id").as_string());
  const std::string plaintext(key.at("key").as_string());

  // The signed webhook.
  ASSERT_TRUE(receiver.wait_for(1, 30s)) << "no webhook arrived";
  const auto delivery = receiver.requests().front();
  EXPECT_EQ(delivery.method, "POST");
  EXPECT_TRUE(standard_webhooks_accepts(secret, delivery)) << delivery.header("webhook-signature");
  const auto timestamp = std::stoll(delivery.header("webhook-timestamp"));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_LE(std::llabs(now - timestamp), 60);
  const auto body = json::parse(delivery.body).as_object();
  EXPECT_EQ(body.at("id").as_string(), delivery.header("webhook-id"));
  EXPECT_EQ(body.at("event").as_string(), "api_key.created");
  EXPECT_EQ(body.at("resource").as_string(), "api_key");
  EXPECT_EQ(body.at("resourceId").as_string(), key_id);
  EXPECT_TRUE(parse_timestamp(body.at("timestamp").as_string()).has_value());
  EXPECT_FALSE(body.at("apiVersion").as_string().empty());
  EXPECT_EQ(body.at("data").at("id").as_string(), key_id);
  EXPECT_EQ(body.at("data").at("project_id").as_string(), project.at("id").as_string());
  EXPECT_EQ(delivery.body.find(plaintext), std::string::npos) << "plaintext key in a webhook";

  // The CloudEvent on Kafka, read by a plain Kafka client.
  test::KafkaTestConsumer consumer(keyflowd_.bootstrap(), "keyflow.api_keys");
  const auto messages = consumer.wait_for(1, 30s);
  ASSERT_GE(messages.size(), 1u);
  const auto& m = messages.front();
  EXPECT_EQ(m.key, key_id);
  EXPECT_EQ(m.headers.at("ce_specversion"), "1.0");
  EXPECT_EQ(m.headers.at("ce_type"), "api_key.created");
  EXPECT_EQ(m.headers.at("ce_subject"), key_id);
  EXPECT_FALSE(m.headers.at("ce_id").empty());
  EXPECT_FALSE(m.headers.at("ce_source").empty());
  EXPECT_TRUE(parse_timestamp(m.headers.at("ce_time")).has_value());
  EXPECT_EQ(m.headers.at("content-type"), "application/json");
  EXPECT_EQ(json::parse(m.value).at("id").as_string(), key_id);
  EXPECT_EQ(m.value.find(plaintext), std::string::npos) << "plaintext key in an event";

  // And the key works.
  const auto verified = client().post("/v1/api-keys/verify", {{"key", plaintext}});
  EXPECT_EQ(verified.json().at("code").as_string(), "VALID");
}

// A W3C traceparent sent with the request that changes a key goes with its event: into the
// Kafka headers (ce_traceparent and traceparent) and the webhook POST; a request without one
// leaves both out, and a malformed one is dropped.
TEST_F(PipelineTest, TheRequestsTraceparentReachesKafkaAndTheWebhook) {
  constexpr const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  test::WebhookReceiver receiver;
  const auto org = post("/v1/organizations", {{"name", "acme"}});
  const auto project =
      post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "payments"}});
  post("/api/v1/webhooks/subscriptions",
       {{"url", receiver.url()}, {"event_types", json::array{"api_key.created"}}});
  const auto create = [&](const char* traceparent) {
    std::map<std::string, std::string> headers;
    if (traceparent != nullptr) headers["traceparent"] = traceparent;
    const auto r = client().request(
        "POST", "/v1/api-keys",
        json::serialize(json::object{{"project_id", project.at("id")}, {"name", "k"}}), headers);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().at("id").as_string());
  };
  const auto traced = create(kTrace);
  const auto untraced = create(nullptr);
  const auto malformed = create("00-not-a-trace-context");

  test::KafkaTestConsumer consumer(keyflowd_.bootstrap(), "keyflow.api_keys");
  const auto messages = consumer.wait_for(3, 30s);
  ASSERT_EQ(messages.size(), 3u);
  for (const auto& m : messages) {
    SCOPED_TRACE(m.key);
    if (m.key == traced) {
      EXPECT_EQ(m.headers.at("ce_traceparent"), kTrace);
      EXPECT_EQ(m.headers.at("traceparent"), kTrace);
    } else {
      EXPECT_TRUE(m.key == untraced || m.key == malformed);
      EXPECT_FALSE(m.headers.contains("ce_traceparent"));
      EXPECT_FALSE(m.headers.contains("traceparent"));
    }
  }
  ASSERT_TRUE(receiver.wait_for(3, 30s)) << "the webhooks did not arrive";
  int with_trace = 0;
  for (const auto& delivery : receiver.requests()) {
    const auto resource = json::parse(delivery.body).at("resourceId").as_string();
    if (resource == traced) {
      EXPECT_EQ(delivery.header("traceparent"), kTrace);
      ++with_trace;
    } else {
      EXPECT_EQ(delivery.header("traceparent"), "");
    }
  }
  EXPECT_EQ(with_trace, 1);
}

// The lock-out, closed: a key rotated on schedule reaches its owner's rotation
// webhook, signed with the secret the owner was given, and the new key works.
TEST_F(PipelineTest, SchedulerRotatesADueKeyAndHandsTheNewKeyToItsOwner) {
  test::WebhookReceiver subscriber;
  test::WebhookReceiver owner;
  const auto org = post("/v1/organizations", {{"name", "acme"}});
  const auto project = post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}});
  post("/v1/webhooks/subscriptions",
       {{"url", subscriber.url()}, {"event_types", json::array{"api_key.rotated"}}});
  const auto due = format_timestamp(std::chrono::system_clock::now() + 1s);
  const auto key = post("/v1/api-keys", {{"project_id", project.at("id")},
                                         {"name", "rotating"},
                                         {"rotation_interval_days", 30},
                                         {"next_rotation_at", due},
                                         {"rotation_webhook_url", owner.url("/rotated")}});
  const std::string key_id(key.at("id").as_string());
  const std::string secret(key.at("rotation_webhook_secret").as_string());

  ASSERT_TRUE(owner.wait_for(1, 30s)) << "the new key never reached its owner";
  const auto delivery = owner.requests().front();
  EXPECT_TRUE(standard_webhooks_accepts(secret, delivery))
      << "the rotation webhook's signature does not verify with the key's secret";
  const auto body = json::parse(delivery.body).as_object();
  EXPECT_EQ(body.at("event").as_string(), "api_key.rotated");
  EXPECT_EQ(body.at("resourceId").as_string(), key_id);
  const auto& data = body.at("data").as_object();
  EXPECT_EQ(data.at("old_key_id").as_string(), key_id);
  const auto new_key = data.at("key");
  EXPECT_EQ(client().post("/v1/api-keys/verify", {{"key", new_key}}).json().at("code"), "VALID");

  ASSERT_TRUE(subscriber.wait_for(1, 30s)) << "no api_key.rotated webhook";
  const auto old = client().get("/v1/api-keys/" + key_id).json();
  ASSERT_FALSE(old.at("replaced_by_key_id").is_null());
  EXPECT_EQ(old.at("replaced_by_key_id"), data.at("new_key_id"));
  const auto fresh =
      client().get("/v1/api-keys/" + std::string(old.at("replaced_by_key_id").as_string())).json();
  EXPECT_EQ(fresh.at("rotation_interval_days").as_int64(), 30);
  EXPECT_FALSE(fresh.at("next_rotation_at").is_null());
  EXPECT_EQ(fresh.at("rotated_from").as_string(), key_id);
  // Inside the grace period the old key still verifies.
  EXPECT_EQ(client().post("/v1/api-keys/verify", {{"key", key.at("key")}}).json().at("code"),
            "VALID");
}

TEST_F(PipelineTest, HealthReadinessAndAuthThroughTheBinary) {
  const test::HttpTestClient anonymous("127.0.0.1", keyflowd_.port());
  EXPECT_EQ(anonymous.get("/healthz").status, 200);
  // Ready once the relay has connected to the embedded broker.
  int ready = 0;
  for (int i = 0; i < 100 && ready != 200; ++i) {
    ready = anonymous.get("/readyz").status;
    if (ready != 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(ready, 200);
  const auto denied = anonymous.post("/v1/organizations", {{"name", "x"}});
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.json().at("error").at("code").as_string(), "unauthorized");
}

TEST_F(PipelineTest, StopsCleanlyOnSigterm) {
  keyflowd_.process().signal(SIGTERM);
  const auto status = keyflowd_.process().wait(15s);
  ASSERT_TRUE(status.has_value()) << "keyflowd did not stop";
  EXPECT_EQ(*status, 0);
}

}  // namespace
}  // namespace keyflow
