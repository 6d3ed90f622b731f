// Produce errors injected by the embedded broker (librdkafka's mock cluster): retriable ones are
// absorbed by the idempotent producer, the others keep the rows unpublished until Kafka takes
// them, and nothing is marked published that Kafka did not acknowledge.
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
using test::SteadyClock;

constexpr std::int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of ProduceRequest

class RelayBrokerErrorsTest : public test::RelayTest {
 protected:
  void push_produce_errors(std::initializer_list<rd_kafka_resp_err_t> errors) {
    for (const auto error : errors)
      rd_kafka_mock_push_request_errors(broker_.mock(), kProduceApiKey, 1, error);
  }

  // Inserts n events over a few keys, payload {"seq": i}, one transaction each.
  std::vector<test::InsertedEvent> insert_sequence(int n) {
    std::vector<test::InsertedEvent> events;
    for (int i = 0; i < n; ++i)
      events.push_back(
          insert_event("key-" + std::to_string(i % 3), R"({"seq": )" + std::to_string(i) + "}"));
    return events;
  }

  // Every published row is on Kafka, and Kafka has nothing but rows: compares the rows' event
  // ids with the ce_id of every message read.
  void expect_published_rows_were_acknowledged(const std::vector<test::ConsumedMessage>& messages) {
    pqxx::nontransaction tx(writer_);
    std::set<std::string> published;
    for (const auto& row : tx.exec("SELECT event_id FROM outbox WHERE published_at IS NOT NULL"))
      published.insert(row[0].c_str());
    const auto on_kafka = test::event_ids(messages);
    for (const auto& id : published)
      EXPECT_TRUE(on_kafka.contains(id)) << "marked published but not on Kafka: " << id;
  }

  static void expect_each_key_in_order(const std::vector<test::ConsumedMessage>& messages) {
    for (const auto& [key, values] : test::values_by_key(messages))
      EXPECT_TRUE(std::is_sorted(values.begin(), values.end(),
                                 [](const std::string& a, const std::string& b) {
                                   return std::stoi(a.substr(a.find(':') + 1)) <
                                          std::stoi(b.substr(b.find(':') + 1));
                                 }))
          << key;
  }
};

TEST_F(RelayBrokerErrorsTest, RetriableProduceErrorsAreRetriedByTheProducerWithoutDuplicates) {
  auto relay = start_relay(options());
  insert_event("warm-up", R"({"seq": -1})");
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 15s));

  push_produce_errors({RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                       RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                       RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
                       RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND});
  const auto events = insert_sequence(30);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 30s));

  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  const auto messages = consumer.wait_for(31, 15s);
  // Once each: the idempotent producer's own retries never duplicate.
  EXPECT_EQ(consumer.drain_for(300ms).size(), 31u);
  EXPECT_EQ(test::event_ids(messages).size(), 31u);
  expect_each_key_in_order(messages);
  expect_published_rows_were_acknowledged(messages);
  EXPECT_EQ(relay->relay->stats().produce_errors, 0u);
}

TEST_F(RelayBrokerErrorsTest, RowsFailedByTheBrokerStayUnpublishedAndTheRelayBacksOff) {
  auto relay_options = options();
  relay_options.max_backoff = 400ms;
  // One ProduceRequest for the whole round, however the scheduler treats the relay's thread.
  relay_options.producer_overrides["linger.ms"] = "100";
  auto relay = start_relay(relay_options);
  insert_event("warm-up", R"({"seq": -1})");
  ASSERT_TRUE(eventually([&] { return unpublished() == 0 && relay->relay->ready(); }, 15s));

  // Not retriable by the producer and no fault of the messages: the relay retries the round,
  // after 200, 400, 400, 400 and 400 ms. One key, one transaction: one ProduceRequest a round.
  constexpr int kFailures = 5;
  for (int i = 0; i < kFailures; ++i)
    push_produce_errors({RD_KAFKA_RESP_ERR_POLICY_VIOLATION});
  std::vector<std::string> ids;
  {
    pqxx::work tx(writer_);
    for (int i = 0; i < 12; ++i) {
      ids.push_back(tx.exec_params1("INSERT INTO outbox (aggregate_type, aggregate_id, event_type, "
                                    "payload) VALUES ('api_key', 'key-1', 'api_key.updated', "
                                    "$1::jsonb) RETURNING event_id::text",
                                    R"({"seq": )" + std::to_string(i) + "}")[0]
                        .c_str());
    }
    tx.commit();
  }
  const auto started = SteadyClock::now();
  bool went_unready = false;
  std::int64_t published_while_failing = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const auto stats = relay->relay->stats();
        if (stats.produce_errors < 12 * kFailures) {
          published_while_failing = std::max(published_while_failing, 12 - unpublished());
        }
        went_unready = went_unready || !relay->relay->ready();
        return unpublished() == 0;
      },
      30s, 5ms));
  const auto elapsed = SteadyClock::now() - started;
  std::cout << "drained after " << kFailures << " failed rounds in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
  // Five failed rounds without a pause would take a few hundred milliseconds (the linger).
  EXPECT_GT(elapsed, 1500ms);
  EXPECT_TRUE(went_unready);
  EXPECT_EQ(published_while_failing, 0) << "rows marked published while Kafka refused them";
  // Twelve failed messages a failed round (fewer rounds should a round ever need two requests).
  EXPECT_GE(relay->relay->stats().produce_errors, 12u * 3);
  EXPECT_LE(relay->relay->stats().produce_errors, 12u * kFailures);
  EXPECT_TRUE(eventually([&] { return relay->relay->ready(); }, 5s));

  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  consumer.wait_for(13, 15s);
  const auto messages = consumer.drain_for(300ms);
  EXPECT_EQ(messages.size(), 13u) << "a refused request is not written: no duplicates";
  expect_each_key_in_order(messages);
  expect_published_rows_were_acknowledged(messages);
  // Broker trouble is never counted against a row.
  EXPECT_EQ(count("attempts > 0 OR parked_at IS NOT NULL"), 0);
}

}  // namespace
}  // namespace keyflow
