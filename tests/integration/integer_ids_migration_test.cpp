// Migration 009 on a database that has data: every UUID of a resource becomes an integer id,
// every reference and every event follows, and the engine serves the migrated keys.
#include <cctype>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "engine/core/ids.hpp"
#include "engine/crypto/key_hasher.hpp"
#include "engine/crypto/master_key.hpp"
#include "engine/keys/key_format.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/store/database.hpp"
#include "engine/store/migrations.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

constexpr const char* kOrganization = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a01";
constexpr const char* kProject = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a02";
constexpr const char* kEnvironment = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a03";
constexpr const char* kOldKey = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a04";
constexpr const char* kNewKey = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a05";
constexpr const char* kOrganizationKey = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a06";
constexpr const char* kSubscription = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a07";
constexpr const char* kEvent = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a08";
constexpr const char* kWriteKey = "0b3f6c4e-8d1a-4f7e-9c2b-5a6d7e8f9a09";
constexpr const char* kConnection = "1371036433";

std::string upper(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

class IntegerIdsMigrationTest : public ::testing::Test {
 protected:
  test::TestDatabase db{"008_scheduled_rotation.sql"};
  MasterKey master_key = *MasterKey::from_base64(test::kTestMasterKey);
  KeyHasher hasher{master_key};
  std::string old_plaintext = format_key("kf", "live", random_key_secret());
  std::string new_plaintext = format_key("kf", "live", random_key_secret());

  void exec(const std::string& sql) const { db.exec(sql); }
  std::string one(const std::string& sql) const { return db.text(sql); }

  std::string integer_id(const std::string& uuid) {
    return one("SELECT id FROM legacy_ids WHERE uuid = '" + uuid + "'");
  }

  // Data in 008's shape: a rotated key with its replacement and rotation webhook, a key of the
  // organization itself, a subscription with a delivery, a connection, and events, one of
  // which names the project in upper case as a client once sent it.
  void fill_before_the_migration() {
    pqxx::connection conn(db.url());
    pqxx::work txn(conn);
    const auto hash = [&](const std::string& key) {
      const auto h = hasher.hash(key);
      return txn.quote(pqxx::binarystring(h.data(), h.size()));
    };
    txn.exec(std::string("INSERT INTO organizations (id, name) VALUES ('") + kOrganization +
             "', 'acme');"
             "INSERT INTO projects (id, organization_id, name) VALUES ('" +
             kProject + "', '" + kOrganization +
             "', 'shop');"
             "INSERT INTO environments (id, project_id, name, created_at) VALUES ('" +
             kEnvironment + "', '" + kProject + "', 'live', now());");
    txn.exec(std::string("INSERT INTO api_keys (id, organization_id, project_id, environment_id,"
                         " name, key_prefix, key_hash) VALUES ('") +
             kNewKey + "', '" + kOrganization + "', '" + kProject + "', '" + kEnvironment +
             "', 'new', 'kf_live_x', " + hash(new_plaintext) +
             ");"
             "INSERT INTO api_keys (id, organization_id, project_id, environment_id, name,"
             " key_prefix, key_hash, replaced_by_key_id, grace_expires_at) VALUES ('" +
             kOldKey + "', '" + kOrganization + "', '" + kProject + "', '" + kEnvironment +
             "', 'old', 'kf_live_y', " + hash(old_plaintext) + ", '" + kNewKey +
             "', now() + interval '1 day');"
             "UPDATE api_keys SET rotated_from = '" +
             kOldKey + "' WHERE id = '" + kNewKey +
             "';"
             "INSERT INTO api_keys (id, organization_id, name, key_prefix, key_hash) VALUES ('" +
             kOrganizationKey + "', '" + kOrganization + "', 'org', 'kf_live_z', '\\x01');");
    txn.exec(std::string("INSERT INTO webhook_subscriptions (id, project_id, url, secret_sealed)"
                         " VALUES ('") +
             kSubscription + "', '" + kProject +
             "', 'https://example.com/hook', '\\x00');"
             "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, body)"
             " VALUES ('msg_1', '" +
             kSubscription + "', '" + kEvent +
             "', 'api_key.rotated', '{\"id\":\"msg_1\",\"resourceId\":\"" + kOldKey +
             "\",\"data\":{\"new_key_id\":\"" + kNewKey + "\",\"event\":\"" + kEvent +
             "\"}}');"
             "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, body)"
             " VALUES ('msg_3', '" +
             kSubscription +
             "', gen_random_uuid(), 'api_key.updated', '{\"id\":\"msg_3\","
             "\"data\":{\"id\":\"" +
             kOldKey + "\",\"meta\":{\"replaces\":\"" + kNewKey +
             "\"}}}');"
             "INSERT INTO rotation_deliveries (id, old_key_id, new_key_id, url, payload,"
             " next_attempt_at, created_at, updated_at) VALUES ('msg_2', '" +
             kOldKey + "', '" + kNewKey + "', 'https://example.com/rotated', '{\"resourceId\": \"" +
             kOldKey + "\", \"data\": {\"old_key_id\": \"" + kOldKey + "\", \"new_key_id\": \"" +
             kNewKey +
             "\"}}', now(), now(), now());"
             "INSERT INTO connections (id, organization_id, project_id, type, name) VALUES (" +
             kConnection + ", '" + kOrganization + "', '" + kProject + "', 'sdk', 'web');");
    txn.exec(
        std::string("INSERT INTO outbox (event_id, aggregate_type, aggregate_id,"
                    " event_type, payload, published_at) VALUES ('") +
        kEvent + "', 'api_key', '" + kOldKey + "', 'api_key.rotated', '{\"id\": \"" + kOldKey +
        "\", \"organization_id\": \"" + kOrganization + "\", \"project_id\": \"" + upper(kProject) +
        "\", \"new_key_id\": \"" + kNewKey + "\", \"meta\": {\"replaces\": \"" + kNewKey +
        "\"}, \"new_key\": {\"id\": \"" + kNewKey + "\", \"meta\": {\"of\": \"" + kOldKey +
        "\"}}, \"actor\": {\"type\": \"admin\"}}', now());"
        "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) VALUES"
        " ('event_write_key', '" +
        kWriteKey + "', 'event_write_key.created', '{\"id\": \"" + kWriteKey +
        "\", \"connection_id\": " + kConnection + ", \"project_id\": \"" + kProject + "\"}');");
    txn.commit();
  }

  // Those of 009's tables, but the delivery log's two, which 015 drops.
  static constexpr const char* kForeignKeys =
      "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conname NOT IN"
      " ('webhook_deliveries_subscription_id_fkey', 'webhook_attempts_delivery_id_fkey')";
};

TEST_F(IntegerIdsMigrationTest, EveryResourceGetsAnIntegerIdAndEveryReferenceFollows) {
  fill_before_the_migration();
  const auto foreign_keys = one(kForeignKeys);
  EXPECT_EQ(apply_migrations(db.url()).front(), "009_integer_ids.sql");

  EXPECT_EQ(one("SELECT count(*) FROM legacy_ids"), "7");
  EXPECT_EQ(one("SELECT count(DISTINCT id) FROM legacy_ids WHERE id BETWEEN 1 AND "
                "9007199254740991"),
            "7");
  const auto organization = integer_id(kOrganization);
  const auto project = integer_id(kProject);
  const auto environment = integer_id(kEnvironment);
  const auto old_key = integer_id(kOldKey);
  const auto new_key = integer_id(kNewKey);
  const auto subscription = integer_id(kSubscription);
  for (const auto* id :
       {&organization, &project, &environment, &old_key, &new_key, &subscription}) {
    EXPECT_TRUE(is_id(*id)) << *id;
  }

  EXPECT_EQ(one("SELECT organization_id FROM projects WHERE id = " + project), organization);
  EXPECT_EQ(one("SELECT project_id FROM environments WHERE id = " + environment), project);
  EXPECT_EQ(one("SELECT project_id || ' ' || environment_id || ' ' || replaced_by_key_id"
                " FROM api_keys WHERE id = " +
                old_key),
            project + " " + environment + " " + new_key);
  EXPECT_EQ(one("SELECT rotated_from FROM api_keys WHERE id = " + new_key), old_key);
  EXPECT_EQ(one("SELECT project_id FROM api_keys WHERE id = " + integer_id(kOrganizationKey)),
            "NULL");
  EXPECT_EQ(one("SELECT project_id FROM webhook_subscriptions WHERE id = " + subscription),
            project);
  EXPECT_EQ(one("SELECT subscription_id FROM webhook_deliveries WHERE id = 'msg_1'"), subscription);
  EXPECT_EQ(one("SELECT old_key_id || ' ' || new_key_id FROM rotation_deliveries"),
            old_key + " " + new_key);
  EXPECT_EQ(one(std::string("SELECT organization_id || ' ' || project_id FROM connections"
                            " WHERE id = ") +
                kConnection),
            organization + " " + project);
  // The same foreign keys, now on the integer columns.
  EXPECT_EQ(one(kForeignKeys), foreign_keys);
  EXPECT_THROW(exec("UPDATE api_keys SET project_id = 42 WHERE id = " + old_key),
               pqxx::foreign_key_violation);

  // The history reads as if the resources had always had these ids; event ids, write key ids
  // and connection ids keep theirs.
  EXPECT_EQ(one(std::string("SELECT aggregate_id FROM outbox WHERE event_id = '") + kEvent + "'"),
            old_key);
  EXPECT_EQ(one(std::string("SELECT payload->>'id' || ' ' || (payload->>'organization_id') ||"
                            " ' ' || (payload->>'project_id') || ' ' || (payload->>'new_key_id')"
                            " FROM outbox WHERE event_id = '") +
                kEvent + "'"),
            old_key + " " + organization + " " + project + " " + new_key);
  EXPECT_EQ(one("SELECT aggregate_id || ' ' || (payload->>'id') || ' ' ||"
                " (payload->>'project_id') || ' ' || (payload->>'connection_id')"
                " FROM outbox WHERE aggregate_type = 'event_write_key'"),
            std::string(kWriteKey) + " " + kWriteKey + " " + project + " " + kConnection);
  EXPECT_EQ(one("SELECT body FROM webhook_deliveries WHERE id = 'msg_1'"),
            "{\"id\":\"msg_1\",\"resourceId\":\"" + old_key + "\",\"data\":{\"new_key_id\":\"" +
                new_key + "\",\"event\":\"" + kEvent + "\"}}");
  // A client's own meta keeps what the client wrote, in events and webhook bodies alike.
  EXPECT_EQ(one(std::string("SELECT (payload#>>'{meta,replaces}') || ' ' ||"
                            " (payload#>>'{new_key,id}') || ' ' || (payload#>>'{new_key,meta,of}')"
                            " FROM outbox WHERE event_id = '") +
                kEvent + "'"),
            std::string(kNewKey) + " " + new_key + " " + kOldKey);
  EXPECT_EQ(
      one("SELECT (body::jsonb#>>'{data,id}') || ' ' || (body::jsonb#>>'{data,meta,replaces}')"
          " FROM webhook_deliveries WHERE id = 'msg_3'"),
      old_key + " " + kNewKey);
  EXPECT_EQ(one("SELECT payload->>'resourceId' || ' ' || (payload->'data'->>'new_key_id')"
                " FROM rotation_deliveries"),
            old_key + " " + new_key);
}

TEST_F(IntegerIdsMigrationTest, KeysMadeBeforeTheMigrationVerifyUnderTheirNewIds) {
  fill_before_the_migration();
  apply_migrations(db.url());
  const auto old_key = integer_id(kOldKey);
  const auto new_key = integer_id(kNewKey);
  const auto project = integer_id(kProject);

  ManualClock clock{std::chrono::system_clock::now()};
  ConnectionPool pool{db.url(), 2};
  KeyService keys{pool, master_key, clock};
  const auto verified = keys.verify(Actor::admin(), VerifyRequest{old_plaintext, std::nullopt, {}});
  EXPECT_EQ(verified.code, VerifyCode::valid);
  ASSERT_TRUE(verified.key);
  EXPECT_EQ(verified.key->id, old_key);
  EXPECT_EQ(verified.key->project_id, project);
  EXPECT_EQ(verified.key->replaced_by_key_id, new_key);
  EXPECT_EQ(keys.verify(Actor::admin(), VerifyRequest{new_plaintext, std::nullopt, {}}).code,
            VerifyCode::valid);
  EXPECT_EQ(keys.get(Actor::admin(), new_key).rotated_from, old_key);

  // New keys go into the migrated project with fresh integer ids.
  NewKey request;
  request.project_id = project;
  request.name = "after";
  const auto created = keys.create(Actor::admin(), request);
  EXPECT_TRUE(is_id(created.key.id));
  EXPECT_EQ(created.key.organization_id, integer_id(kOrganization));
}

// Written by hand, one UUID can name two resources; the migration stops instead of looping.
TEST_F(IntegerIdsMigrationTest, AUuidSharedByTwoResourcesStopsTheMigration) {
  exec(std::string("INSERT INTO organizations (id, name) VALUES ('") + kOrganization +
       "', 'acme'); INSERT INTO projects (id, organization_id, name) VALUES ('" + kOrganization +
       "', '" + kOrganization + "', 'same id')");
  try {
    apply_migrations(db.url());
    FAIL() << "the migration went through";
  } catch (const pqxx::sql_error& e) {
    EXPECT_NE(std::string(e.what()).find("is the id of two resources"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(one("SELECT count(*) FROM schema_migrations WHERE name = '009_integer_ids.sql'"), "0");
}

}  // namespace
}  // namespace keyflow
