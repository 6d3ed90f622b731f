// Per-aggregate order against real PostgreSQL and the embedded broker: rows that commit out
// of id order are neither skipped nor reordered within their key.
#include <atomic>
#include <iostream>
#include <mutex>
#include <random>

#include <boost/json.hpp>

#include "engine/events/outbox_store.hpp"
#include "outbox/topics.hpp"
#include "tests/integration/relay_fixture.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::KafkaTestConsumer;

using RelayOrderTest = test::RelayTest;

TEST_F(RelayOrderTest, PublishesARowThatCommitsAfterALaterIdWasPublished) {
  auto relay = start_relay(options());

  // The late transaction takes its id first and commits last.
  pqxx::connection late_conn(db_.url());
  pqxx::work late(late_conn);
  const auto late_id =
      late.exec1(
              "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) "
              "VALUES ('api_key', 'key-late', 'api_key.created', '{\"late\": true}') RETURNING id")
          [0]
              .as<std::int64_t>();
  const auto early = insert_event("key-early", R"({"late": false})");
  ASSERT_GT(early.id, late_id);
  ASSERT_TRUE(eventually(
      [&] { return count("published_at IS NOT NULL AND id = " + std::to_string(early.id)) == 1; },
      10s));

  late.commit();
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 10s));
  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  const auto messages = consumer.wait_for(2, 10s);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(test::values_by_key(messages).at("key-late").size(), 1u);
}

// Writers update the same few keys from many threads at once, the way the engine does: lock
// the key's row, change it, append the event, commit. Each transaction dawdles a random moment
// between taking its outbox id and committing, so commits land out of id order across keys
// while the relay claims small batches in between.
TEST_F(RelayOrderTest, ConcurrentWritersKeepEachKeysEventsInCommitOrder) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  constexpr int kKeys = 5;
  exec("CREATE TABLE test_keys (id text PRIMARY KEY, version integer NOT NULL)");
  exec("INSERT INTO test_keys SELECT 'key-' || n, 0 FROM generate_series(0, " +
       std::to_string(kKeys - 1) + ") n");

  auto relay_options = options();
  relay_options.batch_size = 8;
  relay_options.poll_interval = 20ms;
  auto relay = start_relay(relay_options);

  std::mutex mutex;
  std::vector<std::int64_t> commit_order;  // ids in the order their commits returned
  std::atomic<int> failures{0};
  std::vector<std::jthread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      try {
        pqxx::connection conn(db_.url());
        std::mt19937 random(static_cast<unsigned>(t));
        for (int i = 0; i < kPerThread; ++i) {
          const std::string key = "key-" + std::to_string(random() % kKeys);
          pqxx::work txn(conn);
          const auto version = txn.exec_params1(
                                      "UPDATE test_keys SET version = version + 1 WHERE id = $1 "
                                      "RETURNING version",
                                      key)[0]
                                   .as<int>();
          append_event(txn, DomainEvent{"api_key", key, "api_key.updated",
                                        boost::json::object{{"version", version}},
                                        std::chrono::system_clock::now()});
          const auto id = txn.exec1("SELECT currval('outbox_id_seq')")[0].as<std::int64_t>();
          txn.exec("SELECT pg_sleep(" + std::to_string(random() % 4) + " / 1000.0)");
          txn.commit();
          std::lock_guard lock(mutex);
          commit_order.push_back(id);
        }
      } catch (const std::exception& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    });
  }
  writers.clear();
  ASSERT_EQ(failures.load(), 0);
  constexpr std::size_t kEvents = kThreads * kPerThread;
  ASSERT_EQ(commit_order.size(), kEvents);
  // The scenario the test is about did happen: commits out of id order.
  std::size_t out_of_order = 0;
  for (std::size_t i = 1; i < commit_order.size(); ++i)
    out_of_order += commit_order[i] < commit_order[i - 1] ? 1 : 0;
  EXPECT_GT(out_of_order, 0u);

  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 60s));
  KafkaTestConsumer consumer(broker_.bootstrap_servers(), topic_for_aggregate("api_key"));
  const auto messages = consumer.wait_for(kEvents, 30s);
  ASSERT_EQ(messages.size(), kEvents);
  std::size_t seen = 0;
  for (const auto& [key, values] : test::values_by_key(messages)) {
    // Versions 1, 2, 3, ... with none missing, none twice and none out of place.
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto version = boost::json::parse(values[i]).at("version").as_int64();
      ASSERT_EQ(version, static_cast<std::int64_t>(i + 1)) << key << " message " << i;
    }
    seen += values.size();
  }
  EXPECT_EQ(seen, kEvents);
  std::cout << kEvents << " events, " << out_of_order << " commits out of id order, "
            << relay->relay->stats().rounds << " relay rounds\n";
}

}  // namespace
}  // namespace keyflow
