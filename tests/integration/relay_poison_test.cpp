// Rows Kafka refuses for good: parked after a bounded number of tries, without holding up
// other aggregates and without letting later events of their own aggregate overtake them.
#include <iostream>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "outbox/topics.hpp"
#include "tests/integration/relay_fixture.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::KafkaTestConsumer;

constexpr std::int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of ProduceRequest
constexpr int kPartitions = 4;              // EmbeddedBroker's default

class RelayPoisonTest : public test::RelayTest {
 protected:
  RelayOptions poison_options() const {
    auto relay_options = options();
    relay_options.max_attempts = 3;
    relay_options.max_backoff = 400ms;
    return relay_options;
  }

  std::string column(std::int64_t id, const std::string& expression) {
    pqxx::nontransaction tx(writer_);
    const auto row =
        tx.exec1("SELECT (" + expression + ")::text FROM outbox WHERE id = " + std::to_string(id));
    return row[0].is_null() ? "NULL" : row[0].c_str();
  }

  bool published(std::int64_t id) { return column(id, "published_at IS NOT NULL") == "true"; }
  bool parked(std::int64_t id) { return column(id, "parked_at IS NOT NULL") == "true"; }

  // Rows inserted in one transaction, so that the relay claims them in one round.
  std::vector<std::int64_t> insert_together(
      const std::vector<std::pair<std::string, std::string>>& key_and_payload) {
    std::vector<std::int64_t> ids;
    pqxx::work tx(writer_);
    for (const auto& [key, payload] : key_and_payload) {
      ids.push_back(tx.exec_params1("INSERT INTO outbox (aggregate_type, aggregate_id, event_type, "
                                    "payload) VALUES ('api_key', $1, 'api_key.updated', "
                                    "$2::jsonb) RETURNING id",
                                    key, payload)[0]
                        .as<std::int64_t>());
    }
    tx.commit();
    return ids;
  }

  // Keys that the relay's partitioner puts on one partition, so that one ProduceRequest carries
  // all their messages.
  static std::vector<std::string> keys_on_one_partition(std::size_t n) {
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < n; ++i) {
      const std::string key = "same-partition-" + std::to_string(i);
      if (rd_kafka_msg_partitioner_murmur2_random(nullptr, key.data(), key.size(), kPartitions,
                                                  nullptr, nullptr) == 0) {
        keys.push_back(key);
      }
    }
    return keys;
  }

  void push_produce_errors(int n, rd_kafka_resp_err_t error) {
    for (int i = 0; i < n; ++i)
      rd_kafka_mock_push_request_errors(broker_.mock(), kProduceApiKey, 1, error);
  }

  // One event through the relay, so that the producer is connected and has its producer id
  // before a test counts Produce requests.
  void warm_up(test::RunningRelay& relay) {
    insert_event("warm-up", "{}");
    ASSERT_TRUE(eventually([&] { return unpublished() == 0 && relay->ready(); }, 15s));
  }

  struct FirstFailed {
    std::unique_ptr<test::RunningRelay> relay;
    std::vector<std::int64_t> ids;
    std::vector<std::string> values;  // key-x's messages, in the order the topic holds them
  };
  // Two events of key-x in one transaction while the broker fails the first Produce request,
  // through a warm relay; waits until nothing is unpublished and `messages` have arrived.
  FirstFailed publish_two_failing_the_first(const RelayOptions& relay_options,
                                            std::size_t messages) {
    FirstFailed result;
    result.relay = start_relay(relay_options);
    warm_up(*result.relay);
    push_produce_errors(1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    result.ids = insert_together({{"key-x", R"({"n": 1})"}, {"key-x", R"({"n": 2})"}});
    EXPECT_TRUE(eventually([&] { return unpublished() == 0; }, 20s));
    KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
    auto by_key = test::values_by_key(consumer.wait_for(messages, 10s));
    result.values = std::move(by_key["key-x"]);
    return result;
  }
};

TEST_F(RelayPoisonTest, ParksAnOversizedRowAndHoldsBackOnlyTheLaterRowsOfItsKey) {
  // Larger than the producer's message.max.bytes (1 000 000): produce() refuses it.
  const std::string huge = R"({"blob": ")" + std::string(1'100'000, 'x') + R"("})";
  const auto before = insert_event("key-a", R"({"n": 1})");
  const auto poison = insert_event("key-a", huge);
  const auto held = insert_event("key-a", R"({"n": 3})");
  std::vector<test::InsertedEvent> others;
  for (int i = 0; i < 3; ++i)
    others.push_back(insert_event("key-b", R"({"b": )" + std::to_string(i) + "}"));
  const auto other_type =
      insert_event("ewk-1", R"({"id": "ewk-1"})", "event_write_key", "event_write_key.created");

  auto relay = start_relay(poison_options());
  ASSERT_TRUE(eventually([&] { return parked(poison.id); }, 20s));
  EXPECT_EQ(column(poison.id, "attempts"), "3");
  EXPECT_NE(column(poison.id, "last_error").find("MSG_SIZE_TOO_LARGE"), std::string::npos)
      << column(poison.id, "last_error");
  // The other aggregates went out in the first round, long before the row was parked.
  for (const auto& event : others) {
    EXPECT_TRUE(published(event.id));
    EXPECT_EQ(column(event.id, "published_at <= (SELECT parked_at FROM outbox WHERE id = " +
                                   std::to_string(poison.id) + ")"),
              "true");
  }
  EXPECT_TRUE(published(other_type.id));
  EXPECT_TRUE(published(before.id));
  // The key's later event waits behind it, neither published nor parked.
  EXPECT_FALSE(published(held.id));
  EXPECT_FALSE(parked(held.id));

  // Stats: one parked row, one row in the backlog (the held one), and its age.
  ASSERT_TRUE(eventually(
      [&] {
        const auto stats = relay->relay->stats();
        return stats.parked == 1 && stats.backlog == 1 && stats.oldest_unpublished.has_value();
      },
      5s));
  EXPECT_EQ(relay->relay->stats().parked_by_relay, 1u);
  EXPECT_GE(relay->relay->stats().produce_errors, 3u);

  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  auto messages = consumer.drain_for(1s);
  auto by_key = test::values_by_key(messages);
  EXPECT_EQ(by_key["key-a"], (std::vector<std::string>{before.payload}));
  EXPECT_EQ(by_key["key-b"].size(), 3u);

  // An operator repairs the row and requeues it: it goes out, then the row it held back.
  exec("UPDATE outbox SET payload = '{\"n\": 2}', parked_at = NULL, attempts = 0 WHERE id = " +
       std::to_string(poison.id));
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 15s));
  messages = consumer.wait_for(messages.size() + 2, 10s);
  by_key = test::values_by_key(messages);
  EXPECT_EQ(by_key["key-a"],
            (std::vector<std::string>{before.payload, R"({"n": 2})", held.payload}));
  EXPECT_TRUE(eventually([&] { return relay->relay->stats().parked == 0; }, 5s));
}

TEST_F(RelayPoisonTest, TriesBrokerRefusalsAloneSoThatOnlyTheGuiltyRowIsParked) {
  auto relay_options = poison_options();
  // One ProduceRequest for the whole batch, however the scheduler treats the relay's thread.
  relay_options.producer_overrides["linger.ms"] = "100";
  auto relay = start_relay(relay_options);
  warm_up(*relay);

  const auto keys = keys_on_one_partition(3);
  // The broker refuses the batch (one request) and then the first row three times on its own.
  push_produce_errors(1 + 3, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  const auto ids = insert_together({{keys[0], R"({"n": 1})"},
                                    {keys[1], R"({"n": 1})"},
                                    {keys[2], R"({"n": 1})"},
                                    {keys[0], R"({"n": 2})"}});

  ASSERT_TRUE(eventually([&] { return parked(ids[0]); }, 20s));
  ASSERT_TRUE(eventually([&] { return published(ids[1]) && published(ids[2]); }, 20s));
  EXPECT_NE(column(ids[0], "last_error").find("MSG_SIZE_TOO_LARGE"), std::string::npos);
  EXPECT_EQ(column(ids[0], "attempts"), "3");
  // The rows that failed only as the guilty row's batch-mates were never charged.
  EXPECT_EQ(column(ids[1], "attempts"), "0");
  EXPECT_EQ(column(ids[2], "attempts"), "0");
  // The guilty row's key waits behind it.
  EXPECT_FALSE(published(ids[3]));
  EXPECT_FALSE(parked(ids[3]));
}

TEST_F(RelayPoisonTest, EventsThatOvertookAFailedEventOfTheirKeyGoOutAgainAfterIt) {
  auto relay_options = poison_options();
  // One message per ProduceRequest: the broker can fail the first and take the second.
  relay_options.producer_overrides["batch.num.messages"] = "1";
  relay_options.producer_overrides["linger.ms"] = "50";
  const auto run = publish_two_failing_the_first(relay_options, 4);
  // Kafka took event 2 before event 1 failed; it is sent again after 1, so that the key's
  // latest message is its latest event.
  EXPECT_EQ(run.values, (std::vector<std::string>{R"({"n": 2})", R"({"n": 1})", R"({"n": 2})"}));
  EXPECT_EQ(run.relay->relay->stats().unmarked, 1u);
  // Not the row's fault as far as the relay could tell: a batch failure is never charged.
  EXPECT_EQ(column(run.ids[0], "attempts"), "0");
}

TEST_F(RelayPoisonTest, ARowReadAheadWaitsForTheFailedRowOfItsKeyBeforeIt) {
  auto relay_options = poison_options();
  // Every round is full, so each reads the next one's row while its own goes out.
  relay_options.batch_size = 1;
  const auto run = publish_two_failing_the_first(relay_options, 3);
  // Event 2, read while event 1 was out, is not sent ahead of event 1's second try.
  EXPECT_EQ(run.values, (std::vector<std::string>{R"({"n": 1})", R"({"n": 2})"}));
  EXPECT_EQ(column(run.ids[0], "attempts"), "1");
}

}  // namespace
}  // namespace keyflow
