// The webhook delivery log over HTTP: list with filters and pages, one delivery with its
// attempts, a retry and a recovery; tenancy through the deliveries' subscriptions.
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "consumers/delivery_fanout.hpp"
#include "consumers/delivery_retention.hpp"
#include "engine/core/time_format.hpp"
#include "tests/support/api_server.hpp"
#include "tests/support/standard_webhooks.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::expect_error;

class WebhookDeliveryLogTest : public ::testing::Test {
 protected:
  WebhookDeliveryLogTest() {
    org_a = id_of(server.create("/v1/organizations", {{"name", "a"}}));
    org_b = id_of(server.create("/v1/organizations", {{"name", "b"}}));
    reader_a = key(org_a, "READ");
    manager_a = key(org_a, "MANAGE");
    manager_b = key(org_b, "MANAGE");
    sub_a =
        id_of(server.create("/v1/webhooks/subscriptions",
                            {{"url", "https://hooks.example.com/a"}, {"organization_id", org_a}}));
    sub_b =
        id_of(server.create("/v1/webhooks/subscriptions",
                            {{"url", "https://hooks.example.com/b"}, {"organization_id", org_b}}));
  }

  static std::string id_of(const json::object& o) { return std::string(o.at("id").as_string()); }

  std::string key(const std::string& org, const char* scope) {
    return std::string(
        server
            .create("/v1/api-keys",
                    {{"organization_id", org}, {"name", scope}, {"scopes", json::array{scope}}})
            .at("key")
            .as_string());
  }

  // An event fanned out as the deliverer does; returns the delivery made for `subscription`.
  std::string deliver(const std::string& type, const std::string& org,
                      const std::string& subscription) {
    DeliveryFanout fanout(server.f.pool, server.f.clock);
    CloudEvent event;
    event.id = server.f.db.text("SELECT gen_random_uuid()");
    event.type = type;
    event.subject = "1";
    event.time = format_timestamp(server.f.clock.now());
    event.data = {{"organization_id", org}};
    fanout.fan_out(event);
    server.f.clock.advance(1ms);  // distinct created_at, so the newest-first order is known
    return server.f.db.text("SELECT id FROM webhook_deliveries WHERE event_id = '" + event.id +
                            "' AND subscription_id = " + subscription);
  }

  void mark(const std::string& delivery, const std::string& status, int code) {
    server.f.db.exec(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code,"
        " latency_ms, error, response_body) VALUES ('" +
        delivery + "', now(), " + std::to_string(code) + ", 12, NULL, 'answer " +
        std::to_string(code) +
        "');"
        "UPDATE webhook_deliveries SET status = '" +
        status + "', attempts = attempts + 1, last_status_code = " + std::to_string(code) +
        " WHERE id = '" + delivery + "'");
  }

  static std::vector<std::string> ids_in(const test::HttpResult& r) {
    std::vector<std::string> ids;
    const auto body = r.json();
    for (const auto& d : body.as_array())
      ids.emplace_back(d.at("id").as_string());
    return ids;
  }

  test::ApiServer server;
  std::string org_a, org_b, reader_a, manager_a, manager_b, sub_a, sub_b;
};

TEST_F(WebhookDeliveryLogTest, ListsNewestFirstFilteredAndPagedWithinTheCallersTenant) {
  const auto first = deliver("api_key.created", org_a, sub_a);
  const auto second = deliver("api_key.revoked", org_a, sub_a);
  const auto third = deliver("api_key.created", org_a, sub_a);
  const auto theirs = deliver("api_key.created", org_b, sub_b);
  mark(first, "dead", 500);

  const auto a = server.client(reader_a);
  EXPECT_EQ(ids_in(a.get("/v1/webhooks/deliveries")),
            (std::vector<std::string>{third, second, first}));
  EXPECT_EQ(ids_in(a.get("/api/v1/webhooks/deliveries?status=dead")),
            std::vector<std::string>{first});
  EXPECT_EQ(ids_in(a.get("/v1/webhooks/deliveries?event_type=api_key.revoked")),
            std::vector<std::string>{second});
  EXPECT_EQ(ids_in(a.get("/v1/webhooks/deliveries?subscription_id=" + sub_a)).size(), 3u);
  expect_error(a.get("/v1/webhooks/deliveries?subscription_id=" + sub_b), 404, "not_found");
  expect_error(a.get("/v1/webhooks/deliveries/" + theirs), 404, "not_found");
  expect_error(a.get("/v1/webhooks/deliveries?status=lost"), 422, "invalid_request", "status");
  expect_error(a.get("/v1/webhooks/deliveries/not-a-delivery"), 422, "invalid_request", "id");

  std::vector<std::string> paged;
  std::string path = "/v1/webhooks/deliveries?limit=2";
  for (int page = 0; page < 4; ++page) {
    const auto r = a.get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& id : ids_in(r))
      paged.push_back(id);
    const auto next = r.headers.find("x-next-cursor");
    if (next == r.headers.end()) break;
    path = "/v1/webhooks/deliveries?limit=2&cursor=" + next->second;
  }
  EXPECT_EQ(paged, (std::vector<std::string>{third, second, first}));
  // The admin sees every tenant's.
  EXPECT_EQ(ids_in(server.client().get("/v1/webhooks/deliveries")).size(), 4u);
}

TEST_F(WebhookDeliveryLogTest, OneDeliveryShowsItsBodyAndEveryAttempt) {
  const auto id = deliver("api_key.created", org_a, sub_a);
  mark(id, "pending", 503);
  mark(id, "succeeded", 204);
  const auto r = server.client(reader_a).get("/v1/webhooks/deliveries/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = r.json();
  EXPECT_EQ(body.at("status"), "succeeded");
  EXPECT_EQ(body.at("attempt_count"), 2);
  EXPECT_EQ(body.at("payload").at("id").as_string(), id);
  EXPECT_EQ(body.at("payload").at("event"), "api_key.created");
  const auto& attempts = body.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].at("status_code"), 503);
  EXPECT_EQ(attempts[0].at("response_body"), "answer 503");
  EXPECT_EQ(attempts[1].at("status_code"), 204);
  EXPECT_EQ(attempts[1].at("duration_ms"), 12);
}

TEST_F(WebhookDeliveryLogTest, RetryAndRecoverQueueWhatFailedAndNeedManage) {
  const auto dead = deliver("api_key.created", org_a, sub_a);
  const auto also_dead = deliver("api_key.updated", org_a, sub_a);
  const auto delivered = deliver("api_key.revoked", org_a, sub_a);
  mark(dead, "dead", 500);
  mark(also_dead, "dead", 500);
  mark(delivered, "succeeded", 200);
  const auto theirs = deliver("api_key.created", org_b, sub_b);
  mark(theirs, "dead", 500);

  expect_error(
      server.client(reader_a).request("POST", "/v1/webhooks/deliveries/" + dead + "/retry"), 403,
      "forbidden");
  expect_error(
      server.client(manager_b).request("POST", "/v1/webhooks/deliveries/" + dead + "/retry"), 404,
      "not_found");
  auto r =
      server.client(manager_a).request("POST", "/v1/webhooks/deliveries/" + delivered + "/retry");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(
      server.f.db.text("SELECT status FROM webhook_deliveries WHERE id = '" + delivered + "'"),
      "pending");

  const auto since = format_timestamp(server.f.clock.now() - 1h);
  expect_error(
      server.client(manager_b).request("POST", "/v1/webhooks/subscriptions/" + sub_a + "/recover",
                                       R"({"since": ")" + since + "\"}"),
      404, "not_found");
  expect_error(server.client(manager_a).request(
                   "POST", "/v1/webhooks/subscriptions/" + sub_a + "/recover",
                   R"({"since": ")" + format_timestamp(server.f.clock.now() - 15 * 24h) + "\"}"),
               422, "invalid_request", "since");
  r = server.client(manager_a).request("POST",
                                       "/api/v1/webhooks/subscriptions/" + sub_a + "/recover",
                                       R"({"since": ")" + since + "\"}");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json().at("queued"), 2);
  EXPECT_EQ(server.f.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'dead'"), 1)
      << "only the other organization's stays dead";
}

// POST …/test sends a signed webhook.test delivery at once and answers with its attempt; the
// delivery is in the log like any other.
TEST_F(WebhookDeliveryLogTest, ATestEventIsSentSignedAtOnceAndAnsweredWithItsAttempt) {
  test::WebhookReceiver receiver;
  const auto created = server.create("/v1/webhooks/subscriptions",
                                     {{"url", receiver.url()}, {"organization_id", org_a}});
  const auto subscription = id_of(created);
  const std::string secret(created.at("secret").as_string());

  for (const std::string prefix : {"/v1", "/api/v1"}) {
    const auto r = server.client(manager_a).request(
        "POST", prefix + "/webhooks/subscriptions/" + subscription + "/test");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto body = r.json();
    EXPECT_EQ(body.at("event_type"), "webhook.test");
    EXPECT_EQ(body.at("status"), "succeeded");
    EXPECT_EQ(body.at("payload").at("event"), "webhook.test");
    EXPECT_EQ(body.at("payload").at("resourceId").as_string(), subscription);
    const auto& attempts = body.at("attempts").as_array();
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].at("status_code"), 200);
    EXPECT_TRUE(attempts[0].at("error").is_null());
    server.f.clock.advance(1ms);  // distinct created_at, so the newest-first order is known
  }
  ASSERT_EQ(receiver.count(), 2u) << "sent before the answer, once each";
  const auto request = receiver.requests()[0];
  EXPECT_TRUE(test::standard_webhooks_accepts(secret, request));
  EXPECT_EQ(json::parse(request.body).at("event"), "webhook.test");
  EXPECT_TRUE(request.header("webhook-id").starts_with("msg_"));

  const auto listed = server.client(reader_a).get(
      "/v1/webhooks/deliveries?event_type=webhook.test&subscription_id=" + subscription);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(ids_in(listed).size(), 2u);
  EXPECT_EQ(ids_in(listed).back(), request.header("webhook-id"));
}

// A failed test attempt is recorded as such and left to the retry schedule; the test needs
// MANAGE on a subscription the caller can reach, and no body.
TEST_F(WebhookDeliveryLogTest, ATestEventToAFailingReceiverIsAnsweredAndRetriedLater) {
  test::WebhookReceiver receiver;
  receiver.set_status(503);
  receiver.set_answer("down for maintenance");
  const auto subscription = id_of(server.create(
      "/v1/webhooks/subscriptions", {{"url", receiver.url()}, {"organization_id", org_a}}));
  const auto path = "/v1/webhooks/subscriptions/" + subscription + "/test";

  expect_error(server.client(reader_a).request("POST", path), 403, "forbidden");
  expect_error(server.client(manager_b).request("POST", path), 404, "not_found");
  expect_error(server.client(manager_a).request("POST", path, R"({"event":"x"})"), 422,
               "invalid_request");
  EXPECT_EQ(receiver.count(), 0u);

  const auto r = server.client(manager_a).request("POST", path);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = r.json();
  EXPECT_EQ(body.at("status"), "pending");
  EXPECT_EQ(body.at("last_status_code"), 503);
  const auto& attempt = body.at("attempts").as_array().at(0);
  EXPECT_EQ(attempt.at("status_code"), 503);
  EXPECT_EQ(attempt.at("response_body"), "down for maintenance");
  EXPECT_EQ(server.f.db.text("SELECT (next_attempt_at > created_at + interval '3 seconds')::text"
                             " || ' ' || (locked_until IS NULL)::text FROM webhook_deliveries"
                             " WHERE event_type = 'webhook.test'"),
            "true true")
      << "due again 5 s (less jitter) later, its lease given back";
}

// Finished deliveries past retention go, with their attempts; pending ones and recent ones stay.
TEST_F(WebhookDeliveryLogTest, RetentionDeletesOnlyFinishedDeliveriesPastItInBatches) {
  std::vector<std::string> old_finished;
  for (int i = 0; i < 5; ++i) {
    old_finished.push_back(deliver("api_key.created", org_a, sub_a));
    mark(old_finished.back(), i % 2 == 0 ? "succeeded" : "dead", 200);
  }
  const auto old_pending = deliver("api_key.updated", org_a, sub_a);
  mark(old_pending, "pending", 503);
  server.f.db.exec("UPDATE webhook_deliveries SET updated_at = now() - interval '31 days'");
  const auto recent = deliver("api_key.revoked", org_a, sub_a);
  mark(recent, "succeeded", 200);

  DeliveryRetention retention(server.f.pool, server.f.clock, std::chrono::hours(24 * 30), 2);
  EXPECT_EQ(retention.run_once(), 5u);
  EXPECT_EQ(server.f.count("SELECT count(*) FROM webhook_deliveries"), 2);
  EXPECT_EQ(server.f.db.text("SELECT string_agg(id, ',' ORDER BY id) FROM webhook_deliveries"),
            std::min(old_pending, recent) + "," + std::max(old_pending, recent));
  EXPECT_EQ(server.f.count("SELECT count(*) FROM webhook_attempts"), 2);
  EXPECT_EQ(retention.run_once(), 0u);
}

}  // namespace
}  // namespace keyflow
