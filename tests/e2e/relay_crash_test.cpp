// At-least-once and takeover with real processes: a `keyflowd broker`, `keyflowd relay`
// processes killed with SIGKILL at the two worst moments of a round, and a standby relay that
// takes over from a killed active one.
//
// The windows are made deterministic from the outside, without hooks in keyflowd: a row lock
// held by the test blocks the relay's mark UPDATE (killed after produce, before marking), and a
// test-only deferred constraint trigger makes the mark's commit wait on an advisory lock the
// test holds (killed after marking, before commit).
#include <algorithm>
#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

using test::eventually;

constexpr std::int64_t kCommitGate = 4242;  // advisory lock the test trigger waits on

class RelayCrashTest : public ::testing::Test {
 protected:
  RelayCrashTest() {
    broker_.emplace(KEYFLOWD_PATH, std::vector<std::string>{"broker"},
                    std::map<std::string, std::string>{{"KEYFLOW_KAFKA_BROKERS", "embedded"}});
    const auto bootstrap = broker_->wait_for_line("kafka bootstrap ", 30s);
    if (!bootstrap) throw std::runtime_error("keyflowd broker did not start");
    bootstrap_ = *bootstrap;
  }

  std::unique_ptr<test::ChildProcess> start_relay() {
    return std::make_unique<test::ChildProcess>(KEYFLOWD_PATH, std::vector<std::string>{"relay"},
                                                std::map<std::string, std::string>{
                                                    {"KEYFLOW_DATABASE_URL", db_.url()},
                                                    {"KEYFLOW_KAFKA_BROKERS", bootstrap_},
                                                    {"KEYFLOW_MASTER_KEY", test::kTestMasterKey},
                                                });
  }

  static void kill_relay(test::ChildProcess& relay) {
    relay.signal(SIGKILL);
    ASSERT_EQ(relay.wait(10s), std::optional<int>(128 + SIGKILL));
  }

  // n events over four keys; payload {"seq": k}, k counting up across calls.
  std::vector<std::string> insert_events(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i, ++next_seq_) {
      pqxx::work tx(writer_);
      ids.push_back(tx.exec_params1("INSERT INTO outbox (aggregate_type, aggregate_id, "
                                    "event_type, payload) VALUES ('api_key', $1, "
                                    "'api_key.updated', $2::jsonb) RETURNING event_id::text",
                                    "key-" + std::to_string(next_seq_ % 4),
                                    R"({"seq": )" + std::to_string(next_seq_) + "}")[0]
                        .c_str());
      tx.commit();
    }
    return ids;
  }

  std::int64_t scalar(const std::string& sql) const { return db_.count(sql); }

  std::int64_t unpublished() {
    return scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL");
  }

  // The start of the relay's marking statement, as the backend shows it.
  static constexpr const char* kMarking = "WITH done AS (DELETE FROM outbox_pending";

  // The backend of a relay process's session: what it is doing ("" when it has none).
  std::string relay_backend(pid_t pid) {
    pqxx::nontransaction tx(monitor_);
    const auto rows = tx.exec(
        "SELECT coalesce(wait_event_type, '') || ':' || coalesce(wait_event, '') || ':' || "
        "left(query, 40) FROM pg_stat_activity WHERE application_name = 'keyflow-relay/" +
        std::to_string(pid) + "'");
    return rows.empty() ? "" : rows[0][0].c_str();
  }

  // The process whose session holds this database's relay lock (0 when none does); other tests
  // may run relays on other databases of the same server meanwhile.
  pid_t lock_holder() {
    pqxx::nontransaction tx(monitor_);
    const auto rows = tx.exec(
        "SELECT substr(a.application_name, length('keyflow-relay/') + 1)::int "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE "
        "'keyflow-relay/%' AND a.datname = current_database()");
    return rows.empty() ? 0 : rows[0][0].as<pid_t>();
  }

  // Every event arrived, duplicates are byte-for-byte the same message with the same ce_id, and
  // each key's first copies come in order. Returns how many messages were read.
  std::size_t expect_every_event_arrived(const std::vector<std::string>& event_ids,
                                         std::size_t expected_messages) {
    test::KafkaTestConsumer consumer(bootstrap_, "keyflow.api_keys");
    consumer.wait_for(expected_messages, 20s);
    const auto messages = consumer.drain_for(500ms);  // and any duplicates beyond
    std::map<std::string, std::vector<const test::ConsumedMessage*>> by_id;
    for (const auto& message : messages)
      by_id[message.headers.at("ce_id")].push_back(&message);
    for (const auto& id : event_ids) {
      if (!by_id.contains(id)) {
        ADD_FAILURE() << "event " << id << " never arrived";
        continue;
      }
      const auto& copies = by_id.at(id);
      for (const auto* copy : copies) {
        EXPECT_EQ(copy->key, copies.front()->key);
        EXPECT_EQ(copy->value, copies.front()->value);
        EXPECT_EQ(copy->headers, copies.front()->headers);
      }
    }
    EXPECT_EQ(by_id.size(), event_ids.size()) << "messages that are no outbox event";
    std::map<std::string, std::vector<int>> first_seen;
    std::set<std::string> seen;
    for (const auto& message : messages) {
      if (!seen.insert(message.headers.at("ce_id")).second) continue;
      first_seen[message.key].push_back(
          std::stoi(message.value.substr(message.value.find(':') + 1)));
    }
    for (const auto& [key, seqs] : first_seen)
      EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << key;
    return messages.size();
  }

  test::TestDatabase db_;
  pqxx::connection writer_{db_.url()};
  pqxx::connection monitor_{db_.url()};
  std::optional<test::ChildProcess> broker_;
  std::string bootstrap_;
  int next_seq_ = 0;
};

TEST_F(RelayCrashTest, KilledAfterProducingBeforeMarkingPublishesEverythingAgain) {
  const auto ids = insert_events(20);
  // The relay's mark UPDATE will wait for this row lock.
  pqxx::connection locker_conn(db_.url());
  pqxx::work locker(locker_conn);
  locker.exec("SELECT 1 FROM outbox WHERE id = (SELECT max(id) FROM outbox) FOR UPDATE");

  auto relay = start_relay();
  {
    test::KafkaTestConsumer consumer(bootstrap_, "keyflow.api_keys");
    ASSERT_EQ(consumer.wait_for(20, 30s).size(), 20u) << "the relay did not produce the batch";
  }
  ASSERT_TRUE(eventually(
      [&] {
        const auto backend = relay_backend(relay->pid());
        return backend.starts_with("Lock:") && backend.ends_with(kMarking);
      },
      15s))
      << relay_backend(relay->pid());
  kill_relay(*relay);

  // The dead relay's backend notices its client is gone and ends, its UPDATE undone, while the
  // test still holds the row: nothing got marked.
  ASSERT_TRUE(eventually([&] { return relay_backend(relay->pid()).empty(); }, 15s));
  EXPECT_EQ(unpublished(), 20);
  locker.abort();

  auto second = start_relay();
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 30s));
  EXPECT_EQ(expect_every_event_arrived(ids, 40), 40u);
}

TEST_F(RelayCrashTest, KilledAfterMarkingBeforeCommitPublishesEverythingAgain) {
  // Test-only: the transaction that marks rows published waits at its commit, after the UPDATE,
  // for as long as the test holds kCommitGate.
  pqxx::nontransaction(writer_).exec(
      "CREATE FUNCTION test_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
      "BEGIN PERFORM pg_advisory_xact_lock_shared(" +
      std::to_string(kCommitGate) +
      "); RETURN NULL; END $$; "
      "CREATE CONSTRAINT TRIGGER test_hold_commit AFTER UPDATE ON outbox "
      "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
      "WHEN (OLD.published_at IS NULL AND NEW.published_at IS NOT NULL) "
      "EXECUTE FUNCTION test_hold_commit()");
  pqxx::connection gate(db_.url());
  pqxx::nontransaction(gate).exec("SELECT pg_advisory_lock(" + std::to_string(kCommitGate) + ")");
  const auto ids = insert_events(20);

  auto relay = start_relay();
  {
    test::KafkaTestConsumer consumer(bootstrap_, "keyflow.api_keys");
    ASSERT_EQ(consumer.wait_for(20, 30s).size(), 20u) << "the relay did not produce the batch";
  }
  // Marked, not committed: the UPDATE is done and its commit waits in the trigger.
  ASSERT_TRUE(eventually(
      [&] { return relay_backend(relay->pid()) == std::string("Lock:advisory:") + kMarking; }, 15s))
      << relay_backend(relay->pid());
  EXPECT_EQ(unpublished(), 20);
  kill_relay(*relay);

  ASSERT_TRUE(eventually([&] { return relay_backend(relay->pid()).empty(); }, 15s));
  pqxx::nontransaction(gate).exec("SELECT pg_advisory_unlock(" + std::to_string(kCommitGate) + ")");
  EXPECT_EQ(unpublished(), 20) << "the killed relay's marks were committed";

  auto second = start_relay();
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 30s));
  EXPECT_EQ(expect_every_event_arrived(ids, 40), 40u);
}

TEST_F(RelayCrashTest, StandbyTakesOverWithinSecondsWhenTheActiveRelayIsKilled) {
  auto first = start_relay();
  auto ids = insert_events(1);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 30s));
  ASSERT_EQ(lock_holder(), first->pid());

  auto second = start_relay();
  ASSERT_TRUE(eventually([&] { return !relay_backend(second->pid()).empty(); }, 15s));
  const auto more = insert_events(5);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 15s));
  EXPECT_EQ(lock_holder(), first->pid()) << "the standby took the lock from a live relay";

  // Killed with events on the way; more come while nobody is active.
  const auto racing = insert_events(20);
  const auto killed_at = SteadyClock::now();
  kill_relay(*first);
  const auto during = insert_events(20);
  ASSERT_TRUE(eventually([&] { return lock_holder() == second->pid(); }, 10s));
  const auto takeover = SteadyClock::now() - killed_at;
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 30s));
  std::cout << "standby took over "
            << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
            << " ms after the kill\n";
  EXPECT_LT(takeover, 5s);

  for (const auto* batch : {&more, &racing, &during})
    ids.insert(ids.end(), batch->begin(), batch->end());
  expect_every_event_arrived(ids, ids.size());
}

}  // namespace
}  // namespace keyflow
