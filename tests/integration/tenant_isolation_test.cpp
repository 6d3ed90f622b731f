// The management API guards itself: a key acts only inside its own organization (and project),
// anything outside is 404 so ids do not leak, and scopes map to verbs.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/api_server.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using test::expect_error;

class TenantIsolationTest : public ::testing::Test {
 protected:
  TenantIsolationTest() {
    org_a = id_of(server.create("/v1/organizations", {{"name", "a"}}));
    org_b = id_of(server.create("/v1/organizations", {{"name", "b"}}));
    project_a1 = id_of(server.create("/v1/projects", {{"organization_id", org_a}, {"name", "a1"}}));
    project_a2 = id_of(server.create("/v1/projects", {{"organization_id", org_a}, {"name", "a2"}}));
    project_b1 = id_of(server.create("/v1/projects", {{"organization_id", org_b}, {"name", "b1"}}));
    manager_a = key_text(server.create(
        "/v1/api-keys",
        {{"organization_id", org_a}, {"name", "a manager"}, {"scopes", json::array{"MANAGE"}}}));
    const auto victim = server.create(
        "/v1/api-keys",
        {{"project_id", project_b1}, {"name", "b's key"}, {"scopes", json::array{"READ"}}});
    key_b = id_of(victim);
    key_b_text = key_text(victim);
    env_b =
        id_of(server.create("/v1/projects/" + project_b1 + "/environments", {{"name", "live"}}));
  }

  static std::string id_of(const json::object& o) { return std::string(o.at("id").as_string()); }
  static std::string key_text(const json::object& o) {
    return std::string(o.at("key").as_string());
  }
  long events() { return server.f.count("SELECT count(*) FROM outbox"); }

  test::ApiServer server;
  std::string org_a, org_b, project_a1, project_a2, project_b1, manager_a, key_b, key_b_text, env_b;
};

TEST_F(TenantIsolationTest, AKeyOfOneOrganizationCannotTouchAnotherThroughAnyRoute) {
  const auto a = server.client(manager_a);
  const long events_before = events();

  expect_error(a.get("/v1/organizations/" + org_b), 404, "not_found");
  expect_error(a.get("/v1/projects/" + project_b1), 404, "not_found");
  expect_error(a.post("/v1/projects", {{"organization_id", org_b}, {"name", "x"}}), 404,
               "not_found");
  expect_error(a.post("/v1/projects/" + project_b1 + "/environments", {{"name", "test"}}), 404,
               "not_found");
  expect_error(a.get("/v1/projects/" + project_b1 + "/environments"), 404, "not_found");
  expect_error(a.post("/v1/api-keys", {{"project_id", project_b1}, {"name", "x"}}), 404,
               "not_found");
  expect_error(a.post("/v1/api-keys", {{"organization_id", org_b}, {"name", "x"}}), 404,
               "not_found");
  expect_error(a.get("/v1/api-keys?project_id=" + project_b1), 404, "not_found");
  expect_error(a.get("/v1/api-keys?organization_id=" + org_b), 404, "not_found");
  expect_error(a.get("/v1/api-keys/" + key_b), 404, "not_found");
  expect_error(a.request("PATCH", "/v1/api-keys/" + key_b, R"({"name":"mine now"})"), 404,
               "not_found");
  expect_error(a.post("/v1/api-keys/" + key_b + "/rotate", json::object{}), 404, "not_found");
  expect_error(a.del("/v1/api-keys/" + key_b), 404, "not_found");
  expect_error(a.post("/v1/webhooks/subscriptions",
                      {{"url", "https://evil.example/hook"}, {"project_id", project_b1}}),
               404, "not_found");
  expect_error(a.post("/v1/webhooks/subscriptions",
                      {{"url", "https://evil.example/hook"}, {"organization_id", org_b}}),
               404, "not_found");
  // Verify does not tell a key of B exists.
  const auto verified = a.post("/v1/api-keys/verify", {{"key", key_b_text}});
  EXPECT_EQ(verified.status, 200);
  EXPECT_EQ(verified.json().at("code").as_string(), "NOT_FOUND");
  EXPECT_FALSE(verified.json().as_object().contains("key_id"));
  // Keys never create organizations.
  expect_error(a.post("/v1/organizations", {{"name", "x"}}), 403, "forbidden");

  // Nothing of B changed, and nothing was written.
  const auto b = server.client().get("/v1/api-keys/" + key_b).json();
  EXPECT_EQ(b.at("name").as_string(), "b's key");
  EXPECT_TRUE(b.at("revoked_at").is_null());
  EXPECT_TRUE(b.at("replaced_by_key_id").is_null());
  EXPECT_EQ(events(), events_before);
  EXPECT_EQ(server.f.count("SELECT count(*) FROM webhook_subscriptions"), 0);
}

TEST_F(TenantIsolationTest, AnOrganizationKeyWorksInsideItsOwnOrganization) {
  const auto a = server.client(manager_a);
  const auto created = a.post("/v1/api-keys", {{"project_id", project_a1}, {"name", "a1 key"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(created.json().at("id").as_string());
  EXPECT_EQ(a.get("/v1/api-keys/" + id).status, 200);
  EXPECT_EQ(a.get("/v1/api-keys?project_id=" + project_a1).json().as_array().size(), 1u);
  EXPECT_EQ(a.post("/v1/projects", {{"organization_id", org_a}, {"name", "a3"}}).status, 201);
  const auto sub = a.post("/v1/webhooks/subscriptions", {{"url", "https://a.example/hook"}});
  ASSERT_EQ(sub.status, 201) << sub.body;
  EXPECT_EQ(sub.json().at("organization_id").as_string(), org_a);
  EXPECT_EQ(a.post("/v1/api-keys/" + id + "/rotate", json::object{}).status, 200);
  EXPECT_EQ(a.del("/v1/api-keys/" + id).status, 204);
}

TEST_F(TenantIsolationTest, AProjectKeyIsConfinedToItsProject) {
  const auto reader_a1 = key_text(server.create(
      "/v1/api-keys",
      {{"project_id", project_a1}, {"name", "reader"}, {"scopes", json::array{"READ"}}}));
  const auto in_a2 =
      id_of(server.create("/v1/api-keys", {{"project_id", project_a2}, {"name", "x"}}));
  const auto c = server.client(reader_a1);
  expect_error(c.get("/v1/api-keys/" + in_a2), 404, "not_found");
  expect_error(c.get("/v1/api-keys?project_id=" + project_a2), 404, "not_found");
  expect_error(c.get("/v1/organizations/" + org_a), 404, "not_found");
  // Without a filter a key lists its own project.
  const auto own = c.get("/v1/api-keys");
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(own.json().as_array().size(), 1u);
}

TEST_F(TenantIsolationTest, ScopesMapToVerbs) {
  const auto target =
      id_of(server.create("/v1/api-keys", {{"project_id", project_a1}, {"name", "t"}}));
  auto key_with = [&](const char* scope) {
    return server.client(key_text(server.create(
        "/v1/api-keys",
        {{"project_id", project_a1}, {"name", scope}, {"scopes", json::array{scope}}})));
  };
  const auto reader = key_with("READ");
  EXPECT_EQ(reader.get("/v1/api-keys/" + target).status, 200);
  expect_error(reader.post("/v1/api-keys", {{"project_id", project_a1}, {"name", "x"}}), 403,
               "forbidden");
  expect_error(reader.request("PATCH", "/v1/api-keys/" + target, R"({"name":"y"})"), 403,
               "forbidden");
  expect_error(reader.post("/v1/api-keys/" + target + "/rotate", json::object{}), 403, "forbidden");
  expect_error(reader.del("/v1/api-keys/" + target), 403, "forbidden");
  expect_error(reader.post("/v1/webhooks/subscriptions", {{"url", "https://a.example/h"}}), 403,
               "forbidden");

  const auto creator = key_with("CREATE");
  expect_error(creator.get("/v1/api-keys/" + target), 403, "forbidden");
  EXPECT_EQ(creator.post("/v1/api-keys", {{"project_id", project_a1}, {"name", "x"}}).status, 201);
  // It cannot mint a key stronger than itself.
  expect_error(
      creator.post("/v1/api-keys",
                   {{"project_id", project_a1}, {"name", "x"}, {"scopes", json::array{"MANAGE"}}}),
      403, "exceeds_caller_scopes", "scopes");

  EXPECT_EQ(key_with("UPDATE").request("PATCH", "/v1/api-keys/" + target, R"({"name":"z"})").status,
            200);
  EXPECT_EQ(key_with("DELETE").del("/v1/api-keys/" + target).status, 204);
}

TEST_F(TenantIsolationTest, RevokedOrWrongAddressKeysDoNotAuthenticate) {
  const auto created =
      server.create("/v1/api-keys",
                    {{"organization_id", org_a}, {"name", "ops"}, {"scopes", json::array{"READ"}}});
  const auto c = server.client(key_text(created));
  EXPECT_EQ(c.get("/v1/api-keys/" + id_of(created)).status, 200);
  EXPECT_EQ(server.client().del("/v1/api-keys/" + id_of(created)).status, 204);
  expect_error(c.get("/v1/api-keys/" + id_of(created)), 401, "unauthorized");

  const auto fenced = server.create("/v1/api-keys", {{"organization_id", org_a},
                                                     {"name", "fenced"},
                                                     {"scopes", json::array{"READ"}},
                                                     {"allowed_cidrs", json::array{"10.0.0.0/8"}}});
  expect_error(server.client(key_text(fenced)).get("/v1/api-keys/" + id_of(fenced)), 401,
               "unauthorized");
}

}  // namespace
}  // namespace keyflow
