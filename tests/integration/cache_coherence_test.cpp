// The verify caches of several serve processes stay coherent with key changes: a change
// returns only once every live serve process has dropped the key, waits for a process that
// is alive but silent until it counts as gone, and a process that leaves stops answering from
// its cache first. Each "process" here is a cache and a coherence listener over one database.
#include "engine/keys/cache_coherence.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "engine/tenancy/organization_service.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// One serve process's verify path: its cache, its coherence listener, its key service.
struct ServeProcess {
  ServeProcess(const test::TestDatabase& db, ConnectionPool& pool, const MasterKey& master_key,
               const Clock& clock)
      : cache(clock, 60s),
        coherence(db.url(), pool, cache, clock),
        keys(pool, master_key, clock, &cache, nullptr, &coherence),
        listener([this](std::stop_token stop) { coherence.run(stop); }) {}

  VerifyCache cache;
  CacheCoherence coherence;
  KeyService keys;
  std::jthread listener;
};

class CacheCoherenceTest : public ::testing::Test {
 protected:
  CacheCoherenceTest() {
    const auto org = organizations.create_organization(Actor::admin(), "acme");
    project = organizations.create_project(Actor::admin(), org.id, "p").id;
  }

  CreatedKey make_key() {
    NewKey request;
    request.project_id = project;
    request.name = "k";
    return a.keys.create(Actor::admin(), request);
  }
  static VerifyCode code(ServeProcess& p, const std::string& key) {
    return p.keys.verify(Actor::admin(), {key, std::nullopt, {}}).code;
  }
  // Waits until the process's listener has joined and its cache answers.
  static void wait_until_caching(ServeProcess& p, const std::string& key) {
    const auto until = SteadyClock::now() + 10s;
    while (SteadyClock::now() < until) {
      code(p, key);
      if (p.cache.size() > 0) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the cache never started answering";
  }

  test::TestDatabase db;
  SystemClock clock;
  MasterKey master_key = *MasterKey::from_base64(test::kTestMasterKey);
  ConnectionPool pool{db.url(), 8};
  OrganizationService organizations{pool, clock};
  ServeProcess a{db, pool, master_key, clock};
  ServeProcess b{db, pool, master_key, clock};
  std::string project;
};

TEST_F(CacheCoherenceTest, AnotherProcessHasDroppedTheKeyWhenTheChangeReturns) {
  for (int round = 0; round < 20; ++round) {
    const auto key = make_key();
    wait_until_caching(b, key.plaintext);
    ASSERT_EQ(code(b, key.plaintext), VerifyCode::valid);
    KeyPatch disable;
    disable.enabled = false;
    a.keys.update(Actor::admin(), key.key.id, disable);
    EXPECT_EQ(code(b, key.plaintext), VerifyCode::disabled) << "round " << round;
  }
}

TEST_F(CacheCoherenceTest, AChangeWaitsForALiveButSilentProcessUntilItCountsAsGone) {
  const auto key = make_key();
  wait_until_caching(a, key.plaintext);
  // A process that heartbeated just now and will never answer a ping.
  pool.transact([](pqxx::work& txn) {
    txn.exec(
        "INSERT INTO serve_instances (id, seen_at, acked) VALUES (gen_random_uuid(), now(), 0)");
  });
  const auto start = SteadyClock::now();
  a.keys.revoke(Actor::admin(), key.key.id);
  const auto took = SteadyClock::now() - start;
  // It is waited for until it is 3 s silent (when its own cache has stopped being trusted).
  EXPECT_GE(took, 2500ms);
  EXPECT_LT(took, 6s);
  std::printf(
      "the revoke waited %lld ms for the silent process\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));

  // With only answering processes left, a change returns at once.
  const auto second = make_key();
  const auto quick = SteadyClock::now();
  a.keys.revoke(Actor::admin(), second.key.id);
  EXPECT_LT(SteadyClock::now() - quick, 1s);
}

TEST_F(CacheCoherenceTest, AProcessThatLeavesStopsAnsweringFromItsCache) {
  const auto key = make_key();
  wait_until_caching(b, key.plaintext);
  b.listener.request_stop();
  b.listener.join();
  // Nobody waits for b any more, so b must not trust what it cached.
  EXPECT_FALSE(b.cache.get(KeyHasher(master_key).hash(key.plaintext)).has_value());
  EXPECT_EQ(pool.transact([](pqxx::work& txn) {
    return txn.exec1("SELECT count(*) FROM serve_instances")[0].as<long>();
  }),
            1);
}

}  // namespace
}  // namespace keyflow
