// Broker trouble seen from outside: `keyflowd all` against a broker the test owns (the embedded
// broker in the test process, so that the test can take it down), /readyz and /metrics.
#include <functional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "outbox/embedded_broker.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_test_client.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;

using test::eventually;

// The value of one sample in Prometheus text ("name value"); -1 when absent.
double metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

class RelayReadinessTest : public ::testing::Test {
 protected:
  int readyz() const { return keyflowd_.client("").get("/readyz").status; }
  std::string metrics() const { return keyflowd_.client("").get("/metrics").body; }

  std::vector<std::string> insert_events(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      pqxx::work tx(writer_);
      ids.push_back(tx.exec1("INSERT INTO outbox (aggregate_type, aggregate_id, event_type, "
                             "payload) VALUES ('api_key', 'key-" +
                             std::to_string(i % 3) +
                             "', 'api_key.updated', '{}') RETURNING event_id::text")[0]
                        .c_str());
      tx.commit();
    }
    return ids;
  }

  std::int64_t unpublished() {
    pqxx::nontransaction tx(writer_);
    return tx.exec1("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0].as<std::int64_t>();
  }

  EmbeddedBroker broker_;
  test::TestDatabase db_;
  pqxx::connection writer_{db_.url()};
  // Declared after the broker: stops first.
  test::RunningKeyflowd keyflowd_{KEYFLOWD_PATH,
                                  db_.url(),
                                  {"all"},
                                  {{"KEYFLOW_KAFKA_BROKERS", broker_.bootstrap_servers()},
                                   {"KEYFLOW_ADMIN_TOKEN", "readiness-test-token"}}};
};

TEST_F(RelayReadinessTest, NotReadyWhileTheBrokerIsDownAndDrainsWhenItIsBack) {
  ASSERT_TRUE(eventually([&] { return readyz() == 200; }, 30s));
  auto ids = insert_events(1);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 15s));
  ASSERT_TRUE(eventually([&] { return metric(metrics(), "keyflow_relay_active") == 1; }, 10s));

  broker_.set_down(true);
  const auto during = insert_events(20);
  ASSERT_TRUE(eventually([&] { return readyz() == 503; }, 15s));
  // The relay's own verdict, and the backlog, while its round waits for the broker.
  ASSERT_TRUE(eventually(
      [&] {
        const auto text = metrics();
        return metric(text, "keyflow_relay_ready") == 0 &&
               metric(text, "keyflow_outbox_backlog_rows") == 20 &&
               metric(text, "keyflow_outbox_oldest_unpublished_age_seconds") > 0;
      },
      20s))
      << metrics();
  EXPECT_EQ(unpublished(), 20) << "rows marked published while the broker was down";

  broker_.set_down(false);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 40s));
  ASSERT_TRUE(eventually([&] { return readyz() == 200; }, 15s));
  const auto text = metrics();
  EXPECT_EQ(metric(text, "keyflow_relay_published_total"), 21);
  EXPECT_EQ(metric(text, "keyflow_outbox_parked_rows"), 0);
  EXPECT_TRUE(
      eventually([&] { return metric(metrics(), "keyflow_outbox_backlog_rows") == 0; }, 5s));

  ids.insert(ids.end(), during.begin(), during.end());
  test::KafkaTestConsumer consumer(broker_.bootstrap_servers(), "keyflow.api_keys");
  consumer.wait_for(ids.size(), 15s);
  std::set<std::string> seen;
  for (const auto& message : consumer.drain_for(300ms))
    seen.insert(message.headers.at("ce_id"));
  EXPECT_EQ(seen, std::set<std::string>(ids.begin(), ids.end()));
}

}  // namespace
}  // namespace keyflow
