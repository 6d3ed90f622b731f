// Webhook subscriptions over HTTP: list, get, change, pause, delete, on both path prefixes;
// tenancy as for keys; the per-organization cap; wildcards and status in the fan-out.
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "consumers/delivery_fanout.hpp"
#include "engine/core/errc.hpp"
#include "tests/support/api_server.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using test::expect_error;

class WebhookSubscriptionsTest : public ::testing::Test {
 protected:
  WebhookSubscriptionsTest() {
    org_a = id_of(server.create("/v1/organizations", {{"name", "a"}}));
    org_b = id_of(server.create("/v1/organizations", {{"name", "b"}}));
    project_a = id_of(server.create("/v1/projects", {{"organization_id", org_a}, {"name", "a1"}}));
    manager_a = std::string(
        server
            .create("/v1/api-keys",
                    {{"organization_id", org_a}, {"name", "a"}, {"scopes", json::array{"MANAGE"}}})
            .at("key")
            .as_string());
    manager_b = std::string(
        server
            .create("/v1/api-keys",
                    {{"organization_id", org_b}, {"name", "b"}, {"scopes", json::array{"MANAGE"}}})
            .at("key")
            .as_string());
  }

  static std::string id_of(const json::object& o) { return std::string(o.at("id").as_string()); }

  json::object subscribe(const std::string& bearer, const json::object& body) {
    const auto r = server.client(bearer).post("/v1/webhooks/subscriptions", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().as_object();
  }

  static std::set<std::string> ids_in(const test::HttpResult& r) {
    std::set<std::string> ids;
    const auto body = r.json();
    for (const auto& s : body.as_array())
      ids.insert(std::string(s.at("id").as_string()));
    return ids;
  }

  long events(const std::string& type) {
    return server.f.count("SELECT count(*) FROM outbox WHERE event_type = '" + type + "'");
  }

  test::ApiServer server;
  std::string org_a, org_b, project_a, manager_a, manager_b;
};

TEST_F(WebhookSubscriptionsTest, EachRouteServesBothPrefixesAndNeverShowsTheSecret) {
  const auto created = subscribe(manager_a, {{"url", "https://hooks.example.com/a"},
                                             {"event_types", json::array{"api_key.*"}},
                                             {"description", "billing"}});
  const auto id = id_of(created);
  for (const std::string prefix : {"/v1", "/api/v1"}) {
    const auto path = prefix + "/webhooks/subscriptions";
    const auto got = server.client(manager_a).get(path + "/" + id);
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(got.json().at("description"), "billing");
    EXPECT_EQ(got.json().at("status"), "enabled");
    EXPECT_FALSE(got.json().as_object().contains("secret"));
    const auto listed = server.client(manager_a).get(path);
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(ids_in(listed), std::set<std::string>{id});
    EXPECT_EQ(listed.body.find("whsec_"), std::string::npos);
  }
  EXPECT_TRUE(created.at("public_key").is_null());
  const auto signed_too =
      subscribe(manager_a, {{"url", "https://hooks.example.com/signed"}, {"ed25519", true}});
  EXPECT_TRUE(signed_too.at("public_key").as_string().starts_with("whpk_"));
  expect_error(
      server.client(manager_a).post("/v1/webhooks/subscriptions",
                                    {{"url", "https://hooks.example.com/x"}, {"ed25519", "yes"}}),
      422, "invalid_request", "ed25519");
  const auto patched = server.client(manager_a).patch("/api/v1/webhooks/subscriptions/" + id,
                                                      {{"description", nullptr}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_TRUE(patched.json().at("description").is_null());
  EXPECT_EQ(server.client(manager_a).del("/api/v1/webhooks/subscriptions/" + id).status, 204);
  expect_error(server.client(manager_a).get("/v1/webhooks/subscriptions/" + id), 404, "not_found");
}

TEST_F(WebhookSubscriptionsTest, AnotherOrganizationsSubscriptionIsNotFoundAndNeverListed) {
  const auto mine = id_of(subscribe(manager_a, {{"url", "https://hooks.example.com/a"}}));
  const auto theirs = id_of(subscribe(manager_b, {{"url", "https://hooks.example.com/b"}}));
  const auto admins =
      id_of(subscribe(test::kAdminToken, {{"url", "https://hooks.example.com/all"}}));
  const auto a = server.client(manager_a);
  const long changes_before = server.f.count("SELECT count(*) FROM outbox");

  for (const auto& id : {theirs, admins}) {
    expect_error(a.get("/v1/webhooks/subscriptions/" + id), 404, "not_found");
    expect_error(a.patch("/v1/webhooks/subscriptions/" + id, {{"status", "paused"}}), 404,
                 "not_found");
    expect_error(a.del("/v1/webhooks/subscriptions/" + id), 404, "not_found");
  }
  EXPECT_EQ(ids_in(a.get("/v1/webhooks/subscriptions")), std::set<std::string>{mine});
  expect_error(a.get("/v1/webhooks/subscriptions?organization_id=" + org_b), 404, "not_found");
  EXPECT_EQ(server.f.count("SELECT count(*) FROM outbox"), changes_before);
  EXPECT_EQ(server.f.count("SELECT count(*) FROM webhook_subscriptions WHERE status = 'enabled'"),
            3);

  // The admin sees every tenant's, or one organization's when it asks.
  const auto all = server.client().get("/v1/webhooks/subscriptions");
  EXPECT_EQ(ids_in(all), (std::set<std::string>{mine, theirs, admins}));
  EXPECT_EQ(ids_in(server.client().get("/v1/webhooks/subscriptions?organization_id=" + org_b)),
            std::set<std::string>{theirs});
}

TEST_F(WebhookSubscriptionsTest, ListsPageThroughEverySubscriptionOnce) {
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.insert(
        id_of(subscribe(manager_a, {{"url", "https://hooks.example.com/" + std::to_string(i)}})));
  }
  std::set<std::string> seen;
  std::string path = "/v1/webhooks/subscriptions?limit=2";
  for (int page = 0; page < 5; ++page) {
    const auto r = server.client(manager_a).get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& id : ids_in(r))
      EXPECT_TRUE(seen.insert(id).second) << id << " on two pages";
    const auto next = r.headers.find("x-next-cursor");
    if (next == r.headers.end()) break;
    path = "/v1/webhooks/subscriptions?limit=2&cursor=" + next->second;
  }
  EXPECT_EQ(seen, created);
  expect_error(server.client(manager_a).get("/v1/webhooks/subscriptions?limit=0"), 422,
               "invalid_request", "limit");
}

TEST_F(WebhookSubscriptionsTest, ChangesEmitOneEventNamingWhatChangedAndNothingWhenNothingDid) {
  const auto id = id_of(subscribe(manager_a, {{"url", "https://hooks.example.com/a"}}));
  const auto a = server.client(manager_a);
  auto r = a.patch("/v1/webhooks/subscriptions/" + id,
                   {{"status", "paused"}, {"event_types", json::array{"api_key.revoked"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("status"), "paused");
  EXPECT_EQ(events("webhook_subscription.updated"), 1);
  EXPECT_EQ(server.f.db.text("SELECT payload->'changed_fields' FROM outbox"
                             " WHERE event_type = 'webhook_subscription.updated'"),
            R"(["event_types", "status"])");
  // The same again changes nothing and emits nothing.
  EXPECT_EQ(a.patch("/v1/webhooks/subscriptions/" + id, {{"status", "paused"}}).status, 200);
  EXPECT_EQ(events("webhook_subscription.updated"), 1);

  r = a.patch("/v1/webhooks/subscriptions/" + id, {{"enabled", false}});
  EXPECT_EQ(r.json().at("status"), "disabled");
  EXPECT_EQ(r.json().at("disabled_reason"), "disabled by a caller");
  r = a.patch("/v1/webhooks/subscriptions/" + id, {{"enabled", true}});
  EXPECT_EQ(r.json().at("status"), "enabled");
  EXPECT_TRUE(r.json().at("disabled_reason").is_null());

  expect_error(a.patch("/v1/webhooks/subscriptions/" + id, {{"status", "gone"}}), 422,
               "invalid_request", "status");
  expect_error(a.patch("/v1/webhooks/subscriptions/" + id, {{"url", "http://10.1.2.3/"}}), 422,
               "invalid_request", "url");
  expect_error(
      a.patch("/v1/webhooks/subscriptions/" + id, {{"event_types", json::array{"nothing.*"}}}), 422,
      "invalid_request", "event_types");
  expect_error(a.patch("/v1/webhooks/subscriptions/" + id, {{"secret", "whsec_x"}}), 422,
               "invalid_request", "secret");
  EXPECT_EQ(a.del("/v1/webhooks/subscriptions/" + id).status, 204);
  EXPECT_EQ(events("webhook_subscription.deleted"), 1);
  expect_error(a.del("/v1/webhooks/subscriptions/" + id), 404, "not_found");
}

// retry_schedule and rate_limit: shown, changed, cleared by null, refused out of range.
TEST_F(WebhookSubscriptionsTest, ARetryScheduleAndARateLimitAreKeptChangedAndCleared) {
  const auto created = subscribe(manager_a, {{"url", "https://hooks.example.com/a"},
                                             {"retry_schedule", json::array{0, 10, 60}},
                                             {"rate_limit", 20}});
  EXPECT_EQ(created.at("retry_schedule"), (json::array{0, 10, 60}));
  EXPECT_EQ(created.at("rate_limit"), 20);
  const auto id = id_of(created);
  const auto path = "/v1/webhooks/subscriptions/" + id;
  const auto a = server.client(manager_a);
  auto r = a.patch(path, {{"rate_limit", 5}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("rate_limit"), 5);
  EXPECT_EQ(server.f.db.text("SELECT payload->'changed_fields' FROM outbox"
                             " WHERE event_type = 'webhook_subscription.updated'"),
            R"(["rate_limit"])");
  r = a.patch(path, {{"retry_schedule", nullptr}, {"rate_limit", nullptr}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("retry_schedule").is_null());
  EXPECT_TRUE(r.json().at("rate_limit").is_null());
  EXPECT_TRUE(a.get(path).json().at("retry_schedule").is_null());

  const json::array too_long(21, json::value(1));
  for (const auto& bad :
       {json::value(json::array{}), json::value(json::array{5, 10}),
        json::value(json::array{0, 86401}), json::value(json::array{0, -1}), json::value(too_long),
        json::value("0,5"), json::value(json::array{0, 1.5})}) {
    expect_error(a.patch(path, {{"retry_schedule", bad}}), 422, "invalid_request",
                 "retry_schedule");
    expect_error(server.client(manager_a).post(
                     "/v1/webhooks/subscriptions",
                     {{"url", "https://hooks.example.com/b"}, {"retry_schedule", bad}}),
                 422, "invalid_request", "retry_schedule");
  }
  for (const auto& bad :
       {json::value(0), json::value(10001), json::value(-3), json::value("5"), json::value(2.5)}) {
    expect_error(a.patch(path, {{"rate_limit", bad}}), 422, "invalid_request", "rate_limit");
  }
  EXPECT_EQ(server.f.count("SELECT count(*) FROM webhook_subscriptions"), 1)
      << "nothing refused was created";
}

TEST_F(WebhookSubscriptionsTest, TheSecretIsShownToItsManagersAndRotatesWithAnOverlap) {
  const auto created = subscribe(manager_a, {{"url", "https://hooks.example.com/a"}});
  const auto id = id_of(created);
  const auto path = "/v1/webhooks/subscriptions/" + id;
  const auto a = server.client(manager_a);
  auto r = a.get(path + "/secret");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("secret"), created.at("secret"));
  expect_error(server.client(manager_b).get(path + "/secret"), 404, "not_found");
  expect_error(server.client(manager_b).request("POST", path + "/rotate-secret"), 404, "not_found");

  r = a.request("POST", "/api/v1/webhooks/subscriptions/" + id + "/rotate-secret",
                R"({"overlap_seconds": 600})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto fresh = std::string(r.json().at("secret").as_string());
  EXPECT_TRUE(fresh.starts_with("whsec_"));
  EXPECT_NE(fresh, created.at("secret").as_string());
  EXPECT_FALSE(r.json().at("previous_secret_expires_at").is_null());
  EXPECT_EQ(a.get(path + "/secret").json().at("secret").as_string(), fresh);
  EXPECT_EQ(server.f.db.text("SELECT payload->'changed_fields' FROM outbox"
                             " WHERE event_type = 'webhook_subscription.updated'"),
            R"(["secret"])");
  EXPECT_EQ(server.f.count("SELECT count(*) FROM outbox WHERE payload::text LIKE '%whsec_%'"), 0);
  expect_error(a.request("POST", path + "/rotate-secret", R"({"overlap_seconds": 604801})"), 422,
               "invalid_request", "overlap_seconds");
  r = a.request("POST", path + "/rotate-secret", R"({"overlap_seconds": 0})");
  EXPECT_TRUE(r.json().at("previous_secret_expires_at").is_null());
}

TEST(WebhookSubscriptionCap, AnOrganizationHoldsAtMostItsCapAndADeletionFreesASlot) {
  test::EngineFixture f;
  SubscriptionService service(f.pool, f.master_key, f.clock, {}, 2);
  const auto project = f.make_project("capped");
  NewSubscription request;
  request.url = "https://hooks.example.com/x";
  request.project_id = project.id;
  const auto first = service.create(Actor::admin(), request);
  service.create(Actor::admin(), request);
  try {
    service.create(Actor::admin(), request);
    ADD_FAILURE() << "a third subscription was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::limit_exceeded);
  }
  EXPECT_EQ(f.count("SELECT count(*) FROM webhook_subscriptions"), 2);
  service.remove(Actor::admin(), first.subscription.id);
  EXPECT_NO_THROW(service.create(Actor::admin(), request));
}

// A wildcard covers every type of its aggregate; a paused or deleted subscription gets nothing.
TEST(WebhookSubscriptionFanOut, WildcardsMatchTheirAggregateAndOnlyEnabledSubscriptionsMatch) {
  test::EngineFixture f;
  const auto project = f.make_project("fan-out");
  const auto subscribe = [&](std::vector<std::string> types) {
    NewSubscription request;
    request.url = "https://hooks.example.com/x";
    request.project_id = project.id;
    request.event_types = std::move(types);
    return f.subscriptions.create(Actor::admin(), request).subscription.id;
  };
  const auto keys = subscribe({"api_key.*"});
  const auto created_only = subscribe({"api_key.created"});
  const auto connections = subscribe({"connection.*"});
  const auto paused = subscribe({});
  const auto deleted = subscribe({});
  SubscriptionPatch pause;
  pause.status = "paused";
  f.subscriptions.update(Actor::admin(), paused, pause);
  f.subscriptions.remove(Actor::admin(), deleted);

  DeliveryFanout fanout(f.pool, f.clock);
  const auto fan_out = [&](const std::string& type, const std::string& event_id) {
    CloudEvent event;
    event.id = event_id;
    event.type = type;
    event.subject = "1";
    event.time = "2026-12-01T00:00:00Z";
    event.data = {{"organization_id", project.organization_id}, {"project_id", project.id}};
    return fanout.fan_out(event).matched;
  };
  EXPECT_EQ(fan_out("api_key.revoked", "00000000-0000-4000-8000-000000000001"), 1u);
  EXPECT_EQ(fan_out("api_key.created", "00000000-0000-4000-8000-000000000002"), 2u);
  EXPECT_EQ(fan_out("connection.created", "00000000-0000-4000-8000-000000000003"), 1u);
  EXPECT_EQ(f.count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id IN (" + paused +
                    ", " + deleted + ")"),
            0);
  EXPECT_EQ(f.count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = " + keys), 2);
  EXPECT_EQ(
      f.count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = " + created_only),
      1);
  EXPECT_EQ(
      f.count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = " + connections), 1);
}

}  // namespace
}  // namespace keyflow
