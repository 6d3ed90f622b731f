// What users of key services rely on beyond create/verify: environments, filtered and paged
// lists, PATCH, enable/disable, meta, source-address fences, required scopes, last_used_at.
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/core/time_format.hpp"
#include "tests/support/api_server.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::expect_error;

class KeyFeaturesTest : public ::testing::Test {
 protected:
  KeyFeaturesTest() {
    const auto org = server.create("/v1/organizations", {{"name", "acme"}});
    project = std::string(
        server.create("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}})
            .at("id")
            .as_string());
  }

  json::object make_key(json::object extra = {}) {
    extra["project_id"] = project;
    if (!extra.contains("name")) extra["name"] = "k";
    return server.create("/v1/api-keys", extra);
  }
  json::value verify(const json::object& body) {
    const auto r = server.client().post("/v1/api-keys/verify", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  std::string code_of(const json::object& body) {
    return std::string(verify(body).at("code").as_string());
  }

  test::ApiServer server;
  std::string project;
};

TEST_F(KeyFeaturesTest, EnvironmentNamesTheKeyPrefix) {
  const auto env = server.create("/v1/projects/" + project + "/environments", {{"name", "live"}});
  const auto key = make_key({{"environment_id", env.at("id")}});
  EXPECT_TRUE(key.at("key").as_string().starts_with("kf_live_"));
  EXPECT_EQ(key.at("environment_id"), env.at("id"));
  EXPECT_EQ(
      server.client().get("/v1/projects/" + project + "/environments").json().as_array().size(),
      1u);
  expect_error(
      server.client().post("/v1/projects/" + project + "/environments", {{"name", "live"}}), 409,
      "conflict", "name");
  expect_error(
      server.client().post("/v1/projects/" + project + "/environments", {{"name", "Live!"}}), 422,
      "invalid_request", "name");
  // Rotation keeps the environment in the new key's text.
  const auto rotated = server.client().post(
      "/v1/api-keys/" + std::string(key.at("id").as_string()) + "/rotate", json::object{});
  EXPECT_TRUE(rotated.json().at("key").as_string().starts_with("kf_live_"));
}

TEST_F(KeyFeaturesTest, ListFiltersByStateAndPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.emplace_back(make_key({{"name", "k" + std::to_string(i)}}).at("id").as_string());
    server.f.clock.advance(1s);
  }
  const auto soon = make_key({{"name", "soon"}, {"expires_at", "2199-01-01T00:00:00Z"}});
  ASSERT_EQ(server.client().del("/v1/api-keys/" + ids[0]).status, 204);
  // Expire one by moving it past expires_at through PATCH and the clock.
  const auto expiring = make_key({{"name", "expiring"}});
  const std::string expiring_id(expiring.at("id").as_string());
  auto c = server.client();
  ASSERT_EQ(c.request("PATCH", "/v1/api-keys/" + expiring_id,
                      json::serialize(json::object{
                          {"expires_at", json::value(std::string("2100-01-01T00:00:00Z"))}}))
                .status,
            200);
  server.f.clock.set(*parse_timestamp("2100-01-02T00:00:00Z"));

  auto count = [&](const std::string& query) {
    const auto r = c.get("/v1/api-keys?project_id=" + project + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().as_array().size();
  };
  EXPECT_EQ(count(""), 7u);
  EXPECT_EQ(count("&state=revoked"), 1u);
  EXPECT_EQ(count("&state=expired"), 1u);
  EXPECT_EQ(count("&state=active"), 5u);  // four k's and "soon"
  (void)soon;

  // Pages of two, following the cursor: every key once, newest first.
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    const auto r = c.get("/v1/api-keys?project_id=" + project + "&limit=2" +
                         (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto keys = r.json();
    for (const auto& k : keys.as_array())
      seen.emplace_back(k.at("id").as_string());
    const auto next = r.headers.find("x-next-cursor");
    if (next == r.headers.end()) break;
    EXPECT_NE(r.headers.at("link").find("rel=\"next\""), std::string::npos);
    cursor.clear();
    for (char ch : next->second) {  // percent-encode what base64 may hold
      if (std::isalnum(static_cast<unsigned char>(ch))) {
        cursor += ch;
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(ch));
        cursor += buf;
      }
    }
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 7u);
  EXPECT_EQ(seen.back(), ids[0]) << "oldest last";
  expect_error(c.get("/v1/api-keys?project_id=" + project + "&limit=0"), 422, "invalid_request",
               "limit");
  expect_error(c.get("/v1/api-keys?project_id=" + project + "&cursor=bogus"), 422,
               "invalid_request", "cursor");
  expect_error(c.get("/v1/api-keys?project_id=" + project + "&state=sleeping"), 422,
               "invalid_request", "state");
}

TEST_F(KeyFeaturesTest, PatchChangesFieldsAndEmitsUpdatedWithTheChanges) {
  const auto key = make_key({{"scopes", json::array{"READ"}}});
  const std::string id(key.at("id").as_string());
  auto c = server.client();
  const auto r = c.request(
      "PATCH", "/v1/api-keys/" + id,
      R"({"name":"renamed","scopes":["READ","orders:read"],"meta":{"team":"billing"},"rotation_interval_days":30,"rotation_webhook_url":"https://hooks.example.com/r"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("rotation_webhook_secret").as_string().starts_with("whsec_"));
  EXPECT_EQ(r.json().at("name").as_string(), "renamed");
  EXPECT_EQ(r.json().at("meta").at("team").as_string(), "billing");
  EXPECT_FALSE(r.json().at("next_rotation_at").is_null());
  const auto event = server.f.pool.transact([](pqxx::work& txn) {
    return json::parse(
        txn.exec1("SELECT payload::text FROM outbox WHERE event_type = 'api_key.updated'")[0]
            .c_str());
  });
  std::set<std::string> changed;
  for (const auto& f : event.at("changed_fields").as_array())
    changed.emplace(f.as_string());
  EXPECT_EQ(changed, (std::set<std::string>{"name", "scopes", "meta", "rotation_interval_days",
                                            "next_rotation_at", "rotation_webhook_url"}));
  EXPECT_EQ(event.at("previous").at("name").as_string(), "k");

  // The same values again change nothing and emit nothing.
  ASSERT_EQ(c.request("PATCH", "/v1/api-keys/" + id, R"({"name":"renamed"})").status, 200);
  EXPECT_EQ(server.f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.updated'"), 1);
  // null clears a nullable field; a required one cannot be null.
  EXPECT_TRUE(
      c.request("PATCH", "/v1/api-keys/" + id, R"({"meta":null})").json().at("meta").is_null());
  expect_error(c.request("PATCH", "/v1/api-keys/" + id, R"({"name":null})"), 422, "invalid_request",
               "name");
  expect_error(c.request("PATCH", "/v1/api-keys/" + id, R"({"key_prefix":"x"})"), 422,
               "invalid_request", "key_prefix");
  ASSERT_EQ(c.del("/v1/api-keys/" + id).status, 204);
  expect_error(c.request("PATCH", "/v1/api-keys/" + id, R"({"name":"late"})"), 409, "key_revoked",
               "id");
}

TEST_F(KeyFeaturesTest, DisabledKeysAnswerDisabledUntilEnabledAgain) {
  const auto key = make_key();
  const std::string id(key.at("id").as_string());
  auto c = server.client();
  ASSERT_EQ(c.request("PATCH", "/v1/api-keys/" + id, R"({"enabled":false})").status, 200);
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "DISABLED");
  ASSERT_EQ(c.request("PATCH", "/v1/api-keys/" + id, R"({"enabled":true})").status, 200);
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");
}

TEST_F(KeyFeaturesTest, VerifyReturnsMetaAndChecksAddressesAndScopes) {
  const auto key = make_key({{"scopes", json::array{"orders:*", "users:read"}},
                             {"meta", {{"plan", "pro"}}},
                             {"allowed_cidrs", json::array{"10.0.0.0/8", "2001:db8::/32"}}});
  const auto ok =
      verify({{"key", key.at("key")}, {"ip", "10.1.2.3"}, {"scopes", json::array{"orders:write"}}});
  EXPECT_EQ(ok.at("code").as_string(), "VALID");
  EXPECT_EQ(ok.at("meta").at("plan").as_string(), "pro");
  EXPECT_EQ(code_of({{"key", key.at("key")}, {"ip", "2001:db8::7"}}), "VALID");
  EXPECT_EQ(code_of({{"key", key.at("key")}, {"ip", "192.168.1.1"}}), "FORBIDDEN");
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "FORBIDDEN");
  EXPECT_EQ(
      code_of({{"key", key.at("key")}, {"ip", "10.0.0.1"}, {"scopes", json::array{"users:write"}}}),
      "INSUFFICIENT_SCOPES");
  expect_error(
      server.client().post(
          "/v1/api-keys",
          {{"project_id", project}, {"name", "x"}, {"allowed_cidrs", json::array{"10.0.0.0/99"}}}),
      422, "invalid_request", "allowed_cidrs");
  expect_error(server.client().post("/v1/api-keys", {{"project_id", project},
                                                     {"name", "x"},
                                                     {"meta", {{"blob", std::string(5000, 'x')}}}}),
               422, "invalid_request", "meta");
  expect_error(server.client().post("/v1/api-keys",
                                    {{"project_id", project}, {"name", "x"}, {"meta", "text"}}),
               422, "invalid_request", "meta");
}

TEST_F(KeyFeaturesTest, RevokeTakesEffectAtOnceDespiteTheCache) {
  const auto key = make_key();
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");  // now served from the cache
  EXPECT_GT(server.cache.size(), 0u);
  ASSERT_EQ(server.client().del("/v1/api-keys/" + std::string(key.at("id").as_string())).status,
            204);
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "REVOKED");
}

TEST_F(KeyFeaturesTest, LastUsedAtIsBatchedNotWrittenPerVerify) {
  const auto key = make_key();
  const std::string id(key.at("id").as_string());
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");
  EXPECT_TRUE(server.client().get("/v1/api-keys/" + id).json().at("last_used_at").is_null())
      << "no write per verify";
  EXPECT_EQ(server.keys.flush_usage(), 1u) << "twenty verifies, one row to write";
  const auto last_used = server.client().get("/v1/api-keys/" + id).json().at("last_used_at");
  ASSERT_FALSE(last_used.is_null());
  EXPECT_EQ(*parse_timestamp(last_used.as_string()),
            std::chrono::time_point_cast<std::chrono::milliseconds>(server.f.clock.now()));
}

TEST_F(KeyFeaturesTest, LastUsedAtMovesOnceInEachOfTheKeysMinutes) {
  const auto key = make_key();
  const std::string id(key.at("id").as_string());
  const auto last_used = [&] {
    return *parse_timestamp(
        server.client().get("/v1/api-keys/" + id).json().at("last_used_at").as_string());
  };
  // One second into the key's next minute (its minutes start at its own phase).
  ApiKey of_id;
  of_id.id = id;
  const auto phase = SharedKey(of_id).usage_phase();
  const auto since_epoch = server.f.clock.now().time_since_epoch() + phase;
  const auto first = TimePoint(std::chrono::ceil<std::chrono::minutes>(since_epoch) + 1s - phase);
  server.f.clock.set(first);
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");
  EXPECT_EQ(server.keys.flush_usage(), 1u);
  EXPECT_EQ(last_used(), first);

  server.f.clock.set(first + 8s);  // the same minute, the key still cached
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");
  EXPECT_EQ(server.keys.flush_usage(), 0u) << "a second write in the key's minute";
  EXPECT_EQ(last_used(), first);

  server.f.clock.set(first + 60s);  // the key's next minute
  EXPECT_EQ(code_of({{"key", key.at("key")}}), "VALID");
  EXPECT_EQ(server.keys.flush_usage(), 1u);
  EXPECT_EQ(last_used(), first + 60s);
}

TEST_F(KeyFeaturesTest, ARotationWebhookSecretIsShownOnceAndCanBeReplaced) {
  auto c = server.client();
  // A schedule needs somewhere to send the new key.
  expect_error(c.post("/v1/api-keys",
                      {{"project_id", project}, {"name", "k"}, {"rotation_interval_days", 30}}),
               422, "invalid_request", "rotation_webhook_url");
  expect_error(c.post("/v1/api-keys", {{"project_id", project},
                                       {"name", "k"},
                                       {"rotation_webhook_url", "https://hooks.example.com/r"},
                                       {"rotation_public_key", "not a key"}}),
               422, "invalid_request", "rotation_public_key");
  const auto key = make_key({{"rotation_interval_days", 30},
                             {"rotation_webhook_url", "https://hooks.example.com/r"},
                             {"rotation_grace_seconds", 600}});
  const std::string id(key.at("id").as_string());
  const std::string first(key.at("rotation_webhook_secret").as_string());
  EXPECT_TRUE(first.starts_with("whsec_"));
  EXPECT_EQ(key.at("rotation_grace_seconds").as_int64(), 600);
  const auto shown = c.get("/v1/api-keys/" + id).json().as_object();
  EXPECT_FALSE(shown.contains("rotation_webhook_secret")) << "the secret is shown once";

  const auto reissued = c.request("POST", "/v1/api-keys/" + id + "/rotation-secret", "");
  ASSERT_EQ(reissued.status, 200) << reissued.body;
  const std::string second(reissued.json().at("rotation_webhook_secret").as_string());
  EXPECT_NE(second, first);
  // The schedule cannot lose its destination.
  expect_error(c.request("PATCH", "/v1/api-keys/" + id, R"({"rotation_webhook_url":null})"), 422,
               "invalid_request", "rotation_webhook_url");
  // No secret in the database or in any event in the clear.
  const auto everything = server.f.pool.transact([](pqxx::work& txn) {
    return txn
        .exec1(
            "SELECT string_agg(payload::text, ' ') || (SELECT string_agg("
            "encode(rotation_webhook_secret_sealed, 'escape'), ' ') FROM api_keys) FROM outbox")[0]
        .as<std::string>();
  });
  EXPECT_EQ(everything.find(first), std::string::npos);
  EXPECT_EQ(everything.find(second), std::string::npos);
}

}  // namespace
}  // namespace keyflow
