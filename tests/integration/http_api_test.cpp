// The HTTP API over real loopback sockets, on a real PostgreSQL.
#include <regex>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/keys/key_format.hpp"
#include "tests/support/api_server.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using test::expect_error;

class HttpApiTest : public ::testing::Test {
 protected:
  test::HttpTestClient client(std::string bearer = test::kAdminToken) {
    return server_.client(std::move(bearer));
  }

  // organization → project, over HTTP; returns the project id.
  std::string make_project() {
    const auto org = server_.create("/v1/organizations", {{"name", "acme"}});
    const auto project =
        server_.create("/v1/projects", {{"organization_id", org.at("id")}, {"name", "payments"}});
    return std::string(project.at("id").as_string());
  }

  test::ApiServer server_;
  test::EngineFixture& f = server_.f;
};

TEST_F(HttpApiTest, SeedOneFieldNamesAreAcceptedBesideSeedTwos) {
  const auto project = make_project();
  // key_scope as seed 001's example writes it: one comma-separated string.
  auto r = client().request("POST", "/v1/api-keys",
                            R"({"key_name":"Backend API Key","key_scope":"READ, CREATE",)"
                            R"("project_id":")" +
                                project + R"("})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto key = r.json().as_object();
  EXPECT_EQ(key.at("name"), "Backend API Key") << "responses keep seed 002's names";
  EXPECT_EQ(key.at("scopes"), (json::array{"READ", "CREATE"}));
  EXPECT_FALSE(key.contains("key_name"));
  const std::string id(key.at("id").as_string());

  // ... and as the array its table types it.
  r = client().post(
      "/v1/api-keys",
      {{"key_name", "second"}, {"key_scope", json::array{"READ"}}, {"project_id", project}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("scopes"), (json::array{"READ"}));

  // PATCH takes them too.
  r = client().request("PATCH", "/v1/api-keys/" + id,
                       R"({"key_name":"renamed","key_scope":"READ"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("name"), "renamed");
  EXPECT_EQ(r.json().at("scopes"), (json::array{"READ"}));

  // Both forms of one field: refused, naming them, and nothing written.
  const auto keys_before = f.count("SELECT count(*) FROM api_keys");
  expect_error(
      client().post("/v1/api-keys", {{"name", "a"}, {"key_name", "b"}, {"project_id", project}}),
      422, "invalid_request", "key_name");
  expect_error(client().post("/v1/api-keys", {{"name", "a"},
                                              {"scopes", json::array{"READ"}},
                                              {"key_scope", "READ"},
                                              {"project_id", project}}),
               422, "invalid_request", "key_scope");
  expect_error(
      client().post("/v1/api-keys", {{"key_name", "a"}, {"key_scope", 7}, {"project_id", project}}),
      422, "invalid_request", "key_scope");
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), keys_before);
}

TEST_F(HttpApiTest, CreateListGetRevokeAndVerifyAKey) {
  const auto project = make_project();
  const auto created = client().post(
      "/v1/api-keys",
      {{"project_id", project}, {"name", "backend"}, {"scopes", json::array{"READ", "CREATE"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto key = created.json().as_object();
  const std::string plaintext(key.at("key").as_string());
  const std::string id(key.at("id").as_string());
  EXPECT_TRUE(plaintext.starts_with("kf_"));
  // Every field of seed 002's key object.
  for (const char* field :
       {"id", "project_id", "name", "key_prefix", "scopes", "expires_at", "last_used_at",
        "created_at", "revoked_at", "replaced_by_key_id", "grace_expires_at", "environment_id",
        "rotation_interval_days", "next_rotation_at", "rotation_webhook_url"}) {
    EXPECT_TRUE(key.contains(field)) << field;
  }
  EXPECT_TRUE(plaintext.starts_with(std::string(key.at("key_prefix").as_string())));

  const auto list = client().get("/v1/api-keys?project_id=" + project);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().as_array().size(), 1u);
  EXPECT_FALSE(list.json().as_array()[0].as_object().contains("key"));
  EXPECT_EQ(list.body.find(plaintext.substr(8, 20)), std::string::npos) << "secret in list";

  const auto got = client().get("/v1/api-keys/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_FALSE(got.json().as_object().contains("key"));

  auto verify = client().post("/v1/api-keys/verify", {{"key", plaintext}});
  ASSERT_EQ(verify.status, 200);
  EXPECT_EQ(verify.json().at("valid").as_bool(), true);
  EXPECT_EQ(verify.json().at("code").as_string(), "VALID");
  EXPECT_EQ(verify.json().at("key_id").as_string(), id);
  EXPECT_EQ(verify.json().at("project_id").as_string(), project);
  EXPECT_EQ(verify.json().at("scopes").as_array().size(), 2u);

  EXPECT_EQ(client().del("/v1/api-keys/" + id).status, 204);
  EXPECT_EQ(client().del("/v1/api-keys/" + id).status, 204);
  EXPECT_FALSE(client().get("/v1/api-keys/" + id).json().at("revoked_at").is_null());
  verify = client().post("/v1/api-keys/verify", {{"key", plaintext}});
  EXPECT_EQ(verify.json().at("valid").as_bool(), false);
  EXPECT_EQ(verify.json().at("code").as_string(), "REVOKED");
}

// Every id field of every request body takes a JSON integer as well as a string of digits;
// anything else is 422 naming the field, and writes nothing.
TEST_F(HttpApiTest, EveryIdFieldTakesAnIntegerOrDigits) {
  const auto as_integer = [](const json::value& id) {
    return json::value(std::stoll(std::string(id.as_string())));
  };
  const auto org = server_.create("/v1/organizations", {{"name", "acme"}});
  const auto project = server_.create(
      "/v1/projects", {{"organization_id", as_integer(org.at("id"))}, {"name", "p"}});
  EXPECT_EQ(project.at("organization_id"), org.at("id"));
  const auto env =
      server_.create("/v1/projects/" + std::string(project.at("id").as_string()) + "/environments",
                     {{"name", "live"}});
  const auto key = server_.create("/v1/api-keys", {{"project_id", as_integer(project.at("id"))},
                                                   {"environment_id", as_integer(env.at("id"))},
                                                   {"name", "k"}});
  EXPECT_EQ(key.at("project_id"), project.at("id"));
  EXPECT_EQ(key.at("environment_id"), env.at("id"));
  const auto patched =
      client().request("PATCH", "/v1/api-keys/" + std::string(key.at("id").as_string()),
                       json::serialize(json::object{{"environment_id", nullptr}}));
  ASSERT_EQ(patched.status, 200) << patched.body;
  const auto repatched =
      client().request("PATCH", "/v1/api-keys/" + std::string(key.at("id").as_string()),
                       json::serialize(json::object{{"environment_id", as_integer(env.at("id"))}}));
  ASSERT_EQ(repatched.status, 200) << repatched.body;
  EXPECT_EQ(repatched.json().at("environment_id"), env.at("id"));
  const auto sub =
      server_.create("/v1/webhooks/subscriptions", {{"url", "https://example.com/hook"},
                                                    {"organization_id", as_integer(org.at("id"))},
                                                    {"project_id", as_integer(project.at("id"))}});
  EXPECT_EQ(sub.at("project_id"), project.at("id"));
  const auto connection = server_.create(
      "/v1/connections",
      {{"project_id", as_integer(project.at("id"))}, {"type", "sdk"}, {"name", "web"}});
  EXPECT_EQ(connection.at("project_id"), project.at("id"));

  const auto before = f.count("SELECT count(*) FROM outbox");
  for (const json::value& bad :
       {json::value(0), json::value(-1), json::value(1.5), json::value(9007199254740992LL),
        json::value("0123"), json::value("abc"), json::value(true), json::value(json::array{})}) {
    expect_error(client().post("/v1/api-keys", {{"project_id", bad}, {"name", "k"}}), 422,
                 "invalid_request", "project_id");
    expect_error(client().post("/v1/projects", {{"organization_id", bad}, {"name", "p"}}), 422,
                 "invalid_request", "organization_id");
    expect_error(
        client().post("/v1/connections", {{"project_id", bad}, {"type", "sdk"}, {"name", "web"}}),
        422, "invalid_request", "project_id");
  }
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox"), before);
}

TEST_F(HttpApiTest, VerifyAnswersMalformedAndNotFoundWith200) {
  auto r = client().post("/v1/api-keys/verify", {{"key", "not-a-key"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("code").as_string(), "MALFORMED");
  // Right shape, wrong checksum.
  r = client().post(
      "/v1/api-keys/verify",
      {{"key", "kf_live_0000000000000000000000000000000000000000000" + std::string("000000")}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("code").as_string(), "MALFORMED");
  // Well formed, checksum included, but never issued.
  r = client().post("/v1/api-keys/verify",
                    {{"key", format_key("kf", "live", random_key_secret())}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("code").as_string(), "NOT_FOUND");
  EXPECT_FALSE(r.json().at("valid").as_bool());
}

TEST_F(HttpApiTest, RotateReturnsSeedShapeAndOldKeyHonoursGrace) {
  const auto project = make_project();
  const auto created =
      client().post("/v1/api-keys", {{"project_id", project}, {"name", "rotating"}});
  const std::string id(created.json().at("id").as_string());
  const std::string old_plaintext(created.json().at("key").as_string());
  const auto rotated =
      client().post("/v1/api-keys/" + id + "/rotate", {{"grace_period_seconds", 3600}});
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const auto body = rotated.json().as_object();
  for (const char* field : {"old_key_id", "new_key_id", "project_id", "name", "key", "key_prefix",
                            "scopes", "expires_at", "created_at", "grace_expires_at"}) {
    EXPECT_TRUE(body.contains(field)) << field;
  }
  EXPECT_EQ(body.at("old_key_id").as_string(), id);
  const auto old = client().post("/v1/api-keys/verify", {{"key", old_plaintext}});
  EXPECT_EQ(old.json().at("code").as_string(), "VALID");
  EXPECT_EQ(old.json().at("replaced_by_key_id").as_string(), body.at("new_key_id").as_string());
  const auto fresh = client().post("/v1/api-keys/verify", {{"key", body.at("key")}});
  EXPECT_EQ(fresh.json().at("code").as_string(), "VALID");
  expect_error(client().post("/v1/api-keys/" + id + "/rotate", json::object{}), 409, "key_rotated",
               "id");
}

// Every route in the router's table but the three probes refuses a caller without a valid
// bearer, before it reads anything, and writes nothing.
TEST_F(HttpApiTest, EveryRouteNeedsTheAdminToken) {
  const std::set<std::string> open = {"/healthz", "/readyz", "/metrics"};
  const auto tables = [&] {
    return f.count(
        "SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM projects) +"
        " (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM webhook_subscriptions) +"
        " (SELECT count(*) FROM connections) + (SELECT count(*) FROM outbox)");
  };
  const auto before = tables();
  std::size_t guarded = 0;
  for (const auto& route : server_.routes()) {
    const std::string method(boost::beast::http::to_string(route.method));
    // {id} and {key} as a client would fill them.
    const auto path =
        std::regex_replace(route.pattern, std::regex("\\{[a-z_]+\\}"), "4503599627370497");
    if (open.contains(route.pattern)) {
      EXPECT_NE(client("").request(method, path).status, 401) << method << " " << path;
      continue;
    }
    ++guarded;
    for (const auto& bearer : {std::string(), std::string("wrong-token")}) {
      expect_error(
          client(bearer).request(method, path, "{}", {{"content-type", "application/json"}}), 401,
          "unauthorized");
    }
  }
  EXPECT_GE(guarded, 20u) << "the router's table looks short";
  EXPECT_EQ(tables(), before);
}

TEST_F(HttpApiTest, BadInputGetsAClearErrorNamingTheField) {
  const auto project = make_project();
  expect_error(client().request("POST", "/v1/api-keys", "{not json"), 400, "invalid_json");
  expect_error(client().request("POST", "/v1/api-keys", "[1,2]"), 400, "invalid_json");
  expect_error(client().post("/v1/api-keys", {{"project_id", project}}), 422, "invalid_request",
               "name");
  expect_error(client().post("/v1/api-keys", {{"project_id", project}, {"name", 5}}), 422,
               "invalid_request", "name");
  expect_error(
      client().post("/v1/api-keys", {{"project_id", project}, {"name", "x"}, {"colour", "red"}}),
      422, "invalid_request", "colour");
  expect_error(
      client().post("/v1/api-keys",
                    {{"project_id", project}, {"name", "x"}, {"scopes", json::array{"ROOT"}}}),
      422, "invalid_request", "scopes");
  expect_error(client().post("/v1/api-keys", {{"project_id", project},
                                              {"name", "x"},
                                              {"expires_at", "2001-01-01T00:00:00Z"}}),
               422, "invalid_request", "expires_at");
  expect_error(
      client().post("/v1/api-keys",
                    {{"project_id", project}, {"name", "x"}, {"rotation_interval_days", 0}}),
      422, "invalid_request", "rotation_interval_days");
  expect_error(client().post("/v1/api-keys", {{"project_id", "nope"}, {"name", "x"}}), 422,
               "invalid_request", "project_id");
  expect_error(client().get("/v1/api-keys/4503599627370497"), 404, "not_found");
  expect_error(client().get("/v1/api-keys/00000000-0000-4000-8000-000000000000"), 422,
               "invalid_request", "id");
  expect_error(client().get("/v1/api-keys"), 422, "invalid_request", "project_id");
  expect_error(client().get("/v1/nothing-here"), 404, "not_found");
  expect_error(client().request("PUT", "/v1/api-keys"), 405, "method_not_allowed");
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 0);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox"), 0);
}

// Loopback is open to this server (its receivers listen there); every other internal range
// stays closed, in whatever spelling its address is written.
TEST_F(HttpApiTest, WebhookUrlsNamingInternalAddressesAre422AndWriteNothing) {
  const auto project = f.make_project("p");
  for (const char* url :
       {"http://10.0.0.1/hook", "http://167772161/hook", "http://0x0a000001/", "http://012.1/",
        "http://[::ffff:10.0.0.1]/", "http://100.100.100.200/latest/meta-data",
        "http://169.254.169.254/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a00:1::]/",
        "http://192.0.0.8/", "http://198.18.0.1/", "http://240.0.0.1/"}) {
    expect_error(client().post("/v1/webhooks/subscriptions", {{"url", url}}), 422,
                 "invalid_request", "url");
    expect_error(
        client().post("/v1/api-keys",
                      {{"project_id", project.id}, {"name", "k"}, {"rotation_webhook_url", url}}),
        422, "invalid_request", "rotation_webhook_url");
  }
  EXPECT_EQ(f.count("SELECT count(*) FROM webhook_subscriptions"), 0);
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 0);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE aggregate_type <> 'organization'"
                    " AND aggregate_type <> 'project'"),
            0);
}

TEST_F(HttpApiTest, OversizedBodyIs413) {
  const std::string big = "{\"name\":\"" + std::string(70 * 1024, 'a') + "\"}";
  expect_error(client().request("POST", "/v1/organizations", big), 413, "payload_too_large");
}

TEST_F(HttpApiTest, SubscriptionOnBothPathsReturnsAWhsecSecret) {
  for (const char* path : {"/v1/webhooks/subscriptions", "/api/v1/webhooks/subscriptions"}) {
    const auto r =
        client().post(path, {{"url", "https://hooks.example.com/keyflow"},
                             {"event_types", json::array{"api_key.created", "api_key.revoked"}}});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_TRUE(r.json().at("secret").as_string().starts_with("whsec_"));
    EXPECT_EQ(r.json().at("event_types").as_array().size(), 2u);
  }
  expect_error(client().post("/v1/webhooks/subscriptions", {{"url", "ftp://x"}}), 422,
               "invalid_request", "url");
  expect_error(client().post("/v1/webhooks/subscriptions",
                             {{"url", "https://x.example"}, {"event_types", json::array{"nope"}}}),
               422, "invalid_request", "event_types");
  // The secret is stored sealed, never in plaintext.
  EXPECT_EQ(f.count("SELECT count(*) FROM webhook_subscriptions"
                    " WHERE position('whsec_' in encode(secret_sealed, 'escape')) > 0"),
            0);
}

TEST_F(HttpApiTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(client("").get("/healthz").status, 200);
  const auto ready = client("").get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json().at("checks").at("database").as_bool(), true);
  const auto metrics = client("").get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("keyflow_http_requests_total"), std::string::npos);
}

// The database goes away (it refuses new connections and its sessions are ended): not ready,
// while the process stays healthy; back again, ready again.
TEST_F(HttpApiTest, ReadinessFollowsTheDatabase) {
  pqxx::connection admin(f.db.admin_url());
  const auto set_connections = [&](bool allowed) {
    pqxx::nontransaction(admin).exec("ALTER DATABASE " + f.db.name() + " ALLOW_CONNECTIONS " +
                                     (allowed ? "true" : "false"));
    if (!allowed) {
      pqxx::nontransaction(admin).exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
          admin.quote(f.db.name()) + " AND pid <> pg_backend_pid()");
    }
  };
  set_connections(false);
  const auto down = client("").get("/readyz");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.json().at("checks").at("database").as_bool(), false);
  EXPECT_EQ(client("").get("/healthz").status, 200);
  set_connections(true);
  const auto up = client("").get("/readyz");
  EXPECT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(up.json().at("checks").at("database").as_bool(), true);
}

}  // namespace
}  // namespace keyflow
