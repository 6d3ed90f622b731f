// Faults survived, nothing lost: serve (two of them), relay, deliver and schedule run as
// separate keyflowd processes on one database and a `keyflowd broker`, under a steady load of
// creates, rotations and revokes, while in turn the relay, the deliverer, the scheduler and one
// serve are killed with SIGKILL and started again, the webhook receiver answers 500 for 10 s,
// the broker is down for 10 s and the database restarts, down for 10 s (a PostgreSQL of the
// test's own, stopped and started: serve answers 503 with a JSON error meanwhile and recovers
// by itself). Then, once everything has caught up:
//
// - every mutation the client saw committed has exactly one outbox event;
// - every event reached Kafka at least once;
// - every delivery reached the receiver at least once, signed; duplicates carry the same id
//   and the same body;
// - every key due for rotation was rotated exactly once, and its new key reached the owner's
//   rotation webhook and verifies;
// - a serve stopped with SIGTERM answers the requests it has read before it exits;
// - every process stops on SIGTERM, in order and in time.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/core/time_format.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/private_postgres.hpp"
#include "tests/support/standard_webhooks.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "faults-admin-token-0123456789";

// A step of the test as it happens (unbuffered: a hang shows where it is).
void note(const std::string& what) {
  std::printf("  %s\n", what.c_str());
  std::fflush(stdout);
}

std::string id_of(const json::value& v, const char* field = "id") {
  return v.at(field).is_string() ? std::string(v.at(field).as_string())
                                 : json::serialize(v.at(field));
}

class FaultsTest : public ::testing::Test {
 protected:
  FaultsTest() {
    const auto bootstrap = broker_.wait_for_line("kafka bootstrap ", 30s);
    if (!bootstrap) throw std::runtime_error("keyflowd broker did not start");
    bootstrap_ = *bootstrap;
    serves_[0] = make("serve");
    serves_[1] = make("serve");
    for (const auto* role : {"relay", "deliver", "schedule"})
      start(role);
  }

  std::map<std::string, std::string> env() const {
    return {{"KEYFLOW_KAFKA_BROKERS", bootstrap_},
            {"KEYFLOW_ADMIN_TOKEN", kToken},
            // Retries come fast, so that the receiver's 10 s of 500s end in deliveries.
            {"KEYFLOW_WEBHOOK_RETRY_SCHEDULE", "0s,1s,1s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s"},
            {"KEYFLOW_LOG_LEVEL", "warning"},
            // A killed deliverer's partitions go to its successor after 6 s, not Kafka's
            // default 45 s (a librdkafka property passed through).
            {"KEYFLOW_KAFKA_SESSION_TIMEOUT_MS", "6000"},
            {"KEYFLOW_ACCESS_LOG", "false"}};
  }

  std::unique_ptr<test::RunningKeyflowd> make(const std::string& role) const {
    return std::make_unique<test::RunningKeyflowd>(KEYFLOWD_PATH, db_.url(),
                                                   std::vector<std::string>{role}, env());
  }
  void start(const std::string& role) { background_[role] = make(role); }

  void kill_and_restart(const std::string& role) {
    auto& process = background_[role];
    process->process().signal(SIGKILL);
    ASSERT_EQ(process->process().wait(10s), 128 + SIGKILL);
    note("killed " + role);
    process.reset();
    std::this_thread::sleep_for(1s);
    start(role);
  }

  // A serve that is up, in turn; the one being restarted is skipped.
  std::optional<test::HttpTestClient> client() {
    std::lock_guard lock(serves_mutex_);
    for (int tries = 0; tries < 2; ++tries) {
      const auto i = next_serve_++ % 2;
      if (serves_[i]) return serves_[i]->client(kToken);
    }
    return std::nullopt;
  }

  struct Mutation {
    std::string event_type;  // the event it must have made
    std::string key_id;
  };

  // One operation of the load: a create (a tenth of them scheduled for rotation soon), a
  // rotate or a revoke. One whose answer did not come (its serve died) is counted uncertain:
  // it may or may not have committed.
  void one_operation(std::mt19937& random) {
    auto c = client();
    if (!c) return;
    const int pick = static_cast<int>(random() % 10);
    try {
      if (pick < 5 || live_.empty()) {
        json::object body{{"project_id", project_id_}, {"name", "load"}};
        const bool scheduled = pick == 0;
        if (scheduled) {
          // Due a few seconds from now: the scheduler rotates it while the faults go on.
          body["next_rotation_at"] = format_timestamp(std::chrono::system_clock::now() +
                                                      std::chrono::seconds(2 + random() % 20));
          body["rotation_interval_days"] = 30;
          body["rotation_webhook_url"] = owner_.url("/rotated");
        }
        const auto r = c->post("/v1/api-keys", body);
        if (r.status == 503) return unavailable(r);
        if (r.status != 201) return uncertain();
        if (database_restored_) ++committed_after_restore_;
        const auto id = id_of(r.json());
        std::lock_guard lock(mutex_);
        committed_.push_back({"api_key.created", id});
        (scheduled ? scheduled_ : live_).push_back(id);
        return;
      }
      std::string id;
      {
        std::lock_guard lock(mutex_);
        const auto at = random() % live_.size();
        id = live_[at];
        live_.erase(live_.begin() + static_cast<long>(at));
      }
      if (pick < 8) {
        // A grace that outlasts the test: its end is an event of the scheduler's, which would
        // come in the middle of the counting.
        const auto r = c->post("/v1/api-keys/" + id + "/rotate", {{"grace_period_seconds", 3600}});
        if (r.status == 503) return unavailable(r);
        if (r.status != 200) return uncertain();
        std::lock_guard lock(mutex_);
        committed_.push_back({"api_key.rotated", id});
        live_.push_back(id_of(r.json(), "new_key_id"));
      } else {
        const auto r = c->del("/v1/api-keys/" + id);
        if (r.status == 503) return unavailable(r);
        if (r.status != 204) return uncertain();
        std::lock_guard lock(mutex_);
        committed_.push_back({"api_key.revoked", id});
      }
    } catch (const std::exception&) {
      uncertain();
    }
  }
  void uncertain() { ++uncertain_; }
  // The database is out of reach: a JSON error that says so, and nothing committed.
  void unavailable(const test::HttpResult& r) {
    ++unavailable_;
    if (r.json().at("error").at("code") != "unavailable") ++uncertain_;
  }

  test::PrivatePostgres postgres_;  // a server of the test's own, to restart
  test::TestDatabase db_{test::TestDatabase::OnServer{postgres_.conninfo()}};
  test::ChildProcess broker_{KEYFLOWD_PATH, {"broker"}, {{"KEYFLOW_KAFKA_BROKERS", "embedded"}}};
  std::string bootstrap_;
  std::mutex serves_mutex_;
  std::unique_ptr<test::RunningKeyflowd> serves_[2];
  std::size_t next_serve_ = 0;
  std::map<std::string, std::unique_ptr<test::RunningKeyflowd>> background_;
  test::WebhookReceiver subscriber_;
  test::WebhookReceiver owner_;
  std::string project_id_;

  std::mutex mutex_;
  std::vector<Mutation> committed_;
  std::vector<std::string> live_;       // keys the load may rotate or revoke
  std::vector<std::string> scheduled_;  // keys the scheduler rotates
  std::atomic<int> uncertain_{0};
  std::atomic<int> unavailable_{0};
  std::atomic<bool> database_restored_{false};
  std::atomic<int> committed_after_restore_{0};
};

TEST_F(FaultsTest, NothingCommittedIsLostWhateverCrashes) {
  const auto admin = *client();
  const auto org = admin.post("/v1/organizations", {{"name", "acme"}}).json();
  project_id_ =
      id_of(admin.post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json());
  const auto subscription =
      admin
          .post("/v1/webhooks/subscriptions",
                {{"url", subscriber_.url()}, {"event_types", json::array{"api_key.*"}}})
          .json();
  const std::string secret(subscription.at("secret").as_string());

  std::atomic<bool> loading{true};
  std::thread load([&] {
    std::mt19937 random(20261204);
    while (loading) {
      one_operation(random);
      std::this_thread::sleep_for(40ms);
    }
  });

  const auto started = Clock::now();
  const auto at = [&](std::chrono::seconds t) { std::this_thread::sleep_until(started + t); };
  std::printf("faults:\n");
  at(3s);
  kill_and_restart("relay");
  at(7s);
  kill_and_restart("deliver");
  at(11s);
  kill_and_restart("schedule");
  at(15s);
  {
    std::unique_ptr<test::RunningKeyflowd> dying;
    {
      std::lock_guard lock(serves_mutex_);
      dying.swap(serves_[0]);
    }
    dying->process().signal(SIGKILL);
    EXPECT_EQ(dying->process().wait(10s), 128 + SIGKILL);
    note("killed one serve of two");
    dying.reset();
    std::this_thread::sleep_for(1s);
    auto fresh = make("serve");
    std::lock_guard lock(serves_mutex_);
    serves_[0] = std::move(fresh);
  }
  at(19s);
  subscriber_.set_status(500);
  owner_.set_status(500);
  note("receivers answer 500 for 10 s");
  at(21s);
  broker_.signal(SIGUSR1);
  note("broker down for 10 s");
  at(29s);
  subscriber_.set_status(200);
  owner_.set_status(200);
  at(31s);
  broker_.signal(SIGUSR2);
  at(34s);
  // A restart with 10 s between the stop and the start: the server ends every session
  // (FATAL 57P01), then there is no server at all.
  postgres_.stop();
  note("database stopped; started again in 10 s");
  at(44s);
  postgres_.start();
  database_restored_ = true;
  note("database back");
  at(47s);
  {
    // SIGTERM finishes what a serve has read: four creates held in the database (the test
    // locks their project's row, which a new key's foreign key must share) are in flight when
    // the signal comes, and each must still be answered, 201, before the process exits 0.
    std::unique_ptr<test::RunningKeyflowd> stopping;
    {
      std::lock_guard lock(serves_mutex_);
      stopping.swap(serves_[1]);  // the load goes to the other one from now on
    }
    pqxx::connection locker(db_.url());
    pqxx::work hold(locker);
    hold.exec("SELECT 1 FROM projects WHERE id = " + project_id_ + " FOR UPDATE");
    std::vector<std::thread> callers;
    std::vector<int> answers(4, 0);
    std::vector<std::string> created(4);
    for (std::size_t i = 0; i < answers.size(); ++i) {
      callers.emplace_back([&, i, c = stopping->client(kToken)] {
        try {
          const auto r = c.post("/v1/api-keys", {{"project_id", project_id_}, {"name", "held"}});
          answers[i] = r.status;
          if (r.status == 201) created[i] = id_of(r.json());
        } catch (const std::exception&) {
          answers[i] = -1;  // no answer
        }
      });
    }
    std::this_thread::sleep_for(500ms);  // all four are waiting for the lock by now
    stopping->process().signal(SIGTERM);
    std::this_thread::sleep_for(500ms);
    hold.commit();
    for (auto& caller : callers)
      caller.join();
    EXPECT_EQ(stopping->process().wait(15s), 0);
    for (std::size_t i = 0; i < answers.size(); ++i) {
      EXPECT_EQ(answers[i], 201) << "a request in flight at SIGTERM was not answered";
      std::lock_guard lock(mutex_);
      if (!created[i].empty()) committed_.push_back({"api_key.created", created[i]});
    }
    note("stopped one serve with SIGTERM while four requests were in flight; all answered");
    auto fresh = make("serve");
    std::lock_guard lock(serves_mutex_);
    serves_[1] = std::move(fresh);
  }
  note("load until 52 s");
  at(52s);
  loading = false;
  load.join();

  // Everything catches up: the outbox drains, every event has its delivery and every delivery
  // succeeded, every key of the load that comes due is rotated (the last a few seconds after
  // the load stops) and its new key delivered.
  // What is left, counted in one statement, so in one snapshot: counted in separate
  // statements, a rotation the scheduler commits between them can look caught up for a moment.
  const std::string left =
      "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished,"
      " (SELECT count(*) FROM outbox WHERE aggregate_type = 'api_key') AS events,"
      " (SELECT count(*) FROM webhook_deliveries) AS deliveries,"
      " (SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded') AS failing,"
      " (SELECT count(*) FROM api_keys WHERE next_rotation_at < now() + interval '1 hour'"
      "   AND revoked_at IS NULL AND replaced_by_key_id IS NULL) AS due,"
      " (SELECT count(*) FROM rotation_deliveries WHERE status <> 'succeeded') AS undelivered";
  const auto caught_up = [&] {
    return db_.count("SELECT count(*) FROM (" + left +
                     ") AS l WHERE unpublished = 0 AND deliveries = events AND failing = 0"
                     " AND due = 0 AND undelivered = 0") == 1;
  };
  note("waiting for everything to catch up");
  const auto until = Clock::now() + 120s;
  bool done = caught_up();
  while (!done && Clock::now() < until) {
    std::this_thread::sleep_for(500ms);
    done = caught_up();
  }
  ASSERT_TRUE(done) << db_.text(
      "SELECT format('%s unpublished, %s deliveries of %s events, %s not succeeded, %s keys"
      " due, %s rotation deliveries not succeeded', unpublished, deliveries, events, failing,"
      " due, undelivered) FROM (" +
      left + ") AS l");

  std::lock_guard lock(mutex_);
  // Every committed mutation: exactly one event.
  for (const auto& m : committed_) {
    SCOPED_TRACE(m.event_type + " " + m.key_id);
    EXPECT_EQ(db_.count("SELECT count(*) FROM outbox WHERE aggregate_id = '" + m.key_id +
                        "' AND event_type = '" + m.event_type + "'"),
              1);
  }

  // Every event on Kafka, at least once.
  const auto events = db_.count("SELECT count(*) FROM outbox WHERE aggregate_type = 'api_key'");
  test::KafkaTestConsumer consumer(bootstrap_, "keyflow.api_keys");
  // Relays killed mid-round published some events twice: read until every event is there.
  std::set<std::string> on_kafka;
  std::size_t read = 0;
  const auto messages = consumer.wait_until(
      [&](const std::vector<test::ConsumedMessage>& received) {
        for (; read < received.size(); ++read)
          on_kafka.insert(received[read].headers.at("ce_id"));
        return static_cast<long>(on_kafka.size()) >= events;
      },
      60s);
  EXPECT_EQ(static_cast<long>(on_kafka.size()), events) << "events missing from Kafka";
  EXPECT_EQ(db_.count("SELECT count(*) FROM outbox WHERE aggregate_type = 'api_key' AND "
                      "event_id::text <> ALL ('{" +
                      [&] {
                        std::string ids;
                        for (const auto& id : on_kafka)
                          ids += (ids.empty() ? "" : ",") + id;
                        return ids;
                      }() +
                      "}'::text[])"),
            0);

  // Every delivery at the receiver, signed; duplicates the same.
  std::map<std::string, std::string> received;  // webhook-id -> body
  std::size_t duplicates = 0, unsigned_ = 0;
  for (const auto& r : subscriber_.requests()) {
    if (!standard_webhooks_accepts(secret, r)) ++unsigned_;
    const auto [it, fresh] = received.emplace(r.header("webhook-id"), r.body);
    if (!fresh) {
      ++duplicates;
      EXPECT_EQ(it->second, r.body) << "a duplicate with another body";
    }
  }
  EXPECT_EQ(unsigned_, 0u);
  const auto deliveries = db_.count("SELECT count(*) FROM webhook_deliveries");
  EXPECT_EQ(deliveries, events) << "one delivery per event for the one subscription";
  std::size_t delivered = 0;
  for (const auto& id : received) {
    delivered += db_.count("SELECT count(*) FROM webhook_deliveries WHERE id = '" + id.first +
                           "' AND status = 'succeeded'") == 1;
  }
  EXPECT_EQ(static_cast<long>(delivered), deliveries) << "deliveries that never arrived";

  // Every due rotation once, its new key at the owner and working.
  std::set<std::string> handed_over;
  for (const auto& r : owner_.requests()) {
    const auto body = json::parse(r.body);
    handed_over.insert(id_of(body.at("data"), "old_key_id"));
  }
  std::size_t rotated = 0;
  for (const auto& id : scheduled_) {
    if (db_.count("SELECT count(*) FROM api_keys WHERE id = " + id +
                  " AND replaced_by_key_id IS NOT NULL") == 0) {
      continue;  // not due yet when the load stopped
    }
    ++rotated;
    SCOPED_TRACE(id);
    EXPECT_EQ(db_.count("SELECT count(*) FROM outbox WHERE aggregate_id = '" + id +
                        "' AND event_type = 'api_key.rotated'"),
              1);
    EXPECT_TRUE(handed_over.contains(id)) << "the new key never reached its owner";
  }

  std::printf(
      "counts: %zu mutations committed (%d uncertain, %d answered 503 while the database was "
      "unreachable), %ld events, %zu Kafka messages, %ld "
      "deliveries, %zu webhook POSTs (%zu duplicates), %zu scheduled rotations of %zu scheduled "
      "keys, %zu rotation webhooks\n",
      committed_.size(), uncertain_.load(), unavailable_.load(), events, messages.size(),
      deliveries, subscriber_.count(), duplicates, rotated, scheduled_.size(), owner_.count());
  EXPECT_GE(committed_.size(), 200u) << "too little load to mean anything";
  EXPECT_GT(unavailable_.load(), 0) << "serve never said the database was unavailable";
  EXPECT_GT(committed_after_restore_.load(), 0) << "serve did not recover by itself";
  EXPECT_GE(rotated, 3u);

  // SIGTERM: each process stops in order, in time.
  for (auto& [role, process] : background_) {
    SCOPED_TRACE(role);
    process->process().signal(SIGTERM);
    EXPECT_EQ(process->process().wait(15s), 0);
  }
  for (auto& serve : serves_) {
    serve->process().signal(SIGTERM);
    EXPECT_EQ(serve->process().wait(15s), 0);
  }
}

}  // namespace
}  // namespace keyflow
