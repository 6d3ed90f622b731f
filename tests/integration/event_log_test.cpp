// GET /v1/events: a key's history from the retained outbox rows, who did what and when, with
// the event id Kafka carries; confined to the caller's tenant.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/events/event_store.hpp"
#include "tests/support/api_server.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using test::expect_error;

TEST(EventLog, AKeysHistoryNamesEveryChangeAndItsActor) {
  test::ApiServer server;
  const auto org = server.create("/v1/organizations", {{"name", "acme"}});
  const auto project =
      server.create("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}});
  const auto manager = server.create(
      "/v1/api-keys",
      {{"organization_id", org.at("id")}, {"name", "ops"}, {"scopes", json::array{"MANAGE"}}});
  const auto as_manager = server.client(std::string(manager.at("key").as_string()));
  const auto key =
      as_manager.post("/v1/api-keys", {{"project_id", project.at("id")}, {"name", "k"}});
  ASSERT_EQ(key.status, 201);
  const std::string id(key.json().at("id").as_string());
  ASSERT_EQ(as_manager.request("PATCH", "/v1/api-keys/" + id, R"({"name":"renamed"})").status, 200);
  ASSERT_EQ(server.client().del("/v1/api-keys/" + id).status, 204);

  const auto r = server.client().get("/v1/events?aggregate_id=" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto events = r.json().as_array();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].at("type").as_string(), "api_key.revoked");
  EXPECT_EQ(events[1].at("type").as_string(), "api_key.updated");
  EXPECT_EQ(events[2].at("type").as_string(), "api_key.created");
  EXPECT_EQ(events[0].at("actor").at("type").as_string(), "admin");
  EXPECT_EQ(events[2].at("actor").at("type").as_string(), "api_key");
  EXPECT_EQ(events[2].at("actor").at("id"), manager.at("id"));
  for (const auto& e : events) {
    EXPECT_EQ(e.at("event_id").as_string().size(), 36u);
    EXPECT_EQ(e.at("aggregate_id").as_string(), id);
  }
  const auto only = server.client().get("/v1/events?aggregate_id=" + id + "&type=api_key.updated");
  EXPECT_EQ(only.json().as_array().size(), 1u);
  EXPECT_EQ(
      server.client().get("/v1/events?aggregate_id=" + id + "&limit=1").json().as_array().size(),
      1u);
  expect_error(server.client().get("/v1/events?limit=0"), 422, "invalid_request", "limit");
  expect_error(server.client().get("/v1/events?limit=ten"), 422, "invalid_request", "limit");
}

TEST(EventLog, AKeySeesOnlyItsOwnOrganizationsEvents) {
  test::ApiServer server;
  const auto a = server.create("/v1/organizations", {{"name", "a"}});
  const auto b = server.create("/v1/organizations", {{"name", "b"}});
  const auto b_key =
      server.create("/v1/api-keys", {{"organization_id", b.at("id")}, {"name", "b"}});
  const auto reader = server.create(
      "/v1/api-keys",
      {{"organization_id", a.at("id")}, {"name", "a reader"}, {"scopes", json::array{"READ"}}});
  const auto c = server.client(std::string(reader.at("key").as_string()));
  const auto foreign = c.get("/v1/events?aggregate_id=" + std::string(b_key.at("id").as_string()));
  ASSERT_EQ(foreign.status, 200);
  EXPECT_TRUE(foreign.json().as_array().empty());
  const auto all = c.get("/v1/events").json().as_array();
  ASSERT_FALSE(all.empty());
  for (const auto& e : all)
    EXPECT_EQ(e.at("data").at("organization_id"), a.at("id"));
}

// A tenant with few events among many others' is answered from an index, not a scan of the
// whole retained outbox: the plan of the event log's own statement over 200 000 rows.
TEST(EventLog, ATenantWithFewEventsIsAnsweredFromAnIndex) {
  test::ApiServer server;
  const auto org = server.create("/v1/organizations", {{"name", "small"}});
  const auto project =
      server.create("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}});
  const auto reader = server.create(
      "/v1/api-keys",
      {{"project_id", project.at("id")}, {"name", "reader"}, {"scopes", json::array{"READ"}}});
  server.f.pool.transact([](pqxx::work& txn) {
    txn.exec(
        "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, published_at)"
        " SELECT 'api_key', 'other-' || n, 'api_key.created',"
        " jsonb_build_object('organization_id', 'org-' || (n % 50), 'project_id',"
        " 'project-' || (n % 500)), now() FROM generate_series(1, 200000) AS n");
    txn.exec("ANALYZE outbox");
  });

  const std::string org_id(org.at("id").as_string());
  const std::string project_id(project.at("id").as_string());
  for (const auto& tenant :
       {std::pair<std::optional<std::string>, std::optional<std::string>>{org_id, std::nullopt},
        {org_id, project_id}}) {
    const auto plan = server.f.pool.transact([&](pqxx::work& txn) {
      std::string text;
      for (const auto& row : txn.exec_params(
               std::string("EXPLAIN ") + EventStore::kListSql, std::optional<std::string>(),
               std::optional<std::string>(), tenant.first, tenant.second, 100)) {
        text += row[0].as<std::string>() + "\n";
      }
      return text;
    });
    EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
    // An index scan or a bitmap scan of either tenant index; never the whole table.
    EXPECT_TRUE(plan.find("outbox_by_organization") != std::string::npos ||
                plan.find("outbox_by_project") != std::string::npos)
        << plan;
  }

  // And the answer is the tenant's own events only.
  const auto r = server.client(std::string(reader.at("key").as_string())).get("/v1/events");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json().as_array().size(), 1u);  // the reader's own api_key.created
  EXPECT_EQ(r.json().as_array()[0].at("aggregate_id"), reader.at("id"));
}

}  // namespace
}  // namespace keyflow
