// Retention: the active relay deletes published rows once they are older than the retention
// period, in small batches, and nothing else.
#include "tests/integration/relay_fixture.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using test::eventually;

class RelayRetentionTest : public test::RelayTest {
 protected:
  RelayOptions retention_options() const {
    auto relay_options = options();
    relay_options.retention = std::chrono::hours(24 * 7);
    relay_options.retention_interval = 50ms;
    relay_options.retention_batch = 10;
    return relay_options;
  }

  // Publication times are PostgreSQL's (published_at = now() at marking), and retention compares
  // them with PostgreSQL's clock, so the test moves the rows into the past instead: published
  // `ago`, having occurred a second before, or at `occurred_ago` when given.
  void published_ago(std::int64_t first_id, std::int64_t last_id, const std::string& ago,
                     const std::string& occurred_ago = "") {
    const auto occurred = occurred_ago.empty() ? "interval '" + ago + "' + interval '1 second'"
                                               : "interval '" + occurred_ago + "'";
    exec("UPDATE outbox SET published_at = now() - interval '" + ago + "', occurred_at = now() - " +
         occurred + " WHERE id BETWEEN " + std::to_string(first_id) + " AND " +
         std::to_string(last_id));
  }

  // An event of 30 days ago, never published: parked the day after.
  void insert_parked_event() {
    exec(
        "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, occurred_at, "
        "parked_at, attempts, last_error) VALUES ('api_key', 'key-parked', 'api_key.updated', "
        "'{}', now() - interval '30 days', now() - interval '29 days', 5, 'test')");
  }
};

TEST_F(RelayRetentionTest, DeletesOnlyPublishedRowsPastRetentionInSmallBatches) {
  // The relay publishes everything first; the retention clock starts at publication.
  std::vector<test::InsertedEvent> events;
  for (int i = 0; i < 40; ++i)
    events.push_back(insert_event("key-" + std::to_string(i % 4), R"({"i": 1})"));
  auto publisher = start_relay(options());
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 15s));
  publisher->stop();

  published_ago(events[0].id, events[24].id, "8 days");   // past retention: deleted
  published_ago(events[25].id, events[34].id, "6 days");  // within it: kept
  // An old event that was never published (parked), and one published long ago but locked by
  // a session that keeps its transaction open: retention leaves the first alone for good and
  // does not wait for the second.
  insert_parked_event();
  pqxx::connection locker_conn(db_.url());
  pqxx::work locker(locker_conn);
  locker.exec("SELECT 1 FROM outbox WHERE id = " + std::to_string(events[0].id) + " FOR UPDATE");

  auto relay = start_relay(retention_options());
  ASSERT_TRUE(eventually([&] { return relay->relay->stats().deleted == 24; }, 15s));
  EXPECT_EQ(count("true"), 40 - 24 + 1);
  EXPECT_EQ(count("id = " + std::to_string(events[0].id)), 1);
  EXPECT_EQ(count("published_at > now() - interval '7 days'"), 15);
  EXPECT_EQ(count("parked_at IS NOT NULL"), 1);

  // Released, the locked row goes at the next run.
  locker.abort();
  ASSERT_TRUE(eventually([&] { return relay->relay->stats().deleted == 25; }, 15s));
  EXPECT_EQ(count("id = " + std::to_string(events[0].id)), 0);
  EXPECT_EQ(count("true"), 40 - 25 + 1);
}

TEST_F(RelayRetentionTest, RowsThatStayDoNotHoldUpTheExpiredRowsAfterThem) {
  // At the head of the table: a parked row (never published) and rows published lately (say,
  // republished); a batch holds no more than those.
  insert_parked_event();
  std::vector<test::InsertedEvent> events;
  for (int i = 0; i < 45; ++i)
    events.push_back(insert_event("key-" + std::to_string(i % 4), R"({"i": 1})"));
  auto publisher = start_relay(options());
  ASSERT_TRUE(eventually([&] { return unpublished() == 1; }, 15s));
  publisher->stop();
  published_ago(events[0].id, events[8].id, "1 day", "20 days");  // republished: kept
  published_ago(events[9].id, events[44].id, "8 days");           // past retention: deleted

  auto relay = start_relay(retention_options());
  ASSERT_TRUE(eventually([&] { return relay->relay->stats().deleted == 36; }, 15s));
  EXPECT_EQ(count("true"), 1 + 9);
  EXPECT_EQ(count("parked_at IS NOT NULL"), 1);
}

TEST_F(RelayRetentionTest, ZeroRetentionKeepsPublishedRowsForEver) {
  for (int i = 0; i < 5; ++i)
    insert_event("key-1", "{}");
  auto relay_options = retention_options();
  relay_options.retention = std::chrono::seconds(0);
  auto relay = start_relay(relay_options);
  ASSERT_TRUE(eventually([&] { return unpublished() == 0; }, 15s));
  exec("UPDATE outbox SET published_at = now() - interval '3650 days'");
  // Rounds keep running (the poll interval is 100 ms); none of them deletes anything.
  const auto rounds = relay->relay->stats().rounds;
  ASSERT_TRUE(eventually([&] { return relay->relay->stats().rounds >= rounds + 5; }, 10s));
  EXPECT_EQ(count("true"), 5);
  EXPECT_EQ(relay->relay->stats().deleted, 0u);
}

}  // namespace
}  // namespace keyflow
