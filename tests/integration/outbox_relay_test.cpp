#include "outbox/outbox_relay.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/clock.hpp"
#include "outbox/embedded_broker.hpp"
#include "outbox/topics.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using test::ConsumedMessage;
using test::KafkaTestConsumer;

// Polls condition until it holds or the timeout passes; returns whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

struct InsertedEvent {
  std::int64_t id;
  std::string event_id;
  std::string aggregate_id;
  std::string event_type;
  std::string payload;  // as PostgreSQL renders the jsonb
  std::string ce_time;  // occurred_at in RFC 3339, computed by PostgreSQL
};

// A relay on its own thread; the thread is declared last so that it stops and joins first.
struct RunningRelay {
  RunningRelay(RelayOptions options, const Clock& clock)
      : relay(std::make_unique<OutboxRelay>(std::move(options), clock)),
        thread([r = relay.get()](std::stop_token stop) { r->run(stop); }) {}
  void stop() {
    thread.request_stop();
    thread.join();
  }

  std::unique_ptr<OutboxRelay> relay;
  std::jthread thread;
};

class OutboxRelayTest : public ::testing::Test {
 protected:
  RelayOptions options() const {
    RelayOptions options;
    options.database_url = db_.url();
    options.brokers = broker_.bootstrap_servers();
    options.poll_interval = 100ms;
    return options;
  }

  std::unique_ptr<RunningRelay> start_relay(RelayOptions relay_options) {
    return std::make_unique<RunningRelay>(std::move(relay_options), clock_);
  }

  InsertedEvent insert_event(const std::string& aggregate_id, const std::string& payload,
                             const std::string& aggregate_type = "api_key",
                             const std::string& event_type = "api_key.created") {
    pqxx::work tx(writer_);
    const auto row = tx.exec_params1(
        "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) "
        "VALUES ($1, $2, $3, $4::jsonb) RETURNING id, event_id, payload::text, "
        "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
        aggregate_type, aggregate_id, event_type, payload);
    tx.commit();
    return InsertedEvent{row[0].as<std::int64_t>(),
                         row[1].c_str(),
                         aggregate_id,
                         event_type,
                         row[2].c_str(),
                         row[3].c_str()};
  }

  std::int64_t count(const std::string& where) {
    pqxx::nontransaction tx(writer_);
    return tx.exec1("SELECT count(*) FROM outbox WHERE " + where)[0].as<std::int64_t>();
  }

  std::int64_t unpublished() { return count("published_at IS NULL"); }

  test::TestDatabase db_;
  pqxx::connection writer_{db_.url()};  // the test's own inserts and checks
  EmbeddedBroker broker_;
  ManualClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
};

std::set<std::string> event_ids(const std::vector<ConsumedMessage>& messages) {
  std::set<std::string> ids;
  for (const auto& message : messages)
    ids.insert(message.headers.count("ce_id") ? message.headers.at("ce_id") : "");
  return ids;
}

TEST_F(OutboxRelayTest, PublishesEveryRowAsACloudEventAndMarksItPublished) {
  std::vector<InsertedEvent> events = {
      insert_event("key-a", R"({"id": "key-a", "name": "first"})"),
      insert_event("key-b", R"({"id": "key-b", "scopes": ["READ"]})", "api_key", "api_key.revoked"),
      insert_event("key-a", R"({"id": "key-a", "name": "renamed"})", "api_key", "api_key.updated"),
  };
  const auto write_key =
      insert_event("ewk-1", R"({"id": "ewk-1"})", "event_write_key", "event_write_key.created");

  auto relay = start_relay(options());
  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  const auto messages = consumer.wait_for(events.size(), 15s);
  ASSERT_EQ(messages.size(), events.size());

  std::map<std::string, const ConsumedMessage*> by_event_id;
  for (const auto& message : messages)
    by_event_id[message.headers.at("ce_id")] = &message;
  for (const auto& event : events) {
    ASSERT_TRUE(by_event_id.count(event.event_id)) << event.event_id;
    const auto& message = *by_event_id.at(event.event_id);
    EXPECT_EQ(message.topic, "keyflow.api_keys");
    EXPECT_EQ(message.key, event.aggregate_id);
    EXPECT_EQ(message.value, event.payload);
    const std::map<std::string, std::string> expected_headers = {
        {"ce_specversion", "1.0"},
        {"ce_id", event.event_id},
        {"ce_source", "/keyflow"},
        {"ce_type", event.event_type},
        {"ce_time", event.ce_time},
        {"ce_subject", event.aggregate_id},
        {"content-type", "application/json"},
    };
    EXPECT_EQ(message.headers, expected_headers);
  }

  KafkaTestConsumer write_keys(broker_.bootstrap_servers(), topic_for_aggregate("event_write_key"));
  const auto write_key_messages = write_keys.wait_for(1, 15s);
  ASSERT_EQ(write_key_messages.size(), 1u);
  EXPECT_EQ(write_key_messages[0].headers.at("ce_id"), write_key.event_id);
  EXPECT_EQ(write_key_messages[0].headers.at("ce_type"), "event_write_key.created");

  EXPECT_TRUE(eventually([&] { return unpublished() == 0; }, 5s));
  EXPECT_TRUE(relay->relay->ready());
  EXPECT_TRUE(relay->relay->active());
  const auto stats = relay->relay->stats();
  EXPECT_EQ(stats.published, 4u);
  EXPECT_EQ(stats.produce_errors, 0u);
  EXPECT_EQ(stats.backlog, 0u);
  EXPECT_EQ(stats.last_published_at, clock_.now());
}

TEST_F(OutboxRelayTest, KeepsEachKeysEventsInOrder) {
  auto relay_options = options();
  relay_options.batch_size = 7;  // spread the events over several rounds
  auto relay = start_relay(relay_options);
  for (int i = 0; i < 50; ++i)
    insert_event("key-" + std::to_string(i % 5), R"({"seq": )" + std::to_string(i) + "}");

  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  const auto messages = consumer.wait_for(50, 20s);
  ASSERT_EQ(messages.size(), 50u);

  std::map<std::string, std::vector<int>> sequences;
  std::map<std::string, std::set<std::int32_t>> partitions;
  for (const auto& message : messages) {
    const auto digits = message.value.substr(message.value.find(':') + 1);
    sequences[message.key].push_back(std::stoi(digits));
    partitions[message.key].insert(message.partition);
  }
  ASSERT_EQ(sequences.size(), 5u);
  for (const auto& [key, seqs] : sequences) {
    EXPECT_EQ(seqs.size(), 10u) << key;
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << key;
    EXPECT_EQ(partitions[key].size(), 1u) << key;
  }
  EXPECT_TRUE(eventually([&] { return unpublished() == 0; }, 5s));
}

TEST_F(OutboxRelayTest, NotificationWakesTheRelayLongBeforeThePollInterval) {
  auto relay_options = options();
  relay_options.poll_interval = 10s;
  auto relay = start_relay(relay_options);
  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  // A first event warms the producer up (its first send waits for a producer id) and leaves the
  // relay asleep on LISTEN until the poll interval.
  insert_event("key-warm", "{}");
  ASSERT_EQ(consumer.wait_for(1, 10s).size(), 1u);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 5s));

  const auto started = SteadyClock::now();
  const auto event = insert_event("key-n", R"({"n": 1})");
  const auto messages = consumer.wait_for(2, 2s);
  const auto elapsed = SteadyClock::now() - started;
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].headers.at("ce_id"), event.event_id);
  EXPECT_LT(elapsed, 2s);
  std::cout << "insert to consume: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
  EXPECT_TRUE(eventually([&] { return unpublished() == 0; }, 2s));
}

TEST_F(OutboxRelayTest, KeepsRowsWhileTheBrokerIsDownAndDrainsWhenItReturns) {
  auto relay_options = options();
  relay_options.delivery_timeout = 1500ms;
  auto relay = start_relay(relay_options);
  ASSERT_TRUE(eventually([&] { return relay->relay->active() && relay->relay->ready(); }, 10s));

  broker_.set_down(true);
  std::vector<InsertedEvent> events;
  for (int i = 0; i < 20; ++i)
    events.push_back(insert_event("key-" + std::to_string(i % 4), R"({"i": 1})"));

  ASSERT_TRUE(eventually([&] { return !relay->relay->ready(); }, 15s));
  EXPECT_EQ(unpublished(), 20);
  EXPECT_GT(relay->relay->stats().produce_errors, 0u);
  EXPECT_EQ(relay->relay->stats().published, 0u);

  broker_.set_down(false);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 30s));
  EXPECT_TRUE(eventually([&] { return relay->relay->ready(); }, 5s));

  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  const auto messages = consumer.wait_for(20, 15s);
  std::set<std::string> expected;
  for (const auto& event : events)
    expected.insert(event.event_id);
  EXPECT_EQ(event_ids(messages), expected);
}

TEST_F(OutboxRelayTest, StopsPromptlyWhileADeliveryIsStuck) {
  auto relay_options = options();
  relay_options.delivery_timeout = 30s;
  auto relay = start_relay(relay_options);
  ASSERT_TRUE(eventually([&] { return relay->relay->active() && relay->relay->ready(); }, 10s));
  broker_.set_down(true);
  insert_event("key-1", "{}");
  // Let the round claim the row and start waiting on a delivery that cannot happen.
  std::this_thread::sleep_for(500ms);

  const auto stopping = SteadyClock::now();
  relay->stop();
  EXPECT_LT(SteadyClock::now() - stopping, 2s);
  EXPECT_EQ(unpublished(), 1);
  EXPECT_FALSE(relay->relay->active());
}

TEST_F(OutboxRelayTest, OnlyOneRelayIsActiveAndTheStandbyTakesOver) {
  auto first = start_relay(options());
  auto second = start_relay(options());
  ASSERT_TRUE(eventually([&] { return first->relay->active() || second->relay->active(); }, 10s));
  // The loser retries about every second; give it two tries to (wrongly) win.
  for (auto until = SteadyClock::now() + 2500ms; SteadyClock::now() < until;) {
    ASSERT_NE(first->relay->active(), second->relay->active());
    std::this_thread::sleep_for(50ms);
  }
  auto& active = first->relay->active() ? first : second;
  auto& standby = first->relay->active() ? second : first;
  EXPECT_TRUE(standby->relay->ready());

  insert_event("key-1", "{}");
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 10s));
  EXPECT_EQ(active->relay->stats().published, 1u);
  EXPECT_EQ(standby->relay->stats().published, 0u);

  const auto stopped_at = SteadyClock::now();
  active->stop();
  ASSERT_TRUE(eventually([&] { return standby->relay->active(); }, 5s));
  std::cout << "takeover after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() -
                                                                     stopped_at)
                   .count()
            << " ms\n";

  insert_event("key-2", "{}");
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 10s));
  EXPECT_EQ(standby->relay->stats().published, 1u);
}

TEST_F(OutboxRelayTest, TakesTheLockAgainAfterItsSessionIsKilled) {
  auto relay = start_relay(options());
  ASSERT_TRUE(eventually([&] { return relay->relay->active(); }, 10s));

  pqxx::connection admin(db_.url());
  auto lock_holder = [&] {
    pqxx::nontransaction tx(admin);
    const auto rows = tx.exec(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    return rows.empty() ? 0 : rows[0][0].as<int>();
  };
  const int first_pid = lock_holder();
  ASSERT_NE(first_pid, 0);
  pqxx::nontransaction(admin).exec("SELECT pg_terminate_backend(" + std::to_string(first_pid) +
                                   ")");

  // The next round fails on the dead session; the relay stands down and takes the lock anew.
  ASSERT_TRUE(eventually(
      [&] {
        const int pid = lock_holder();
        return pid != 0 && pid != first_pid;
      },
      10s));
  insert_event("key-1", "{}");
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 10s));
  EXPECT_TRUE(relay->relay->active());
}

TEST_F(OutboxRelayTest, DrainsABacklogOfFiveThousandRows) {
  constexpr int kRows = 5000;
  {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) "
        "SELECT 'api_key', 'key-' || (n % 100), 'api_key.updated', "
        "jsonb_build_object('n', n, 'name', repeat('x', 200)) FROM generate_series(1, $1) n",
        kRows);
    tx.commit();
  }
  const auto started = SteadyClock::now();
  auto relay = start_relay(options());
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 60s));
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
  std::cout << "drained " << kRows << " rows in " << elapsed.count() << " ms\n";

  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  EXPECT_EQ(consumer.wait_for(kRows, 30s).size(), static_cast<std::size_t>(kRows));
  EXPECT_EQ(relay->relay->stats().published, static_cast<std::uint64_t>(kRows));
}

}  // namespace
}  // namespace keyflow
