#include "keyflowd/config.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

namespace keyflow {
namespace {

constexpr const char* kKey = "a2V5Zmxvdy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=";

ConfigResult load(std::vector<const char*> args, std::vector<const char*> env) {
  args.insert(args.begin(), "keyflowd");
  env.push_back(nullptr);
  return load_config(static_cast<int>(args.size()), args.data(), env.data());
}

TEST(Config, ReadsEnvironmentVariables) {
  const auto r = load({"serve"}, {"KEYFLOW_DATABASE_URL=dbname=x", "KEYFLOW_HTTP_ADDR=127.0.0.1:9",
                                  "KEYFLOW_MASTER_KEY=a2V5Zmxvdy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=",
                                  "KEYFLOW_WEBHOOK_ALLOW_PRIVATE=true", "OTHER=1"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->role, "serve");
  EXPECT_EQ(r.config->database_url, "dbname=x");
  EXPECT_EQ(r.config->http_addr, "127.0.0.1:9");
  EXPECT_TRUE(r.config->master_key);
  EXPECT_TRUE(r.config->webhook_allow_private);
  EXPECT_EQ(r.config->kafka_brokers, "");  // no default: the embedded broker is asked for
}

TEST(Config, WebhookAllowCidrsOpenTheirRangesOnly) {
  const auto r = load({"deliver"}, {"KEYFLOW_WEBHOOK_ALLOW_CIDRS=127.0.0.0/8, fd00::/8"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->webhook_allow_cidrs, (std::vector<std::string>{"127.0.0.0/8", "fd00::/8"}));
  const auto policy = r.config->webhook_destinations();
  EXPECT_TRUE(policy.allows(*parse_ip_literal("127.0.0.1")));
  EXPECT_FALSE(policy.allows(*parse_ip_literal("10.0.0.1")));
  const auto bad = load({"deliver"}, {"KEYFLOW_WEBHOOK_ALLOW_CIDRS=10.0.0.0/8,nope"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("KEYFLOW_WEBHOOK_ALLOW_CIDRS"), std::string::npos) << bad.error;
}

// Without KEYFLOW_OUTBOX_RETENTION, published outbox rows are kept a week.
TEST(Config, OutboxRetentionDefaultsToAWeekAndReadsItsVariable) {
  using namespace std::chrono_literals;
  const auto unset =
      load({"relay"}, {"KEYFLOW_MASTER_KEY=a2V5Zmxvdy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="});
  ASSERT_TRUE(unset.config) << unset.error;
  EXPECT_EQ(unset.config->outbox_retention, 168h);
  const auto set =
      load({"relay"}, {"KEYFLOW_MASTER_KEY=a2V5Zmxvdy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=",
                       "KEYFLOW_OUTBOX_RETENTION=36h"});
  ASSERT_TRUE(set.config) << set.error;
  EXPECT_EQ(set.config->outbox_retention, 36h);
}

// Without KEYFLOW_HTTP_THREADS serve runs an I/O thread per core (0 here, resolved by serve).
TEST(Config, HttpThreadsAndQueueBoundReadTheirVariables) {
  const auto unset = load({"serve"}, {});
  ASSERT_TRUE(unset.config) << unset.error;
  EXPECT_EQ(unset.config->http.threads, 0u);
  EXPECT_EQ(unset.config->http.max_queued, 512u);
  const auto set = load({"serve"}, {"KEYFLOW_HTTP_THREADS=3", "KEYFLOW_HTTP_MAX_QUEUED=64"});
  ASSERT_TRUE(set.config) << set.error;
  EXPECT_EQ(set.config->http.threads, 3u);
  EXPECT_EQ(set.config->http.max_queued, 64u);
  const auto bad = load({"serve"}, {"KEYFLOW_HTTP_MAX_QUEUED=0"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("KEYFLOW_HTTP_MAX_QUEUED"), std::string::npos) << bad.error;
}

TEST(Config, TheVerifyCacheKeepsKeysAMinuteUnlessToldOtherwise) {
  using namespace std::chrono_literals;
  const auto unset = load({"serve"}, {});
  ASSERT_TRUE(unset.config) << unset.error;
  EXPECT_EQ(unset.config->verify_cache_ttl, 60s);
  EXPECT_EQ(unset.config->verify_cache_keys, 200000);
  const auto set =
      load({"serve"}, {"KEYFLOW_VERIFY_CACHE_TTL=5s", "KEYFLOW_VERIFY_CACHE_KEYS=5000"});
  ASSERT_TRUE(set.config) << set.error;
  EXPECT_EQ(set.config->verify_cache_ttl, 5s);
  EXPECT_EQ(set.config->verify_cache_keys, 5000);
  EXPECT_FALSE(load({"serve"}, {"KEYFLOW_VERIFY_CACHE_KEYS=10"}).config);
}

// What the relay publishes is uncompressed unless told otherwise: every client reads it.
TEST(Config, KafkaCompressionIsNoneUnlessSetToAKnownCodec) {
  const auto unset = load({"relay"}, {});
  ASSERT_TRUE(unset.config) << unset.error;
  EXPECT_EQ(unset.config->kafka_compression, "none");
  const auto set = load({"relay"}, {"KEYFLOW_KAFKA_COMPRESSION=gzip"});
  ASSERT_TRUE(set.config) << set.error;
  EXPECT_EQ(set.config->kafka_compression, "gzip");
  const auto bad = load({"relay"}, {"KEYFLOW_KAFKA_COMPRESSION=brotli"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("KEYFLOW_KAFKA_COMPRESSION"), std::string::npos) << bad.error;
}

// Every other KEYFLOW_KAFKA_* variable is a librdkafka property for all of keyflow's Kafka
// clients (TLS, SASL...), named as Confluent's images name them; one librdkafka does not know,
// or one keyflow's guarantees rest on, is refused, and the value never shows in the error.
TEST(Config, OtherKafkaVariablesAreLibrdkafkaProperties) {
  const auto r = load(
      {"relay"},
      {"KEYFLOW_KAFKA_SECURITY_PROTOCOL=SASL_SSL", "KEYFLOW_KAFKA_SASL_MECHANISMS=SCRAM-SHA-512",
       "KEYFLOW_KAFKA_SASL_USERNAME=keyflow", "KEYFLOW_KAFKA_SASL_PASSWORD=hunter2-secret",
       "KEYFLOW_KAFKA_SSL_CA_LOCATION=/etc/ssl/certs/ca.pem",
       "KEYFLOW_KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=https", "KEYFLOW_KAFKA_BROKERS=b1:9093",
       "KEYFLOW_KAFKA_COMPRESSION=gzip"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->kafka_properties,
            (KafkaProperties{{"security.protocol", "SASL_SSL"},
                             {"sasl.mechanisms", "SCRAM-SHA-512"},
                             {"sasl.username", "keyflow"},
                             {"sasl.password", "hunter2-secret"},
                             {"ssl.ca.location", "/etc/ssl/certs/ca.pem"},
                             {"ssl.endpoint.identification.algorithm", "https"}}));
  EXPECT_EQ(r.config->kafka_brokers, "b1:9093");  // its own settings are not properties
  EXPECT_EQ(r.config->kafka_compression, "gzip");

  const auto unknown = load({"relay"}, {"KEYFLOW_KAFKA_NO_SUCH_THING=1"});
  EXPECT_FALSE(unknown.config);
  EXPECT_NE(unknown.error.find("KEYFLOW_KAFKA_NO_SUCH_THING"), std::string::npos) << unknown.error;
  EXPECT_NE(unknown.error.find("no.such.thing"), std::string::npos) << unknown.error;
  const auto reserved = load({"relay"}, {"KEYFLOW_KAFKA_ACKS=1"});
  EXPECT_FALSE(reserved.config);
  EXPECT_NE(reserved.error.find("acks"), std::string::npos) << reserved.error;
  EXPECT_FALSE(load({"deliver"}, {"KEYFLOW_KAFKA_ENABLE_AUTO_COMMIT=true"}).config);
  const auto bad = load({"relay"}, {"KEYFLOW_KAFKA_SSL_KEY_PASSWORD=",
                                    "KEYFLOW_KAFKA_SECURITY_PROTOCOL=carrier-pigeon"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("security.protocol"), std::string::npos) << bad.error;
}

TEST(Config, KafkaPropertyNamesFollowConfluentsSpelling) {
  EXPECT_EQ(kafka_property_of_variable("KEYFLOW_KAFKA_SASL_MECHANISMS"), "sasl.mechanisms");
  EXPECT_EQ(kafka_property_of_variable("KEYFLOW_KAFKA_SSL__KEY"), "ssl_key");
  EXPECT_EQ(kafka_property_of_variable("KEYFLOW_KAFKA_A___B"), "a-b");
  EXPECT_EQ(kafka_property_of_variable("KEYFLOW_HTTP_ADDR"), "");
}

// Secrets may come from files (mounted secrets), a trailing newline dropped; the admin token
// has a minimum length; an error never shows a file's content.
TEST(Config, SecretsComeFromFilesAndTheAdminTokenHasAMinimumLength) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("keyflow-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name) << content;
    return (dir / name).string();
  };
  std::string key_text = kKey;
  key_text += '\n';  // as `echo` leaves it
  const auto key_file = write("master-key", key_text);
  const auto token_file = write("admin-token", "a-token-of-twenty-chars\n");
  const auto bad_file = write("bad-key", "not-a-key-secret-value");
  const std::string key_var = "KEYFLOW_MASTER_KEY_FILE=" + key_file;
  const std::string token_var = "KEYFLOW_ADMIN_TOKEN_FILE=" + token_file;
  const auto r = load({"serve"}, {key_var.c_str(), token_var.c_str()});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_TRUE(r.config->master_key);
  EXPECT_EQ(r.config->admin_token, "a-token-of-twenty-chars");

  const std::string bad_var = "KEYFLOW_MASTER_KEY_FILE=" + bad_file;
  const auto bad = load({"serve"}, {bad_var.c_str()});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("32 bytes"), std::string::npos) << bad.error;
  EXPECT_EQ(bad.error.find("not-a-key-secret-value"), std::string::npos) << bad.error;
  const auto missing = load({"serve"}, {"KEYFLOW_ADMIN_TOKEN_FILE=/nonexistent/token"});
  EXPECT_FALSE(missing.config);
  EXPECT_NE(missing.error.find("cannot read /nonexistent/token"), std::string::npos)
      << missing.error;

  const auto short_token = load({"serve"}, {"KEYFLOW_ADMIN_TOKEN=short"});
  EXPECT_FALSE(short_token.config);
  EXPECT_NE(short_token.error.find("at least 16 characters"), std::string::npos)
      << short_token.error;
  std::filesystem::remove_all(dir);
}

TEST(Config, FlagsWinOverTheEnvironment) {
  const auto r = load({"all", "--http-addr=0.0.0.0:1", "--database-url", "dbname=y", "--master-key",
                       kKey, "--webhook-allow-private"},
                      {"KEYFLOW_HTTP_ADDR=127.0.0.1:9"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->http_addr, "0.0.0.0:1");
  EXPECT_EQ(r.config->database_url, "dbname=y");
  EXPECT_TRUE(r.config->webhook_allow_private);
}

TEST(Config, RejectsUnknownRolesFlagsAndBadMasterKeys) {
  EXPECT_FALSE(load({}, {}).config);
  EXPECT_FALSE(load({"dance"}, {}).config);
  EXPECT_FALSE(load({"serve", "--colour=red"}, {}).config);
  const auto bad_key = load({"serve"}, {"KEYFLOW_MASTER_KEY=short"});
  EXPECT_FALSE(bad_key.config);
  EXPECT_NE(bad_key.error.find("KEYFLOW_MASTER_KEY"), std::string::npos);
  EXPECT_EQ(load({"--help"}, {}).error, "help");
}

}  // namespace
}  // namespace keyflow
