// Rotating the master key with no downtime: every process restarts holding the new master key
// and the previous one, `keyflowd rekey` re-seals every secret at rest under the new one while
// they serve, and then the previous key can go. API keys hashed before keep verifying
// throughout (their pepper is stored, not the master key), and a process given only a wrong
// master key refuses to start.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/crypto/key_hasher.hpp"
#include "engine/crypto/keyring_store.hpp"
#include "engine/crypto/secret_box.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string id_of(const json::value& v) {
  return v.at("id").is_string() ? std::string(v.at("id").as_string()) : json::serialize(v.at("id"));
}

class MasterKeyRotationTest : public ::testing::Test {
 protected:
  // What a client holds, to check after every step.
  struct Held {
    std::string api_key;
    std::string subscription_id;
    std::string webhook_secret;
    std::string write_key;
  };

  std::map<std::string, std::string> keys(const std::string& current,
                                          const std::string& previous = {}) const {
    std::map<std::string, std::string> env = {{"KEYFLOW_MASTER_KEY", current}};
    if (!previous.empty()) env["KEYFLOW_PREVIOUS_MASTER_KEYS"] = previous;
    return env;
  }

  void expect_all_work(const test::RunningKeyflowd& keyflowd, const Held& held) {
    const auto admin = keyflowd.client();
    EXPECT_EQ(admin.post("/v1/api-keys/verify", {{"key", held.api_key}}).json().at("code"),
              "VALID");
    EXPECT_EQ(admin.get("/v1/webhooks/subscriptions/" + held.subscription_id + "/secret")
                  .json()
                  .at("secret")
                  .as_string(),
              held.webhook_secret);
    EXPECT_EQ(
        admin.post("/v1/event-write-keys/verify", {{"key", held.write_key}}).json().at("code"),
        "VALID");
  }

  // keyflowd rekey's exit code and its announced line.
  std::pair<int, std::string> rekey(const std::string& current, const std::string& previous) {
    auto env = keys(current, previous);
    env["KEYFLOW_DATABASE_URL"] = db_.url();
    test::ChildProcess process(KEYFLOWD_PATH, {"rekey"}, env);
    const auto line = process.wait_for_line("rekey resealed ", 60s);
    return {process.wait(60s).value_or(-1), line.value_or("")};
  }

  // Sealed values not sealed by this master key, over every sealed column.
  long not_sealed_by(const std::string& master_key) {
    const auto header = SecretBox(*MasterKey::from_base64(master_key)).current_header();
    std::string hex;
    for (const auto b : header) {
      static constexpr char kHex[] = "0123456789abcdef";
      hex += kHex[b >> 4];
      hex += kHex[b & 0xf];
    }
    long n = 0;
    for (const auto& c : KeyringStore::sealed_columns()) {
      n += db_.count(std::string("SELECT count(*) FROM ") + c.table + " WHERE " + c.column +
                     " IS NOT NULL AND substring(" + c.column + " FROM 1 FOR " +
                     std::to_string(header.size()) + ") <> '\\x" + hex + "'::bytea");
    }
    return n;
  }

  test::TestDatabase db_;
  test::WebhookReceiver owner_;
  const std::string a_ = test::kTestMasterKey;
  const std::string b_ = MasterKey::generate().to_base64();
};

TEST_F(MasterKeyRotationTest, RekeyReSealsEverySecretWhileServingAndThePreviousKeyCanGo) {
  Held held;
  {
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db_.url(), {"all"}, keys(a_));
    const auto admin = keyflowd.client();
    const auto org = admin.post("/v1/organizations", {{"name", "acme"}}).json();
    const auto project =
        admin.post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
    const auto key = admin
                         .post("/v1/api-keys", {{"project_id", project.at("id")},
                                                {"name", "k"},
                                                {"rotation_webhook_url", owner_.url("/r")}})
                         .json();
    held.api_key = std::string(key.at("key").as_string());
    const auto subscription =
        admin.post("/v1/webhooks/subscriptions", {{"url", owner_.url("/w")}, {"ed25519", true}})
            .json();
    held.subscription_id = id_of(subscription);
    held.webhook_secret = std::string(subscription.at("secret").as_string());
    const auto connection =
        admin
            .post("/v1/connections",
                  {{"project_id", project.at("id")}, {"type", "sdk"}, {"name", "w"}})
            .json();
    const auto write_key =
        admin.request("POST", "/v1/connections/" + id_of(connection) + "/event-write-keys");
    ASSERT_EQ(write_key.status, 201) << write_key.body;
    held.write_key = std::string(write_key.json().at("key").as_string());
    expect_all_work(keyflowd, held);
  }
  const auto sealed_values = not_sealed_by(b_);
  EXPECT_GE(sealed_values, 5) << "secrets, signing key, rotation secret, write key, pepper";
  EXPECT_EQ(not_sealed_by(a_), 0);

  // Every process now holds the new key and the previous one; rekey runs while they serve.
  {
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db_.url(), {"all"}, keys(b_, a_));
    expect_all_work(keyflowd, held);
    const auto [code, line] = rekey(b_, a_);
    EXPECT_EQ(code, 0) << line;
    EXPECT_EQ(line, std::to_string(sealed_values) + " unopened 0");
    expect_all_work(keyflowd, held);
    EXPECT_EQ(not_sealed_by(b_), 0) << "a value rekey left under the previous key";
    // Again: nothing left to do.
    EXPECT_EQ(rekey(b_, a_).second, "0 unopened 0");
  }

  // The previous key can go.
  {
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db_.url(), {"all"}, keys(b_));
    expect_all_work(keyflowd, held);
  }

  // The old key alone opens nothing any more: keyflowd refuses to start, in one line.
  const auto log = (std::filesystem::temp_directory_path() /
                    ("keyflow-rekey-test-" + std::to_string(::getpid()) + ".log"))
                       .string();
  std::filesystem::remove(log);
  {
    auto env = keys(a_);
    env["KEYFLOW_DATABASE_URL"] = db_.url();
    env["KEYFLOW_KAFKA_BROKERS"] = "embedded";
    env["KEYFLOW_HTTP_ADDR"] = "127.0.0.1:0";
    test::ChildProcess process(KEYFLOWD_PATH, {"serve"}, env, log);
    EXPECT_EQ(process.wait(60s), 1);
  }
  std::ifstream in(log);
  const std::string logged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(logged.find("does not open this database's secrets"), std::string::npos) << logged;
  std::filesystem::remove(log);
}

// rekey knows every column that holds sealed values: a new one added to the schema without
// adding it to KeyringStore::sealed_columns would keep its values under an old master key.
TEST(MasterKeyColumnsTest, RekeyWalksEverySealedColumnOfTheSchema) {
  test::TestDatabase db;
  std::set<std::string> listed;
  for (const auto& c : KeyringStore::sealed_columns())
    listed.insert(std::string(c.table) + "." + c.column);
  const auto in_schema = db.text(
      "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY 1) FROM "
      "information_schema.columns WHERE table_schema = 'public' AND data_type = 'bytea'"
      " AND (column_name LIKE '%sealed%' OR table_name = 'keyflow_keyring')");
  std::set<std::string> found;
  std::size_t start = 0;
  while (start < in_schema.size()) {
    auto end = in_schema.find(',', start);
    if (end == std::string::npos) end = in_schema.size();
    found.insert(in_schema.substr(start, end - start));
    start = end + 1;
  }
  EXPECT_EQ(found, listed);
}

// An installation from before the keyring hashed its keys with the master key itself: the
// first start after the upgrade keeps that as the stored pepper, so the keys keep verifying,
// and a rekey does not change it.
TEST(MasterKeyUpgradeTest, KeysHashedBeforeTheKeyringKeepVerifyingAcrossARekey) {
  test::TestDatabase db;
  std::string api_key;
  {
    // What an older keyflowd stored: a key hashed with the raw master key, no keyring row.
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url());
    const auto admin = keyflowd.client();
    const auto org = admin.post("/v1/organizations", {{"name", "acme"}}).json();
    const auto project =
        admin.post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
    api_key =
        std::string(admin.post("/v1/api-keys", {{"project_id", project.at("id")}, {"name", "k"}})
                        .json()
                        .at("key")
                        .as_string());
  }
  const auto master = *MasterKey::from_base64(test::kTestMasterKey);
  const auto legacy_hash = KeyHasher(master).hash(api_key);
  std::string hex;
  for (const auto b : legacy_hash) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
  }
  db.exec("UPDATE api_keys SET key_hash = '\\x" + hex + "'::bytea");
  db.exec("DELETE FROM keyflow_keyring");

  const auto b = MasterKey::generate().to_base64();
  {
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url());
    EXPECT_EQ(keyflowd.client().post("/v1/api-keys/verify", {{"key", api_key}}).json().at("code"),
              "VALID");
  }
  EXPECT_EQ(db.text("SELECT version FROM keyflow_keyring"), "0");
  {
    test::ChildProcess process(KEYFLOWD_PATH, {"rekey"},
                               {{"KEYFLOW_DATABASE_URL", db.url()},
                                {"KEYFLOW_MASTER_KEY", b},
                                {"KEYFLOW_PREVIOUS_MASTER_KEYS", test::kTestMasterKey}});
    EXPECT_EQ(process.wait(60s), 0);
  }
  test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url(), {"all"}, {{"KEYFLOW_MASTER_KEY", b}});
  EXPECT_EQ(keyflowd.client().post("/v1/api-keys/verify", {{"key", api_key}}).json().at("code"),
            "VALID");
}

}  // namespace
}  // namespace keyflow
