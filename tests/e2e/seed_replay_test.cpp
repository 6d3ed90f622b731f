// Each seed document's requests, replayed through the keyflowd binary as the document writes
// them (bodies byte for byte, its paths and ids: the resources it names are made to exist
// under those ids), with the statuses and fields the document promises.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/core/ids.hpp"
#include "engine/core/time_format.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/standard_webhooks.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::map<std::string, std::string> kJson = {{"content-type", "application/json"}};

// Seed 002's API key object, every field it lists.
const std::vector<std::string> kSeed002KeyFields = {"id",
                                                    "project_id",
                                                    "name",
                                                    "key_prefix",
                                                    "scopes",
                                                    "expires_at",
                                                    "last_used_at",
                                                    "created_at",
                                                    "revoked_at",
                                                    "replaced_by_key_id",
                                                    "grace_expires_at",
                                                    "environment_id",
                                                    "rotation_interval_days",
                                                    "next_rotation_at",
                                                    "rotation_webhook_url"};

// Seed 002's rotation answer.
const std::vector<std::string> kSeed002RotationFields = {
    "old_key_id", "new_key_id", "project_id", "name",       "key",
    "key_prefix", "scopes",     "expires_at", "created_at", "grace_expires_at"};

// A string member as a std::string; anything else is marked, so that comparing it with an id
// fails: seed 002 renders ids as strings.
std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : "(not a string) " + json::serialize(v);
}

bool is_digits_id(const json::value& v) {
  return v.is_string() && is_id(v.as_string());
}

class SeedReplayTest : public ::testing::Test {
 protected:
  test::HttpTestClient client() const { return keyflowd_.client(); }

  void sql(const std::string& statement) const { db_.exec(statement); }

  json::object created(const test::HttpResult& r) {
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().as_object();
  }

  // An organization and a project made through the API; their ids.
  std::pair<std::string, std::string> tenant() {
    const auto org = created(client().post("/v1/organizations", {{"name", "acme"}}));
    const auto project =
        created(client().post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}));
    return {std::string(org.at("id").as_string()), std::string(project.at("id").as_string())};
  }

  static void expect_error(const test::HttpResult& r, int status, const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    const auto body = r.json();
    EXPECT_EQ(body.at("error").at("message").as_string(), message) << r.body;
  }

  test::TestDatabase db_;
  test::RunningKeyflowd keyflowd_{KEYFLOWD_PATH, db_.url()};
};

// Seed 001: create with its own body (key_name, key_scope as its example's string and as the
// array its table types, organization_id as an integer), list as the key's user, get and delete
// by an integer id in the path.
TEST_F(SeedReplayTest, Seed001CreateListGetDelete) {
  sql("INSERT INTO organizations (id, name) VALUES (432, 'seed 001')");

  const auto backend = created(client().request(
      "POST", "/v1/api-keys",
      R"({ "key_name": "Backend API Key", "key_scope": "READ,CREATE,UPDATE,DELETE,MANAGE", "organization_id": 432})",
      kJson));
  EXPECT_TRUE(is_digits_id(backend.at("id"))) << backend.at("id");
  EXPECT_EQ(backend.at("name"), "Backend API Key");
  EXPECT_EQ(backend.at("organization_id"), "432");
  EXPECT_EQ(backend.at("scopes"), (json::array{"READ", "CREATE", "UPDATE", "DELETE", "MANAGE"}));
  ASSERT_TRUE(backend.at("key").is_string());
  const std::string plaintext(backend.at("key").as_string());

  const auto reader = created(client().request(
      "POST", "/v1/api-keys",
      R"({"key_name": "Reader", "key_scope": ["READ"], "organization_id": 432})", kJson));
  EXPECT_EQ(reader.at("scopes"), json::array{"READ"});
  // The document's example quotes the integer: the string form works as well.
  const auto quoted = created(client().request(
      "POST", "/v1/api-keys",
      R"({"key_name": "Quoted", "key_scope": "READ", "organization_id": "432"})", kJson));
  EXPECT_EQ(quoted.at("organization_id"), "432");
  const std::string backend_id(backend.at("id").as_string());
  const std::string reader_id(reader.at("id").as_string());

  // "Retrieves a list of API keys associated with the authenticated user": the organization's
  // keys for its own key, as a JSON array, without the keys themselves.
  const auto listed = client().with_bearer(plaintext).get("/v1/api-keys");
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_TRUE(listed.json().is_array()) << listed.body;
  std::set<std::string> ids;
  const auto list = listed.json();
  for (const auto& k : list.as_array()) {
    ids.insert(std::string(k.at("id").as_string()));
    EXPECT_FALSE(k.as_object().contains("key"));
  }
  EXPECT_EQ(ids, (std::set<std::string>{backend_id, reader_id,
                                        std::string(quoted.at("id").as_string())}));
  EXPECT_EQ(listed.body.find(plaintext), std::string::npos);

  // key_id is an int64 in the path.
  const auto got = client().with_bearer(plaintext).get("/v1/api-keys/" + reader_id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(text(got.json().at("id")), reader_id);
  EXPECT_EQ(got.json().at("name"), "Reader");
  EXPECT_FALSE(got.json().as_object().contains("key"));

  const auto deleted = client().with_bearer(plaintext).del("/v1/api-keys/" + reader_id);
  EXPECT_TRUE(deleted.status == 200 || deleted.status == 204) << deleted.status;
  EXPECT_FALSE(client().get("/v1/api-keys/" + reader_id).json().at("revoked_at").is_null());
}

// Seed 002: list by project, create with its body, revoke, rotate with an empty object.
TEST_F(SeedReplayTest, Seed002ListCreateRevokeRotate) {
  const auto [org, project] = tenant();

  const auto key = created(
      client().request("POST", "/v1/api-keys",
                       R"({ "project_id": ")" + project + R"(", "name": "string" })", kJson));
  for (const auto& field : kSeed002KeyFields)
    EXPECT_TRUE(key.contains(field)) << "no " << field << " in " << json::serialize(key);
  EXPECT_TRUE(is_digits_id(key.at("id")));
  EXPECT_EQ(text(key.at("project_id")), project);
  EXPECT_EQ(key.at("name"), "string");
  EXPECT_TRUE(key.at("environment_id").is_null());
  EXPECT_TRUE(key.at("replaced_by_key_id").is_null());
  const std::string id(key.at("id").as_string());

  const auto listed = client().get("/v1/api-keys?project_id=" + project);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_TRUE(listed.json().is_array());
  ASSERT_EQ(listed.json().as_array().size(), 1u);
  const auto item = listed.json().as_array().front().as_object();
  for (const auto& field : kSeed002KeyFields)
    EXPECT_TRUE(item.contains(field)) << "no " << field << " in the list";
  EXPECT_EQ(text(item.at("id")), id);
  EXPECT_EQ(text(item.at("project_id")), project);

  const auto rotated = client().request("POST", "/v1/api-keys/" + id + "/rotate", "{}", kJson);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const auto rotation = rotated.json().as_object();
  for (const auto& field : kSeed002RotationFields)
    EXPECT_TRUE(rotation.contains(field)) << "no " << field << " in the rotation";
  EXPECT_EQ(text(rotation.at("old_key_id")), id);
  EXPECT_TRUE(is_digits_id(rotation.at("new_key_id")));
  EXPECT_NE(text(rotation.at("new_key_id")), id);
  EXPECT_EQ(text(rotation.at("project_id")), project);
  EXPECT_EQ(rotation.at("name"), "string");
  EXPECT_TRUE(rotation.at("key").is_string());

  // Revoke answers "Empty".
  const std::string new_id(rotation.at("new_key_id").as_string());
  const auto revoked = client().del("/v1/api-keys/" + new_id);
  EXPECT_EQ(revoked.status, 204);
  EXPECT_EQ(revoked.body, "");
  const auto old = client().get("/v1/api-keys/" + id).json();
  EXPECT_EQ(text(old.at("replaced_by_key_id")), new_id);
  EXPECT_FALSE(client().get("/v1/api-keys/" + new_id).json().at("revoked_at").is_null());
}

// Seed 003: every event write key route, on the document's connection id, and every error it
// lists.
TEST_F(SeedReplayTest, Seed003EveryRouteAndError) {
  const auto [org, project] = tenant();
  sql("INSERT INTO connections (id, organization_id, project_id, type, name) VALUES (1371036433, " +
      org + ", " + project + ", 'sdk', 'web')");
  const std::string keys = "/v1/connections/1371036433/event-write-keys";

  // Create: {"key": ...}, a key like the document's aC7B37Bug92OI2JSnl9eKrfGeecZT5hA. (The
  // document's keys are illustrations: their last six characters are not the checksum
  // keyflow's keys end with, so the deletes below use keys keyflow made.)
  const auto first = client().request("POST", keys);
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string key(first.json().at("key").as_string());
  EXPECT_EQ(key.size(), 32u);
  EXPECT_TRUE(std::all_of(key.begin(), key.end(), [](char c) { return std::isalnum(c); }));

  // List: {"keys": [...]}.
  const auto listed = client().get(keys);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json().at("keys"), json::array{json::string(key)});

  // Up to 20 keys, then 422.
  std::vector<std::string> all{key};
  for (int i = 0; i < 19; ++i) {
    const auto r = client().request("POST", keys);
    ASSERT_EQ(r.status, 201) << r.body;
    all.emplace_back(r.json().at("key").as_string());
  }
  expect_error(client().request("POST", keys), 422, "connection already has 20 keys");
  EXPECT_EQ(client().get(keys).json().at("keys").as_array().size(), 20u);

  // Delete: no response; an unknown key is 404; the only key is 422.
  const auto deleted = client().del(keys + "/" + all.back());
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(deleted.body, "");
  expect_error(client().del(keys + "/" + all.back()), 404, "key does not exist");
  for (std::size_t i = 1; i + 1 < all.size(); ++i)
    ASSERT_EQ(client().del(keys + "/" + all[i]).status, 204);
  expect_error(client().del(keys + "/" + key), 422,
               "key cannot be deleted as it is the connection's only key");
  EXPECT_EQ(client().get(keys).json().at("keys"), json::array{json::string(key)});

  // A connection that does not exist, on every route.
  const std::string missing = "/v1/connections/1371036434/event-write-keys";
  expect_error(client().request("POST", missing), 404, "connection does not exist");
  expect_error(client().get(missing), 404, "connection does not exist");
  expect_error(client().del(missing + "/" + key), 404, "connection does not exist");

  // A connection whose workspace (project) is gone, on every route.
  const auto [other_org, gone] = tenant();
  sql("INSERT INTO connections (id, organization_id, project_id, type, name) VALUES (1371036435, " +
      other_org + ", " + gone +
      ", 'webhook', 'orphan');"
      "ALTER TABLE connections DROP CONSTRAINT connections_project_id_fkey;"
      "DELETE FROM projects WHERE id = " +
      gone);
  const std::string orphan = "/v1/connections/1371036435/event-write-keys";
  expect_error(client().request("POST", orphan), 404, "workspace does not exist");
  expect_error(client().get(orphan), 404, "workspace does not exist");
  expect_error(client().del(orphan + "/" + key), 404, "workspace does not exist");
}

// Seed 000: a subscription registered at its path receives API key created, updated and
// revoked as signed POSTs of its body; a non-2xx answer is retried with the same id.
TEST_F(SeedReplayTest, Seed000SubscriptionPathAndWebhookBody) {
  test::WebhookReceiver receiver;
  const auto subscription = created(client().post(
      "/api/v1/webhooks/subscriptions",
      {{"url", receiver.url()},
       {"event_types", json::array{"api_key.created", "api_key.updated", "api_key.revoked"}}}));
  const std::string secret(subscription.at("secret").as_string());
  receiver.fail_next(1);

  const auto [org, project] = tenant();
  const auto key =
      created(client().post("/v1/api-keys", {{"project_id", project}, {"name", "hooked"}}));
  const std::string id(key.at("id").as_string());
  const std::string plaintext(key.at("key").as_string());
  ASSERT_EQ(client().request("PATCH", "/v1/api-keys/" + id, R"({"name": "renamed"})", kJson).status,
            200);
  ASSERT_EQ(client().del("/v1/api-keys/" + id).status, 204);

  // Three events, one of them sent twice.
  ASSERT_TRUE(receiver.wait_for(4, 60s)) << receiver.count() << " webhooks arrived";
  std::map<std::string, std::vector<test::ReceivedRequest>> by_id;
  for (const auto& r : receiver.requests())
    by_id[r.header("webhook-id")].push_back(r);
  ASSERT_EQ(by_id.size(), 3u);
  std::set<std::string> events;
  for (const auto& [webhook_id, attempts] : by_id) {
    for (const auto& attempt : attempts) {
      EXPECT_TRUE(test::standard_webhooks_accepts(secret, attempt));
      EXPECT_EQ(attempt.body, attempts.front().body) << "a retry changed the body";
      EXPECT_EQ(attempt.body.find(plaintext), std::string::npos) << "plaintext key in a webhook";
    }
    const auto body = json::parse(attempts.front().body).as_object();
    EXPECT_EQ(text(body.at("id")), webhook_id);
    events.insert(std::string(body.at("event").as_string()));
    EXPECT_EQ(body.at("resource"), "api_key");
    EXPECT_EQ(text(body.at("resourceId")), id);
    EXPECT_TRUE(parse_timestamp(body.at("timestamp").as_string()).has_value());
    EXPECT_FALSE(body.at("apiVersion").as_string().empty());
    EXPECT_FALSE(body.at("data").as_object().contains("key"));
  }
  EXPECT_EQ(events,
            (std::set<std::string>{"api_key.created", "api_key.updated", "api_key.revoked"}));
  EXPECT_TRUE(std::any_of(by_id.begin(), by_id.end(), [](const auto& entry) {
    return entry.second.size() == 2;
  })) << "the answer 500 was not retried";
}

}  // namespace
}  // namespace keyflow
