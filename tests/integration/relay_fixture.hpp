#pragma once

// Shared by the relay's integration tests: a relay on a thread, a database of its own, the
// embedded broker in-process, and helpers to write outbox rows and wait for conditions.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "outbox/embedded_broker.hpp"
#include "outbox/outbox_relay.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow::test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

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
    if (thread.joinable()) thread.join();
  }
  OutboxRelay* operator->() const { return relay.get(); }

  std::unique_ptr<OutboxRelay> relay;
  std::jthread thread;
};

class RelayTest : public ::testing::Test {
 protected:
  RelayOptions options() const {
    RelayOptions options;
    options.database_url = db_.url();
    options.brokers = broker_.bootstrap_servers();
    options.poll_interval = 100ms;
    options.stats_interval = 50ms;
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

  void exec(const std::string& sql) { pqxx::nontransaction(writer_).exec(sql); }

  TestDatabase db_;
  pqxx::connection writer_{db_.url()};  // the test's own inserts and checks
  EmbeddedBroker broker_;
  ManualClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
};

inline std::set<std::string> event_ids(const std::vector<ConsumedMessage>& messages) {
  std::set<std::string> ids;
  for (const auto& message : messages)
    ids.insert(message.headers.count("ce_id") ? message.headers.at("ce_id") : "");
  return ids;
}

// Each key's messages in the order the consumer read them (offset order: one key, one
// partition).
inline std::map<std::string, std::vector<std::string>> values_by_key(
    const std::vector<ConsumedMessage>& messages) {
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& message : messages)
    by_key[message.key].push_back(message.value);
  return by_key;
}

}  // namespace keyflow::test
