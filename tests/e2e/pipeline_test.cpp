// The whole pipeline through the keyflowd binary: HTTP → PostgreSQL + outbox → relay → Kafka
// (embedded broker) → deliver → a signed webhook on a loopback receiver; and the scheduler.
#include <csignal>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/encoding.hpp"
#include "engine/time_format.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_test_client.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
constexpr const char* kAdminToken = "e2e-admin-token";

// Standard Webhooks verification written against OpenSSL, independently of keyflow's signer:
// base64(HMAC-SHA256(base64decode(secret without whsec_), "id.timestamp.body")).
bool standard_webhooks_accepts(const std::string& secret, const test::ReceivedRequest& req) {
  const auto key = base64_decode(std::string_view(secret).substr(6));
  if (!key) return false;
  const std::string content =
      req.header("webhook-id") + "." + req.header("webhook-timestamp") + "." + req.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  const std::string expected = "v1," + base64_encode({mac, mac_len});
  const std::string header = req.header("webhook-signature");
  std::size_t start = 0;
  while (start < header.size()) {
    auto end = header.find(' ', start);
    if (end == std::string::npos) end = header.size();
    if (header.substr(start, end - start) == expected) return true;
    start = end + 1;
  }
  return false;
}

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() {
    keyflowd_.emplace(KEYFLOWD_PATH, std::vector<std::string>{"all"},
                      std::map<std::string, std::string>{
                          {"KEYFLOW_DATABASE_URL", db_.url()},
                          {"KEYFLOW_KAFKA_BROKERS", "embedded"},
                          {"KEYFLOW_HTTP_ADDR", "127.0.0.1:0"},
                          {"KEYFLOW_ADMIN_TOKEN", kAdminToken},
                          {"KEYFLOW_MASTER_KEY", test::kTestMasterKey},
                          {"KEYFLOW_WEBHOOK_ALLOW_PRIVATE", "true"},
                      });
    auto bootstrap = keyflowd_->wait_for_line("kafka bootstrap ", 30s);
    auto http = keyflowd_->wait_for_line("http listening on ", 30s);
    if (!bootstrap || !http) throw std::runtime_error("keyflowd did not start");
    bootstrap_ = *bootstrap;
    const auto colon = http->rfind(':');
    port_ = static_cast<unsigned short>(std::stoi(http->substr(colon + 1)));
  }

  test::HttpTestClient client() const { return {"127.0.0.1", port_, kAdminToken}; }

  json::object post(const std::string& path, const json::value& body, int expected = 201) {
    const auto r = client().post(path, body);
    EXPECT_EQ(r.status, expected) << path << " " << r.body;
    return r.json().as_object();
  }

  test::TestDatabase db_;
  std::optional<test::ChildProcess> keyflowd_;
  std::string bootstrap_;
  unsigned short port_ = 0;
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
  test::KafkaTestConsumer consumer(bootstrap_, "keyflow.api_keys");
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
  const test::HttpTestClient anonymous("127.0.0.1", port_);
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
  keyflowd_->signal(SIGTERM);
  const auto status = keyflowd_->wait(15s);
  ASSERT_TRUE(status.has_value()) << "keyflowd did not stop";
  EXPECT_EQ(*status, 0);
}

}  // namespace
}  // namespace keyflow
