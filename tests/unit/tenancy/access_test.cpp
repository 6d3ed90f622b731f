#include "engine/tenancy/access.hpp"

#include <gtest/gtest.h>

#include "engine/core/errc.hpp"

namespace keyflow {
namespace {

Actor key_actor(std::string org, std::optional<std::string> project,
                std::vector<std::string> scopes) {
  ApiKey k;
  k.id = "k";
  k.organization_id = std::move(org);
  k.project_id = std::move(project);
  k.scopes = std::move(scopes);
  return Actor::key(k);
}

errc outcome(const Actor& a, Permission p, const Tenant& t) {
  try {
    require_access(a, p, t);
    return errc::ok;
  } catch (const Error& e) {
    return e.kind();
  }
}

TEST(Access, AdminReachesEverything) {
  EXPECT_EQ(outcome(Actor::admin(), Permission::manage, {"o1", "p1"}), errc::ok);
}

TEST(Access, OtherTenantsAreNotFoundWhateverTheScopes) {
  const auto a = key_actor("o1", std::nullopt, {"MANAGE"});
  EXPECT_EQ(outcome(a, Permission::read, {"o2", std::nullopt}), errc::not_found);
  EXPECT_EQ(outcome(a, Permission::read, {"o2", "p9"}), errc::not_found);
  const auto p = key_actor("o1", "p1", {"MANAGE"});
  EXPECT_EQ(outcome(p, Permission::read, {"o1", "p2"}), errc::not_found);
  EXPECT_EQ(outcome(p, Permission::read, {"o1", std::nullopt}), errc::not_found);
  EXPECT_EQ(outcome(p, Permission::read, {"o1", "p1"}), errc::ok);
}

TEST(Access, ScopesMapToVerbs) {
  const Tenant t{"o1", "p1"};
  const auto reader = key_actor("o1", std::nullopt, {"READ"});
  EXPECT_EQ(outcome(reader, Permission::read, t), errc::ok);
  for (auto p : {Permission::create, Permission::update, Permission::remove, Permission::manage}) {
    EXPECT_EQ(outcome(reader, p, t), errc::forbidden);
  }
  EXPECT_EQ(outcome(key_actor("o1", {}, {"CREATE"}), Permission::create, t), errc::ok);
  EXPECT_EQ(outcome(key_actor("o1", {}, {"UPDATE"}), Permission::update, t), errc::ok);
  EXPECT_EQ(outcome(key_actor("o1", {}, {"DELETE"}), Permission::remove, t), errc::ok);
  EXPECT_EQ(outcome(key_actor("o1", {}, {"DELETE"}), Permission::manage, t), errc::forbidden);
  const auto manager = key_actor("o1", std::nullopt, {"MANAGE"});
  for (auto p : {Permission::read, Permission::create, Permission::update, Permission::remove,
                 Permission::manage}) {
    EXPECT_EQ(outcome(manager, p, t), errc::ok);
  }
  EXPECT_EQ(outcome(key_actor("o1", {}, {"orders:read"}), Permission::read, t), errc::forbidden);
}

}  // namespace
}  // namespace keyflow
