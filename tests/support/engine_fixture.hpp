#pragma once

#include <memory>

#include "engine/core/clock.hpp"
#include "engine/crypto/master_key.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/store/database.hpp"
#include "engine/tenancy/organization_service.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow::test {

// The engine's services over a fresh database, with a clock the test moves by hand.
struct EngineFixture {
  TestDatabase db;
  ManualClock clock{
      std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now())};
  MasterKey master_key = *MasterKey::from_base64(kTestMasterKey);
  ConnectionPool pool{db.url(), 8};
  // Receivers listen on loopback.
  DestinationPolicy destinations{false, {"127.0.0.0/8"}};
  KeyService keys{pool, master_key, clock, nullptr, nullptr, nullptr, destinations};
  OrganizationService organizations{pool, clock};
  SubscriptionService subscriptions{pool, master_key, clock, destinations};

  // An organization and a project in it, for tests that need somewhere to put keys.
  Project make_project(const std::string& name = "project") {
    const auto org = organizations.create_organization(Actor::admin(), "org of " + name);
    return organizations.create_project(Actor::admin(), org.id, name);
  }

  // Verify as the admin, with no IP and no required scopes.
  VerifyResult verify(const std::string& key) {
    return keys.verify(Actor::admin(), VerifyRequest{key, std::nullopt, {}});
  }

  long count(const std::string& sql) const { return db.count(sql); }
};

}  // namespace keyflow::test
