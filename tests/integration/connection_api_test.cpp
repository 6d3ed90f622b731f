// Connections and event write keys (seed 003) over real loopback HTTP, on a real PostgreSQL.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <latch>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/connections/connection_service.hpp"
#include "engine/connections/write_key.hpp"
#include "engine/core/encoding.hpp"
#include "engine/core/ids.hpp"
#include "engine/crypto/key_hasher.hpp"
#include "http/connection_routes.hpp"
#include "http/server.hpp"
#include "tests/support/engine_fixture.hpp"
#include "tests/support/http_test_client.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
constexpr const char* kAdminToken = "test-admin-token";
constexpr const char* kUnknownProject = "4503599627370497";
constexpr const char* kUnknownConnection = "1371036433";

struct Counts {
  long connections = 0;
  long keys = 0;
  long events = 0;
  bool operator==(const Counts&) const = default;
};

void PrintTo(const Counts& c, std::ostream* os) {
  *os << "{connections " << c.connections << ", keys " << c.keys << ", events " << c.events << "}";
}

class ConnectionApiTest : public ::testing::Test {
 protected:
  ConnectionApiTest() {
    http::add_connection_routes(router_, connections_, auth_);
    server_.listen(http::parse_endpoint("127.0.0.1:0"));
    io_thread_ = std::jthread([this] { io_.run(); });
  }
  ~ConnectionApiTest() override {
    server_.stop();
    work_.reset();
    io_.stop();
  }

  test::HttpTestClient client(std::string bearer = kAdminToken) {
    return {"127.0.0.1", server_.endpoint().port(), std::move(bearer)};
  }

  // A connection in the project, created over HTTP.
  json::object create_connection(const std::string& project_id, const std::string& type = "sdk",
                                 const std::string& name = "website") {
    const auto r = client().post("/v1/connections",
                                 {{"project_id", project_id}, {"type", type}, {"name", name}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().as_object();
  }

  static std::string id_of(const json::object& connection) {
    return std::to_string(connection.at("id").as_int64());
  }

  std::string keys_path(const std::string& connection_id) {
    return "/v1/connections/" + connection_id + "/event-write-keys";
  }

  std::string create_key(const std::string& connection_id) {
    const auto r = client().request("POST", keys_path(connection_id));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().at("key").as_string());
  }

  std::vector<std::string> list_keys(const std::string& connection_id) {
    const auto r = client().get(keys_path(connection_id));
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> keys;
    const auto body = r.json();
    for (const auto& k : body.at("keys").as_array())
      keys.emplace_back(k.as_string());
    return keys;
  }

  json::object verify(const std::string& key) {
    const auto r = client().post("/v1/event-write-keys/verify", {{"key", key}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().as_object();
  }

  Counts counts() {
    return {f.count("SELECT count(*) FROM connections"),
            f.count("SELECT count(*) FROM event_write_keys"),
            f.count("SELECT count(*) FROM outbox")};
  }

  // The outbox rows after the given id: event type, aggregate type, aggregate id, payload text.
  struct Event {
    std::string type, aggregate_type, aggregate_id;
    json::object payload;
    std::string payload_text;
  };
  std::vector<Event> events(long after_id = 0) {
    return f.pool.transact([&](pqxx::work& txn) {
      std::vector<Event> out;
      for (const auto& r : txn.exec_params(
               "SELECT event_type, aggregate_type, aggregate_id, payload::text FROM outbox"
               " WHERE id > $1 ORDER BY id",
               after_id)) {
        const auto text = r[3].as<std::string>();
        out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                       json::parse(text).as_object(), text});
      }
      return out;
    });
  }
  long last_event_id() { return f.count("SELECT coalesce(max(id), 0) FROM outbox"); }

  // A keyflow key with these scopes, of the project or (org_wide) of its organization.
  std::string bearer_key(const Project& p, std::vector<std::string> scopes, bool org_wide) {
    NewKey k;
    if (org_wide) {
      k.organization_id = p.organization_id;
    } else {
      k.project_id = p.id;
    }
    k.name = "caller";
    k.scopes = std::move(scopes);
    return f.keys.create(Actor::admin(), k).plaintext;
  }

  test::EngineFixture f;
  ConnectionService connections_{f.pool, f.master_key, f.clock};
  Metrics metrics_;
  // Keyflow keys authenticate as bearers, as in keyflowd.
  http::Authenticator auth_{kAdminToken, [this](std::string_view key, std::string_view ip) {
                              return f.keys.authenticate(key, ip);
                            }};
  http::Router router_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  // As many workers as the pool has connections, so that creates really do overlap.
  boost::asio::thread_pool workers_{8};
  http::Server server_{io_, workers_, router_, metrics_};
  std::jthread io_thread_;
};

void expect_error(const test::HttpResult& r, int status, const std::string& code,
                  const std::string& message = {}, const std::string& field = {}) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto body = r.json();
  const auto& error = body.at("error");
  EXPECT_EQ(error.at("code").as_string(), code) << r.body;
  if (!message.empty()) {
    EXPECT_EQ(error.at("message").as_string(), message) << r.body;
  }
  if (!field.empty()) {
    EXPECT_EQ(error.at("field").as_string(), field) << r.body;
  }
}

TEST_F(ConnectionApiTest, CreateReturnsTheConnectionWithItsFirstKey) {
  const auto project = f.make_project();
  const auto created = create_connection(project.id, "webhook", "stripe events");
  for (const char* field : {"id", "organization_id", "project_id", "type", "name", "created_at"}) {
    EXPECT_TRUE(created.contains(field)) << field;
  }
  ASSERT_TRUE(created.at("id").is_int64());
  EXPECT_GT(created.at("id").as_int64(), 0);
  EXPECT_LE(created.at("id").as_int64(), kMaxId);
  EXPECT_EQ(created.at("organization_id").as_string(), project.organization_id);
  EXPECT_EQ(created.at("project_id").as_string(), project.id);
  EXPECT_EQ(created.at("type").as_string(), "webhook");
  EXPECT_EQ(created.at("name").as_string(), "stripe events");
  const std::string key(created.at("key").as_string());
  EXPECT_EQ(key.size(), 32u);
  EXPECT_TRUE(is_base62(key));

  const auto id = id_of(created);
  const auto got = client().get("/v1/connections/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  auto expected = created;
  expected.erase("key");
  EXPECT_EQ(got.json().as_object(), expected);

  EXPECT_EQ(list_keys(id), std::vector<std::string>{key});
  const auto v = verify(key);
  EXPECT_EQ(v.at("valid").as_bool(), true);
  EXPECT_EQ(v.at("code").as_string(), "VALID");
  EXPECT_EQ(v.at("connection_id").as_int64(), created.at("id").as_int64());
  EXPECT_EQ(v.at("connection_type").as_string(), "webhook");
  EXPECT_EQ(v.at("project_id").as_string(), project.id);
  EXPECT_EQ(v.at("organization_id").as_string(), project.organization_id);

  const auto evs = events();
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].type, "connection.created");
  EXPECT_EQ(evs[0].aggregate_type, "connection");
  EXPECT_EQ(evs[0].aggregate_id, id);
  EXPECT_EQ(evs[0].payload.at("id").as_int64(), created.at("id").as_int64());
  EXPECT_EQ(evs[0].payload.at("actor").at("type").as_string(), "admin");
  EXPECT_EQ(evs[1].type, "event_write_key.created");
  EXPECT_EQ(evs[1].aggregate_type, "event_write_key");
  EXPECT_EQ(evs[1].aggregate_id, v.at("key_id").as_string());
  EXPECT_EQ(evs[1].payload.at("connection_id").as_int64(), created.at("id").as_int64());
  EXPECT_EQ(evs[1].payload.at("key_prefix").as_string(), key.substr(0, 4));
}

TEST_F(ConnectionApiTest, ListsTheConnectionsOfAProjectNewestFirst) {
  const auto project = f.make_project("a");
  const auto other = f.make_project("b");
  const auto first = create_connection(project.id, "sdk", "first");
  f.clock.advance(std::chrono::seconds(1));
  const auto second = create_connection(project.id, "webhook", "second");
  create_connection(other.id, "sdk", "elsewhere");

  auto r = client().get("/v1/connections?project_id=" + project.id);
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = r.json().at("connections").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("id"), second.at("id"));
  EXPECT_EQ(list[1].at("id"), first.at("id"));
  EXPECT_FALSE(list[0].as_object().contains("key"));

  ASSERT_EQ(client().del("/v1/connections/" + id_of(second)).status, 204);
  r = client().get("/v1/connections?project_id=" + project.id);
  list = r.json().at("connections").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("id"), first.at("id"));

  const auto empty = f.make_project("empty");
  r = client().get("/v1/connections?project_id=" + empty.id);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.json().at("connections").as_array().empty());
}

TEST_F(ConnectionApiTest, CreatesListsAndDeletesWriteKeys) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string first(connection.at("key").as_string());
  f.clock.advance(std::chrono::seconds(1));
  const auto r = client().request("POST", keys_path(id));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().as_object().size(), 1u) << "seed 003 answers {\"key\"} only";
  const std::string second(r.json().at("key").as_string());
  f.clock.advance(std::chrono::seconds(1));
  // An empty JSON object is the same as no body.
  const auto third_r = client().post(keys_path(id), json::object{});
  ASSERT_EQ(third_r.status, 201) << third_r.body;
  const std::string third(third_r.json().at("key").as_string());

  EXPECT_EQ(list_keys(id), (std::vector<std::string>{first, second, third}));
  for (const auto& k : {first, second, third})
    EXPECT_EQ(verify(k).at("code").as_string(), "VALID");

  const auto before = last_event_id();
  const auto deleted = client().del(keys_path(id) + "/" + second);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_EQ(list_keys(id), (std::vector<std::string>{first, third}));
  const auto v = verify(second);
  EXPECT_EQ(v.at("valid").as_bool(), false);
  EXPECT_EQ(v.at("code").as_string(), "NOT_FOUND");
  EXPECT_FALSE(v.contains("connection_id"));

  const auto evs = events(before);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, "event_write_key.deleted");
  EXPECT_EQ(evs[0].aggregate_type, "event_write_key");
  EXPECT_EQ(evs[0].payload.at("reason").as_string(), "deleted");
  EXPECT_EQ(evs[0].payload.at("key_prefix").as_string(), second.substr(0, 4));
  // The deleted event names the key its created event named.
  const auto created = events();
  const auto it = std::find_if(created.begin(), created.end(), [&](const Event& e) {
    return e.type == "event_write_key.created" && e.aggregate_id == evs[0].aggregate_id;
  });
  ASSERT_NE(it, created.end());

  expect_error(client().del(keys_path(id) + "/" + second), 404, "not_found", "key does not exist",
               "key");
}

TEST_F(ConnectionApiTest, AConnectionHasAtMostTwentyKeys) {
  const auto project = f.make_project();
  const auto id = id_of(create_connection(project.id));
  for (int i = 1; i < 20; ++i)
    create_key(id);
  EXPECT_EQ(list_keys(id).size(), 20u);

  const auto before = counts();
  expect_error(client().request("POST", keys_path(id)), 422, "limit_exceeded",
               "connection already has 20 keys");
  EXPECT_EQ(counts(), before) << "nothing written on an error";
  EXPECT_EQ(list_keys(id).size(), 20u);

  // Room again after a delete.
  ASSERT_EQ(client().del(keys_path(id) + "/" + list_keys(id).front()).status, 204);
  create_key(id);
  EXPECT_EQ(list_keys(id).size(), 20u);
}

TEST_F(ConnectionApiTest, TheLastKeyCannotBeDeleted) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string only(connection.at("key").as_string());

  const auto before = counts();
  expect_error(client().del(keys_path(id) + "/" + only), 422, "limit_exceeded",
               "key cannot be deleted as it is the connection's only key", "key");
  EXPECT_EQ(counts(), before);
  EXPECT_EQ(list_keys(id), std::vector<std::string>{only});

  const auto second = create_key(id);
  ASSERT_EQ(client().del(keys_path(id) + "/" + only).status, 204);
  expect_error(client().del(keys_path(id) + "/" + second), 422, "limit_exceeded",
               "key cannot be deleted as it is the connection's only key", "key");
  EXPECT_EQ(list_keys(id), std::vector<std::string>{second});
}

TEST_F(ConnectionApiTest, DeletingAConnectionErasesItsKeysOnce) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string first(connection.at("key").as_string());
  const auto second = create_key(id);

  const auto before = last_event_id();
  const auto r = client().del("/v1/connections/" + id);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(f.count("SELECT count(*) FROM event_write_keys"), 0);
  EXPECT_EQ(f.count("SELECT count(*) FROM connections WHERE deleted_at IS NOT NULL"), 1);

  const auto evs = events(before);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].type, "event_write_key.deleted");
  EXPECT_EQ(evs[0].payload.at("reason").as_string(), "connection_deleted");
  EXPECT_EQ(evs[1].type, "event_write_key.deleted");
  EXPECT_EQ(evs[2].type, "connection.deleted");
  EXPECT_EQ(evs[2].aggregate_id, id);
  EXPECT_TRUE(evs[2].payload.at("deleted_at").is_string());

  for (const auto& k : {first, second})
    EXPECT_EQ(verify(k).at("code").as_string(), "NOT_FOUND");
  expect_error(client().get("/v1/connections/" + id), 404, "not_found",
               "connection does not exist");
  expect_error(client().get(keys_path(id)), 404, "not_found", "connection does not exist");
  expect_error(client().request("POST", keys_path(id)), 404, "not_found",
               "connection does not exist");
  expect_error(client().del(keys_path(id) + "/" + first), 404, "not_found",
               "connection does not exist");

  // A second delete is 204 too, like revoking a revoked API key, and emits nothing.
  const auto again = last_event_id();
  EXPECT_EQ(client().del("/v1/connections/" + id).status, 204);
  EXPECT_TRUE(events(again).empty());
}

TEST_F(ConnectionApiTest, EverySeedNotFoundAnswer) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string key(connection.at("key").as_string());
  const auto other = create_connection(project.id, "sdk", "other");
  const std::string others_key(other.at("key").as_string());
  const auto before = counts();

  // workspace: the project named does not exist.
  expect_error(client().post("/v1/connections",
                             {{"project_id", kUnknownProject}, {"type", "sdk"}, {"name", "x"}}),
               404, "not_found", "workspace does not exist", "project_id");
  expect_error(client().get(std::string("/v1/connections?project_id=") + kUnknownProject), 404,
               "not_found", "workspace does not exist", "project_id");

  // connection: a well-formed id of no connection, on every route that takes one.
  const std::string unknown = kUnknownConnection;
  for (const auto& r :
       {client().get("/v1/connections/" + unknown), client().del("/v1/connections/" + unknown),
        client().request("POST", keys_path(unknown)), client().get(keys_path(unknown)),
        client().del(keys_path(unknown) + "/" + key)}) {
    expect_error(r, 404, "not_found", "connection does not exist", "id");
  }

  // key: unknown, malformed, or another connection's.
  for (const auto& k :
       {complete_write_key("aC7B37Bug92OI2JSnl9eKrfGee"),
        std::string("aC7B37Bug92OI2JSnl9eKrfGeecZT5hA"), std::string("short"), others_key}) {
    expect_error(client().del(keys_path(id) + "/" + k), 404, "not_found", "key does not exist",
                 "key");
  }
  EXPECT_EQ(counts(), before) << "nothing written on an error";
  EXPECT_EQ(list_keys(id_of(other)), std::vector<std::string>{others_key});
}

TEST_F(ConnectionApiTest, AConnectionWhoseWorkspaceIsGoneAnswersWorkspaceDoesNotExist) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string key(connection.at("key").as_string());
  // keyflow cannot delete a project yet; remove it behind the engine's back, as a future
  // project deletion would, without the foreign key that stops it today.
  f.pool.transact([&](pqxx::work& txn) {
    txn.exec("ALTER TABLE connections DROP CONSTRAINT connections_project_id_fkey");
    txn.exec_params("DELETE FROM projects WHERE id = $1::bigint", project.id);
  });
  const auto before = counts();
  for (const auto& r :
       {client().get("/v1/connections/" + id), client().del("/v1/connections/" + id),
        client().request("POST", keys_path(id)), client().get(keys_path(id)),
        client().del(keys_path(id) + "/" + key)}) {
    expect_error(r, 404, "not_found", "workspace does not exist");
  }
  expect_error(client().get("/v1/connections?project_id=" + project.id), 404, "not_found",
               "workspace does not exist", "project_id");
  EXPECT_EQ(verify(key).at("code").as_string(), "NOT_FOUND");
  EXPECT_EQ(counts(), before);
}

TEST_F(ConnectionApiTest, BadInputIs422NamingTheFieldAndWritesNothing) {
  const auto project = f.make_project();
  const auto id = id_of(create_connection(project.id));
  const auto before = counts();

  const auto create = [&](json::object body) { return client().post("/v1/connections", body); };
  expect_error(create({{"project_id", project.id}, {"type", "mobile"}, {"name", "x"}}), 422,
               "invalid_request", "type must be sdk or webhook", "type");
  expect_error(create({{"project_id", project.id}, {"type", "sdk"}, {"name", ""}}), 422,
               "invalid_request", {}, "name");
  expect_error(create({{"project_id", project.id}, {"type", "sdk"}}), 422, "invalid_request", {},
               "name");
  expect_error(create({{"project_id", project.id}, {"name", "x"}}), 422, "invalid_request", {},
               "type");
  expect_error(create({{"type", "sdk"}, {"name", "x"}}), 422, "invalid_request", {}, "project_id");
  expect_error(create({{"project_id", "nope"}, {"type", "sdk"}, {"name", "x"}}), 422,
               "invalid_request", {}, "project_id");
  expect_error(create({{"project_id", project.id}, {"type", 1}, {"name", "x"}}), 422,
               "invalid_request", {}, "type");
  expect_error(create({{"project_id", project.id}, {"type", "sdk"}, {"name", "x"}, {"extra", 1}}),
               422, "invalid_request", {}, "extra");
  expect_error(client().request("POST", "/v1/connections", "{not json"), 400, "invalid_json");
  expect_error(client().request("POST", keys_path(id), "[1]"), 400, "invalid_json");
  expect_error(client().post(keys_path(id), {{"name", "x"}}), 422, "invalid_request", {}, "name");

  for (const char* bad : {"abc", "0", "-1", "+5", "1.5", "9007199254740992", "12345678901234567",
                          "00000000-0000-4000-8000-000000000000", "0123"}) {
    expect_error(client().get(std::string("/v1/connections/") + bad), 422, "invalid_request",
                 "id is not a valid connection id", "id");
    expect_error(client().get(keys_path(bad)), 422, "invalid_request", {}, "id");
  }
  expect_error(client().get("/v1/connections"), 422, "invalid_request", "project_id is required",
               "project_id");
  expect_error(client().get("/v1/connections?project_id=nope"), 422, "invalid_request", {},
               "project_id");
  expect_error(client().post("/v1/event-write-keys/verify", json::object{}), 422, "invalid_request",
               {}, "key");
  expect_error(client().request("PUT", "/v1/connections/" + id), 405, "method_not_allowed");
  EXPECT_EQ(counts(), before);
}

TEST_F(ConnectionApiTest, EveryRouteNeedsACredential) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string key(connection.at("key").as_string());
  const auto before = counts();
  for (const auto& bearer : {std::string(), std::string("wrong-token")}) {
    const auto c = client(bearer);
    for (const auto& r :
         {c.post("/v1/connections", {{"project_id", project.id}, {"type", "sdk"}, {"name", "x"}}),
          c.get("/v1/connections?project_id=" + project.id), c.get("/v1/connections/" + id),
          c.del("/v1/connections/" + id), c.request("POST", keys_path(id)), c.get(keys_path(id)),
          c.del(keys_path(id) + "/" + key),
          c.post("/v1/event-write-keys/verify", {{"key", key}})}) {
      expect_error(r, 401, "unauthorized");
    }
  }
  EXPECT_EQ(counts(), before);
}

TEST_F(ConnectionApiTest, AnotherTenantsKeyGetsTheSeeds404sOnEveryRoute) {
  const auto project = f.make_project("home");
  const auto sibling =
      f.organizations.create_project(Actor::admin(), project.organization_id, "sibling");
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  const std::string key(connection.at("key").as_string());
  const auto second = create_key(id);
  const auto elsewhere = f.make_project("elsewhere");
  const std::vector<std::string> outsiders{bearer_key(elsewhere, {"MANAGE"}, true),
                                           bearer_key(sibling, {"MANAGE"}, false)};
  const auto reader = client(bearer_key(project, {"READ"}, false));
  const auto manager = client(bearer_key(project, {"MANAGE"}, true));
  const auto before = counts();

  for (const auto& bearer : outsiders) {
    const auto c = client(bearer);
    expect_error(
        c.post("/v1/connections", {{"project_id", project.id}, {"type", "sdk"}, {"name", "x"}}),
        404, "not_found", "workspace does not exist", "project_id");
    expect_error(c.get("/v1/connections?project_id=" + project.id), 404, "not_found",
                 "workspace does not exist", "project_id");
    for (const auto& r : {c.get("/v1/connections/" + id), c.del("/v1/connections/" + id),
                          c.request("POST", keys_path(id)), c.get(keys_path(id)),
                          c.del(keys_path(id) + "/" + second)}) {
      expect_error(r, 404, "not_found", "connection does not exist", "id");
    }
    const auto v = c.post("/v1/event-write-keys/verify", {{"key", key}});
    ASSERT_EQ(v.status, 200) << v.body;
    EXPECT_EQ(v.json().at("code").as_string(), "NOT_FOUND");
    EXPECT_EQ(v.json().as_object().size(), 2u);
  }
  EXPECT_EQ(counts(), before);

  // Inside the tenant, READ reads and MANAGE manages.
  EXPECT_EQ(reader.get(keys_path(id)).status, 200);
  EXPECT_EQ(reader.get("/v1/connections/" + id).status, 200);
  EXPECT_EQ(
      reader.post("/v1/event-write-keys/verify", {{"key", key}}).json().at("code").as_string(),
      "VALID");
  expect_error(reader.request("POST", keys_path(id)), 403, "forbidden");
  expect_error(reader.del(keys_path(id) + "/" + second), 403, "forbidden");
  EXPECT_EQ(counts(), before);
  EXPECT_EQ(manager.request("POST", keys_path(id)).status, 201);
  EXPECT_EQ(manager.del(keys_path(id) + "/" + second).status, 204);
}

TEST_F(ConnectionApiTest, VerifyAnswersMalformedAndNotFoundWith200) {
  auto v = verify("not-a-key");
  EXPECT_EQ(v.at("valid").as_bool(), false);
  EXPECT_EQ(v.at("code").as_string(), "MALFORMED");
  // The seed's example has no keyflow checksum.
  EXPECT_EQ(verify("aC7B37Bug92OI2JSnl9eKrfGeecZT5hA").at("code").as_string(), "MALFORMED");
  v = verify(generate_write_key());
  EXPECT_EQ(v.at("valid").as_bool(), false);
  EXPECT_EQ(v.at("code").as_string(), "NOT_FOUND");
  EXPECT_EQ(v.size(), 2u);
}

TEST_F(ConnectionApiTest, TwentyConcurrentCreatesOnNineteenKeysEndWithTwenty) {
  const auto project = f.make_project();
  const auto id = id_of(create_connection(project.id));
  for (int i = 1; i < 19; ++i)
    create_key(id);
  // Several rounds, so that a missing lock cannot pass by a lucky interleaving.
  constexpr int kRounds = 5;
  constexpr int kCallers = 20;
  for (int round = 0; round < kRounds; ++round) {
    if (round > 0) {
      ASSERT_EQ(client().del(keys_path(id) + "/" + list_keys(id).back()).status, 204);
    }
    ASSERT_EQ(list_keys(id).size(), 19u);
    const auto before = last_event_id();

    std::vector<int> statuses(kCallers);
    std::vector<std::string> bodies(kCallers);
    std::latch start(kCallers);
    const auto started = std::chrono::steady_clock::now();
    {
      std::vector<std::jthread> callers;
      for (int i = 0; i < kCallers; ++i) {
        callers.emplace_back([&, i] {
          const auto c = client();
          start.arrive_and_wait();
          const auto r = c.request("POST", keys_path(id));
          statuses[i] = r.status;
          bodies[i] = r.body;
        });
      }
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    std::cout << "[ measured ] round " << round << ": " << kCallers << " concurrent creates in "
              << elapsed.count() << " ms\n";

    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 422), kCallers - 1);
    for (int i = 0; i < kCallers; ++i) {
      if (statuses[i] == 422) {
        EXPECT_NE(bodies[i].find("connection already has 20 keys"), std::string::npos) << bodies[i];
      }
    }
    EXPECT_EQ(list_keys(id).size(), 20u);
    EXPECT_EQ(f.count("SELECT count(*) FROM event_write_keys"), 20);
    const auto evs = events(before);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].type, "event_write_key.created");
  }
}

TEST_F(ConnectionApiTest, ConcurrentDeletesNeverRemoveTheLastKey) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  std::vector<std::string> keys{std::string(connection.at("key").as_string()), create_key(id)};
  for (int round = 0; round < 5; ++round) {
    std::vector<int> statuses(2);
    std::latch start(2);
    {
      std::vector<std::jthread> callers;
      for (int i = 0; i < 2; ++i) {
        callers.emplace_back([&, i] {
          const auto c = client();
          start.arrive_and_wait();
          statuses[i] = c.del(keys_path(id) + "/" + keys[i]).status;
        });
      }
    }
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{204, 422}));
    const auto left = list_keys(id);
    ASSERT_EQ(left.size(), 1u);
    // Put the deleted one's place back with a fresh key for the next round.
    keys = {left[0], create_key(id)};
  }
}

TEST_F(ConnectionApiTest, TheDatabaseNeverHoldsAWriteKeyInPlaintext) {
  const auto project = f.make_project();
  std::vector<std::string> keys;
  for (int c = 0; c < 3; ++c) {
    const auto connection = create_connection(project.id, c % 2 ? "sdk" : "webhook");
    keys.emplace_back(connection.at("key").as_string());
    for (int i = 0; i < 3; ++i)
      keys.push_back(create_key(id_of(connection)));
  }
  // Deleted keys leave no trace either.
  const auto doomed = create_connection(project.id);
  keys.emplace_back(doomed.at("key").as_string());
  ASSERT_EQ(client().del("/v1/connections/" + id_of(doomed)).status, 204);

  const auto tables = f.pool.transact([](pqxx::work& txn) {
    std::vector<std::string> names;
    for (const auto& r : txn.exec("SELECT quote_ident(table_name) FROM information_schema.tables"
                                  " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")) {
      names.push_back(r[0].as<std::string>());
    }
    return names;
  });
  ASSERT_GE(tables.size(), 3u);
  std::size_t rows = 0;
  for (const auto& table : tables) {
    const auto texts = f.pool.transact([&](pqxx::work& txn) {
      std::vector<std::string> out;
      for (const auto& r : txn.exec("SELECT row_to_json(t)::text FROM " + table + " t"))
        out.push_back(r[0].as<std::string>());
      return out;
    });
    rows += texts.size();
    for (const auto& text : texts) {
      for (const auto& key : keys) {
        EXPECT_EQ(text.find(key), std::string::npos) << table << ": " << text;
        // bytea renders as \x<hex>: the key's bytes must not be there either.
        EXPECT_EQ(text.find(hex_encode(as_bytes(key))), std::string::npos) << table;
      }
    }
  }
  EXPECT_GT(rows, keys.size());
  EXPECT_EQ(f.count("SELECT count(*) FROM event_write_keys WHERE length(key_sealed) < 32 + 40"), 0)
      << "every key is sealed: nonce, ciphertext and tag";
}

TEST_F(ConnectionApiTest, EventsCarryNeitherTheKeyNorItsHash) {
  const auto project = f.make_project();
  const auto connection = create_connection(project.id);
  const auto id = id_of(connection);
  std::vector<std::string> keys{std::string(connection.at("key").as_string())};
  keys.push_back(create_key(id));
  keys.push_back(create_key(id));
  ASSERT_EQ(client().del(keys_path(id) + "/" + keys[1]).status, 204);
  ASSERT_EQ(client().del("/v1/connections/" + id).status, 204);

  const KeyHasher hasher(f.master_key);
  const auto evs = events();
  std::vector<std::string> types;
  for (const auto& e : evs) {
    types.push_back(e.type);
    for (const auto& key : keys) {
      EXPECT_EQ(e.payload_text.find(key), std::string::npos) << e.payload_text;
      EXPECT_EQ(e.payload_text.find(key.substr(4, 12)), std::string::npos) << e.payload_text;
      const auto hash = hasher.hash(key);
      EXPECT_EQ(e.payload_text.find(hex_encode(hash)), std::string::npos);
      EXPECT_EQ(e.payload_text.find(base64_encode(hash)), std::string::npos);
    }
    EXPECT_FALSE(e.payload.contains("key"));
    EXPECT_FALSE(e.payload.contains("key_hash"));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"connection.created", "event_write_key.created",
                                             "event_write_key.created", "event_write_key.created",
                                             "event_write_key.deleted", "event_write_key.deleted",
                                             "event_write_key.deleted", "connection.deleted"}));
}

}  // namespace
}  // namespace keyflow
