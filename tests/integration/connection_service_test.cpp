// ConnectionService's tenant checks on a real PostgreSQL: a keyflow key acts only inside its
// own organization (and project), where anything outside answers exactly like "missing", and
// its scopes decide what it may do.
#include "engine/connections/connection_service.hpp"

#include <atomic>
#include <functional>
#include <ostream>
#include <thread>

#include <gtest/gtest.h>

#include "engine/connections/write_key.hpp"
#include "engine/core/errc.hpp"
#include "tests/support/engine_fixture.hpp"

namespace keyflow {
namespace {

Actor key_actor(const std::string& org, std::optional<std::string> project,
                std::vector<std::string> scopes) {
  ApiKey k;
  k.id = "4503599627370497";
  k.organization_id = org;
  k.project_id = std::move(project);
  k.scopes = std::move(scopes);
  return Actor::key(k);
}

struct Outcome {
  errc code = errc::ok;
  std::string message;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << static_cast<int>(o.code) << " '" << o.message << "'";
}

Outcome outcome(const std::function<void()>& fn) {
  try {
    fn();
    return {};
  } catch (const Error& e) {
    return {e.kind(), e.message()};
  }
}

const Outcome kOk{};
const Outcome kNoWorkspace{errc::not_found, "workspace does not exist"};
const Outcome kNoConnection{errc::not_found, "connection does not exist"};
const Outcome kLacksManage{errc::forbidden, "this key lacks the MANAGE scope"};
const Outcome kLacksRead{errc::forbidden, "this key lacks the READ scope"};

class ConnectionServiceTest : public ::testing::Test {
 protected:
  ConnectionServiceTest() {
    project_ = f.make_project("home");
    sibling_ = f.organizations.create_project(Actor::admin(), project_.organization_id, "sibling");
    auto created = service_.create(Actor::admin(), {project_.id, "sdk", "web"});
    connection_ = created.connection;
    key_ = created.key;
    id_ = std::to_string(connection_.id);
    second_key_ = service_.create_write_key(Actor::admin(), id_);
  }

  long writes() {
    return f.count(
        "SELECT (SELECT count(*) FROM connections) + (SELECT count(*) FROM event_write_keys)"
        " + (SELECT count(*) FROM outbox)");
  }

  // Every operation on the home connection, as the actor sees it.
  void expect_connection_ops(const Actor& a, const Outcome& read, const Outcome& manage) {
    const auto before = writes();
    EXPECT_EQ(outcome([&] { service_.get(a, id_); }), read);
    EXPECT_EQ(outcome([&] { service_.list_write_keys(a, id_); }), read);
    EXPECT_EQ(outcome([&] { service_.create_write_key(a, id_); }), manage);
    EXPECT_EQ(outcome([&] { service_.delete_write_key(a, id_, second_key_); }), manage);
    EXPECT_EQ(outcome([&] { service_.remove(a, id_); }), manage);
    if (manage != kOk) {
      EXPECT_EQ(writes(), before) << "nothing written on a refusal";
      EXPECT_EQ(service_.list_write_keys(Actor::admin(), id_).size(), 2u);
    }
  }

  test::EngineFixture f;
  ConnectionService service_{f.pool, f.master_key, f.clock};
  Project project_;
  Project sibling_;
  Connection connection_;
  std::string id_;
  std::string key_;
  std::string second_key_;
};

TEST_F(ConnectionServiceTest, AnotherOrganizationsKeySeesNothing) {
  const auto other = f.make_project("elsewhere");
  const auto outsider = key_actor(other.organization_id, std::nullopt, {"MANAGE"});
  expect_connection_ops(outsider, kNoConnection, kNoConnection);
  const auto before = writes();
  EXPECT_EQ(outcome([&] { service_.create(outsider, {project_.id, "sdk", "x"}); }), kNoWorkspace);
  EXPECT_EQ(outcome([&] { service_.list_by_project(outsider, project_.id); }), kNoWorkspace);
  const auto v = service_.verify_write_key(outsider, key_);
  EXPECT_EQ(v.code, VerifyCode::not_found);
  EXPECT_FALSE(v.connection);
  EXPECT_EQ(writes(), before);
  // Its own organization works as usual.
  EXPECT_EQ(outcome([&] { service_.create(outsider, {other.id, "webhook", "x"}); }), kOk);
}

TEST_F(ConnectionServiceTest, AProjectKeySeesOnlyItsProject) {
  const auto sibling_key = key_actor(project_.organization_id, sibling_.id, {"MANAGE"});
  expect_connection_ops(sibling_key, kNoConnection, kNoConnection);
  EXPECT_EQ(outcome([&] {
              service_.create(sibling_key, {project_.id, "sdk", "x"});
            }),
            kNoWorkspace);
  EXPECT_EQ(outcome([&] { service_.list_by_project(sibling_key, project_.id); }), kNoWorkspace);
  EXPECT_EQ(service_.verify_write_key(sibling_key, key_).code, VerifyCode::not_found);

  const auto home_key = key_actor(project_.organization_id, project_.id, {"MANAGE"});
  EXPECT_EQ(service_.verify_write_key(home_key, key_).code, VerifyCode::valid);
  expect_connection_ops(home_key, kOk, kOk);
}

TEST_F(ConnectionServiceTest, AnOrganizationKeyReachesEveryProjectOfIt) {
  const auto org_key = key_actor(project_.organization_id, std::nullopt, {"MANAGE"});
  EXPECT_EQ(outcome([&] { service_.create(org_key, {sibling_.id, "sdk", "x"}); }), kOk);
  EXPECT_EQ(service_.list_by_project(org_key, sibling_.id).size(), 1u);
  expect_connection_ops(org_key, kOk, kOk);
}

TEST_F(ConnectionServiceTest, ReadScopeReadsButCannotCreateOrDelete) {
  for (const auto& scopes : {std::vector<std::string>{"READ"},
                             std::vector<std::string>{"READ", "CREATE", "UPDATE", "DELETE"}}) {
    const auto reader = key_actor(project_.organization_id, std::nullopt, scopes);
    expect_connection_ops(reader, kOk, kLacksManage);
    EXPECT_EQ(outcome([&] { service_.create(reader, {project_.id, "sdk", "x"}); }), kLacksManage);
    EXPECT_EQ(outcome([&] { service_.list_by_project(reader, project_.id); }), kOk);
    EXPECT_EQ(service_.verify_write_key(reader, key_).code, VerifyCode::valid);
  }
}

TEST_F(ConnectionServiceTest, WithoutReadNothingIsReadable) {
  const auto creator = key_actor(project_.organization_id, std::nullopt, {"CREATE"});
  expect_connection_ops(creator, kLacksRead, kLacksManage);
  EXPECT_EQ(outcome([&] { service_.verify_write_key(creator, key_); }), kLacksRead);
  EXPECT_EQ(outcome([&] { service_.list_by_project(creator, project_.id); }), kLacksRead);
}

TEST_F(ConnectionServiceTest, EventsNameTheActingKey) {
  const auto manager = key_actor(project_.organization_id, project_.id, {"MANAGE"});
  const auto key = service_.create_write_key(manager, id_);
  const auto actor = f.pool.transact([](pqxx::work& txn) {
    return txn.exec1(
        "SELECT payload->'actor'->>'type', payload->'actor'->>'id' FROM outbox"
        " ORDER BY id DESC LIMIT 1");
  });
  EXPECT_EQ(actor[0].as<std::string>(), "api_key");
  EXPECT_EQ(actor[1].as<std::string>(), manager.id);
  EXPECT_TRUE(is_well_formed_write_key(key));
}

TEST_F(ConnectionServiceTest, ManyConcurrentCreatesNeverPassTwenty) {
  // 30 callers on the pool's 8 connections, starting from 2 keys: exactly 18 get through.
  constexpr int kCallers = 30;
  std::atomic<int> created{0}, refused{0};
  {
    std::vector<std::jthread> callers;
    for (int i = 0; i < kCallers; ++i) {
      callers.emplace_back([&] {
        const auto r = outcome([&] { service_.create_write_key(Actor::admin(), id_); });
        if (r == kOk) {
          ++created;
        } else if (r == Outcome{errc::limit_exceeded, "connection already has 20 keys"}) {
          ++refused;
        }
      });
    }
  }
  EXPECT_EQ(created.load(), 18);
  EXPECT_EQ(refused.load(), kCallers - 18);
  EXPECT_EQ(service_.list_write_keys(Actor::admin(), id_).size(), 20u);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'event_write_key.created'"),
            20);
}

}  // namespace
}  // namespace keyflow
