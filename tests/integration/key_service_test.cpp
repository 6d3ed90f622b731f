#include "engine/keys/key_service.hpp"

#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "consumers/rotation_scheduler.hpp"
#include "engine/core/errc.hpp"
#include "engine/core/json_render.hpp"
#include "engine/keys/key_format.hpp"
#include "tests/support/engine_fixture.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;

class KeyServiceTest : public ::testing::Test {
 protected:
  test::EngineFixture f;
  Project project = f.make_project();

  NewKey new_key(std::string name = "backend") {
    NewKey k;
    k.project_id = project.id;
    k.name = std::move(name);
    k.scopes = {"READ", "orders:write"};
    return k;
  }
  // A key on a schedule, with the rotation webhook a schedule needs.
  NewKey scheduled_key(int interval_days, std::chrono::seconds first_in) {
    auto k = new_key();
    k.rotation_interval_days = interval_days;
    k.next_rotation_at = f.clock.now() + first_in;
    k.rotation_webhook_url = "https://hooks.example.com/rotated";
    return k;
  }
};

TEST_F(KeyServiceTest, CreateCommitsTheKeyAndItsCreatedEventTogether) {
  const auto created = f.keys.create(Actor::admin(), new_key());
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 1);
  const auto row = f.pool.transact([&](pqxx::work& txn) {
    return txn.exec1("SELECT aggregate_type, aggregate_id, event_type, payload::text FROM outbox");
  });
  EXPECT_EQ(row[0].as<std::string>(), "api_key");
  EXPECT_EQ(row[1].as<std::string>(), created.key.id);
  EXPECT_EQ(row[2].as<std::string>(), "api_key.created");
  const auto payload = boost::json::parse(row[3].c_str()).as_object();
  EXPECT_EQ(payload.at("id").as_string(), created.key.id);
  EXPECT_EQ(payload.at("organization_id").as_string(), project.organization_id);
  EXPECT_EQ(payload.at("actor").at("type").as_string(), "admin");
  EXPECT_FALSE(payload.contains("key"));
  EXPECT_EQ(std::string(row[3].c_str()).find(created.plaintext), std::string::npos);
}

TEST_F(KeyServiceTest, AFailedOutboxInsertLeavesNeitherKeyNorEvent) {
  // A failure between the key insert and the outbox insert: the trigger makes the second fail.
  f.pool.transact([](pqxx::work& txn) {
    txn.exec(
        "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$;"
        "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox"
        " FOR EACH ROW EXECUTE FUNCTION fail_outbox()");
  });
  EXPECT_THROW(f.keys.create(Actor::admin(), new_key()), std::exception);
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 0);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox"), 0);
}

TEST_F(KeyServiceTest, TheDatabaseNeverHoldsThePlaintextKey) {
  const auto created = f.keys.create(Actor::admin(), new_key());
  const auto rotated = f.keys.rotate(Actor::admin(), created.key.id, {});
  const auto body_of = [](const std::string& key) { return std::string(parse_key(key)->body); };
  // Every row of every table, as text, must not contain either secret.
  const auto tables = f.pool.transact([](pqxx::work& txn) {
    std::vector<std::string> names;
    for (const auto& r : txn.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")) {
      names.push_back(r[0].as<std::string>());
    }
    return names;
  });
  ASSERT_GE(tables.size(), 5u);
  for (const auto& table : tables) {
    const auto rows = f.pool.transact([&](pqxx::work& txn) {
      return txn.exec("SELECT row_to_json(t)::text FROM " + table + " t");
    });
    for (const auto& row : rows) {
      const std::string text = row[0].c_str();
      EXPECT_EQ(text.find(body_of(created.plaintext)), std::string::npos) << table;
      EXPECT_EQ(text.find(body_of(rotated.plaintext)), std::string::npos) << table;
    }
  }
}

TEST_F(KeyServiceTest, ListAndGetNeverReturnTheSecret) {
  const auto created = f.keys.create(Actor::admin(), new_key());
  KeyListRequest request;
  request.project_id = project.id;
  const auto listed = f.keys.list(Actor::admin(), request).keys;
  ASSERT_EQ(listed.size(), 1u);
  const auto json = boost::json::serialize(to_json(listed.front()));
  EXPECT_EQ(json.find(created.plaintext), std::string::npos);
  EXPECT_EQ(json.find(std::string(parse_key(created.plaintext)->body)), std::string::npos);
  EXPECT_FALSE(to_json(f.keys.get(Actor::admin(), created.key.id)).contains("key"));
}

TEST_F(KeyServiceTest, VerifyAnswersValidNotFoundRevokedAndMalformed) {
  const auto created = f.keys.create(Actor::admin(), new_key());
  auto result = f.verify(created.plaintext);
  EXPECT_EQ(result.code, VerifyCode::valid);
  ASSERT_TRUE(result.key);
  EXPECT_EQ(result.key->id, created.key.id);

  EXPECT_EQ(f.verify(format_key("kf", "live", random_key_secret())).code, VerifyCode::not_found);
  std::string typo = created.plaintext;
  typo[10] = typo[10] == 'x' ? 'y' : 'x';
  EXPECT_EQ(f.verify(typo).code, VerifyCode::malformed);
  EXPECT_EQ(f.verify("").code, VerifyCode::malformed);

  f.keys.revoke(Actor::admin(), created.key.id);
  EXPECT_EQ(f.verify(created.plaintext).code, VerifyCode::revoked);
}

TEST_F(KeyServiceTest, RevokeIsIdempotentAndEmitsOnce) {
  const auto created = f.keys.create(Actor::admin(), new_key());
  f.keys.revoke(Actor::admin(), created.key.id);
  f.keys.revoke(Actor::admin(), created.key.id);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.revoked'"), 1);
  EXPECT_TRUE(f.keys.get(Actor::admin(), created.key.id).revoked_at.has_value());
}

TEST_F(KeyServiceTest, ExpiredKeyVerifiesAsExpired) {
  auto request = new_key();
  request.expires_at = f.clock.now() + 1h;
  const auto created = f.keys.create(Actor::admin(), request);
  EXPECT_EQ(f.verify(created.plaintext).code, VerifyCode::valid);
  f.clock.advance(2h);
  EXPECT_EQ(f.verify(created.plaintext).code, VerifyCode::expired);
}

TEST_F(KeyServiceTest, RotatedKeyStaysValidUntilGraceEnds) {
  const auto created = f.keys.create(Actor::admin(), new_key());
  const auto rotation =
      f.keys.rotate(Actor::admin(), created.key.id, {600s, std::nullopt, std::nullopt});
  EXPECT_EQ(rotation.old_key.replaced_by_key_id, rotation.new_key.id);
  EXPECT_EQ(f.verify(rotation.plaintext).code, VerifyCode::valid);
  const auto old = f.verify(created.plaintext);
  EXPECT_EQ(old.code, VerifyCode::valid);
  EXPECT_EQ(old.key->replaced_by_key_id, rotation.new_key.id);
  f.clock.advance(601s);
  EXPECT_EQ(f.verify(created.plaintext).code, VerifyCode::expired);
  EXPECT_EQ(f.verify(rotation.plaintext).code, VerifyCode::valid);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.rotated'"), 1);
}

TEST_F(KeyServiceTest, RotatingARevokedOrAlreadyRotatedKeyIsAConflict) {
  const auto a = f.keys.create(Actor::admin(), new_key("a"));
  f.keys.revoke(Actor::admin(), a.key.id);
  try {
    f.keys.rotate(Actor::admin(), a.key.id, {});
    FAIL() << "rotating a revoked key must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::key_revoked);
  }
  const auto b = f.keys.create(Actor::admin(), new_key("b"));
  f.keys.rotate(Actor::admin(), b.key.id, {});
  try {
    f.keys.rotate(Actor::admin(), b.key.id, {});
    FAIL() << "rotating a rotated key must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::key_rotated);
  }
}

TEST_F(KeyServiceTest, CreateRejectsBadInputAndWritesNothing) {
  auto bad_scope = new_key();
  bad_scope.scopes = {"ROOT"};
  auto past = new_key();
  past.expires_at = f.clock.now() - 1s;
  auto no_owner = new_key();
  no_owner.project_id.reset();
  auto empty_name = new_key("");
  for (const auto* request : {&bad_scope, &past, &no_owner, &empty_name}) {
    EXPECT_THROW(f.keys.create(Actor::admin(), *request), Error);
  }
  auto missing_project = new_key();
  missing_project.project_id = "4503599627370497";
  try {
    f.keys.create(Actor::admin(), missing_project);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::not_found);
    EXPECT_EQ(e.field(), "project_id");
  }
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 0);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox"), 0);
}

TEST_F(KeyServiceTest, IntervalSetsNextRotationUnlessGiven) {
  auto request = new_key();
  request.rotation_interval_days = 30;
  request.rotation_webhook_url = "https://hooks.example.com/rotated";
  const auto a = f.keys.create(Actor::admin(), request);
  EXPECT_EQ(*a.key.next_rotation_at, f.clock.now() + 30 * 24h);
  request.next_rotation_at = f.clock.now() + 5s;
  const auto b = f.keys.create(Actor::admin(), request);
  EXPECT_EQ(*b.key.next_rotation_at, f.clock.now() + 5s);
}

TEST_F(KeyServiceTest, SchedulerRotatesDueKeysOnceThroughTheEnginePath) {
  const auto created = f.keys.create(Actor::admin(), scheduled_key(7, 10s));
  RotationScheduler scheduler(f.pool, f.keys, f.clock, {10ms, 3600s, 100});

  EXPECT_EQ(scheduler.run_once(), 0) << "not due yet";
  f.clock.advance(11s);
  EXPECT_EQ(scheduler.run_once(), 1);
  EXPECT_EQ(scheduler.run_once(), 0) << "the same due time never rotates twice";

  const auto old = f.keys.get(Actor::admin(), created.key.id);
  ASSERT_TRUE(old.replaced_by_key_id);
  EXPECT_FALSE(old.next_rotation_at);
  const auto fresh = f.keys.get(Actor::admin(), *old.replaced_by_key_id);
  // Counted from the due time, not from when the scheduler got to it: no drift.
  EXPECT_EQ(*fresh.next_rotation_at, *created.key.next_rotation_at + 7 * 24h);
  EXPECT_EQ(fresh.rotated_from, created.key.id);
  EXPECT_EQ(fresh.rotation_webhook_url, created.key.rotation_webhook_url);
  EXPECT_TRUE(fresh.has_rotation_secret) << "the replacement inherits the secret";
  EXPECT_EQ(*old.grace_expires_at, f.clock.now() + 3600s);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.rotated'"), 1);
}

TEST_F(KeyServiceTest, ConcurrentSchedulersRotateEachDueKeyExactlyOnce) {
  const auto request = scheduled_key(1, 1s);
  for (int i = 0; i < 20; ++i)
    f.keys.create(Actor::admin(), request);
  f.clock.advance(2s);
  std::atomic<int> total{0};
  {
    std::vector<std::jthread> schedulers;
    for (int i = 0; i < 4; ++i) {
      schedulers.emplace_back([&] {
        RotationScheduler s(f.pool, f.keys, f.clock, {10ms, 60s, 100});
        total += s.run_once();
      });
    }
  }
  EXPECT_EQ(total.load(), 20);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.rotated'"), 20);
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 40);
  EXPECT_EQ(f.count("SELECT count(*) FROM rotation_deliveries"), 20);
}

TEST_F(KeyServiceTest, SchedulerRotatesMoreDueKeysThanOneBatchInOneRound) {
  const auto request = scheduled_key(1, 1s);
  for (int i = 0; i < 25; ++i)
    f.keys.create(Actor::admin(), request);
  f.clock.advance(2s);
  RotationScheduler scheduler(f.pool, f.keys, f.clock, {10ms, 60s, 10});
  EXPECT_EQ(scheduler.run_once(), 25) << "three batches of at most 10";
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.rotated'"), 25);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.created'"
                    " AND payload->>'rotated_from' IS NOT NULL"),
            25);
  EXPECT_EQ(f.count("SELECT count(*) FROM rotation_deliveries WHERE key_sealed IS NOT NULL"), 25);
  // Each replacement verifies, and its hash is the one written for it.
  EXPECT_EQ(f.count("SELECT count(DISTINCT key_hash) FROM api_keys"), 50);
}

TEST_F(KeyServiceTest, AKeyTheDatabaseRefusesToRotateDoesNotHoldBackItsBatch) {
  const auto request = scheduled_key(1, 1s);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(f.keys.create(Actor::admin(), request).key.id);
  // The database refuses the replacement of one key only, as a full disk or a corrupt row
  // would: the set-based write of the batch fails, and the scheduler goes key by key.
  f.pool.transact([&](pqxx::work& txn) {
    txn.exec(
        "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN IF NEW.rotated_from = '" +
        ids[2] +
        "' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;"
        "CREATE TRIGGER refuse_one BEFORE INSERT ON api_keys"
        " FOR EACH ROW EXECUTE FUNCTION refuse_one()");
  });
  f.clock.advance(2s);
  RotationScheduler scheduler(f.pool, f.keys, f.clock, {10ms, 60s, 100});
  EXPECT_EQ(scheduler.run_once(), 4);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.rotated'"), 4);
  const auto refused = f.keys.get(Actor::admin(), ids[2]);
  EXPECT_FALSE(refused.replaced_by_key_id);
  EXPECT_TRUE(refused.next_rotation_at) << "still due, tried again next round";
  EXPECT_EQ(f.count("SELECT count(*) FROM rotation_deliveries"), 4);
}

TEST_F(KeyServiceTest, AScheduleNeedsARotationWebhook) {
  auto request = new_key();
  request.rotation_interval_days = 30;
  try {
    f.keys.create(Actor::admin(), request);
    FAIL() << "a schedule without rotation_webhook_url was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    EXPECT_EQ(e.field(), "rotation_webhook_url");
  }
  EXPECT_EQ(f.count("SELECT count(*) FROM api_keys"), 0);
}

TEST_F(KeyServiceTest, ASchedulerThatWasDownSkipsMissedPeriodsInsteadOfDrifting) {
  const auto created = f.keys.create(Actor::admin(), scheduled_key(1, 1h));
  f.clock.advance(24h * 3 + 2h);  // three due times missed
  RotationScheduler scheduler(f.pool, f.keys, f.clock, {10ms, 60s, 100});
  EXPECT_EQ(scheduler.run_once(), 1) << "rotated once, not once per missed period";
  const auto old = f.keys.get(Actor::admin(), created.key.id);
  const auto fresh = f.keys.get(Actor::admin(), *old.replaced_by_key_id);
  EXPECT_EQ(*fresh.next_rotation_at, *created.key.next_rotation_at + 4 * 24h);
  EXPECT_GT(*fresh.next_rotation_at, f.clock.now());
}

}  // namespace
}  // namespace keyflow
