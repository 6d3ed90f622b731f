#include "outbox/outbox_relay.hpp"

#include <algorithm>
#include <condition_variable>
#include <stdexcept>
#include <utility>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "engine/database.hpp"
#include "outbox/kafka_error.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// pg_try_advisory_lock key shared by every relay of a database: "kfrelay" in ASCII.
constexpr std::int64_t kRelayLockKey = 0x6b6672656c6179;
constexpr const char* kNotifyChannel = "keyflow_outbox";
constexpr std::chrono::milliseconds kStopCheck = 200ms;
constexpr std::chrono::milliseconds kInitialBackoff = 200ms;
constexpr std::int64_t kBacklogCountCap = 100000;

// Returns early when stop is requested.
void sleep_for(std::chrono::milliseconds duration, const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  cv.wait_for(lock, stop, duration, [] { return false; });
}

class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds max) : max_(max) {}
  std::chrono::milliseconds next() {
    const auto delay = current_;
    current_ = std::min(current_ * 2, max_);
    return std::min(delay, max_);
  }
  void reset() { current_ = kInitialBackoff; }

 private:
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_ = kInitialBackoff;
};

bool is_purge(const std::error_code& error) {
  return error == make_kafka_error(RD_KAFKA_RESP_ERR__PURGE_QUEUE) ||
         error == make_kafka_error(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
}

std::string array_literal(const std::vector<std::int64_t>& ids) {
  std::string text = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  text += '}';
  return text;
}

}  // namespace

// The connection that holds the relay lock and runs the relay's queries, so that a round can
// only succeed while the lock is held.
struct OutboxRelay::Session {
  explicit Session(const std::string& url) : conn(ConnectionPool::connect(url)) {
    // libpqxx 6 silently reconnects a broken connection on its next use. The new backend would
    // not hold the lock, so the session must fail instead and make the relay take the lock anew.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  }

  std::unique_ptr<pqxx::connection> conn;
};

// A connection that LISTENs on the outbox channel; notifications only wake the relay.
struct OutboxRelay::Listener {
  class Receiver final : public pqxx::notification_receiver {
   public:
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string&, int) override {}
  };

  explicit Listener(const std::string& url)
      : conn(ConnectionPool::connect(url)), receiver(*conn, kNotifyChannel) {}

  std::unique_ptr<pqxx::connection> conn;
  Receiver receiver;  // declared after conn: unregisters before the connection closes
};

OutboxRelay::OutboxRelay(RelayOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  if (options_.batch_size == 0) throw std::invalid_argument("outbox relay: batch_size is 0");
  producer_options_.bootstrap_servers = options_.brokers;
  producer_options_.message_timeout = options_.delivery_timeout;
  producer_options_.client_id = "keyflow-relay";
  // Built here so that a bad Kafka configuration fails the caller, not the relay's thread.
  producer_ = std::make_unique<KafkaProducer>(producer_options_);
}

OutboxRelay::~OutboxRelay() = default;

RelayStats OutboxRelay::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

void OutboxRelay::run(std::stop_token stop) {
  std::unique_ptr<Session> session;
  std::unique_ptr<Listener> listener;
  Backoff backoff(options_.max_backoff);
  bool standby_announced = false;

  while (!stop.stop_requested()) {
    try {
      if (!session) session = std::make_unique<Session>(options_.database_url);
      if (!active_) {
        if (!try_take_lock(*session)) {
          if (!standby_announced)
            spdlog::info("outbox relay: another relay is active; standing by");
          standby_announced = true;
          ready_ = true;
          sleep_for(options_.standby_retry, stop);
          continue;
        }
        active_ = true;
        standby_announced = false;
        spdlog::info("outbox relay: took the relay lock; publishing to {}", options_.brokers);
      }
      // LISTEN before claiming, so that a row committed during the round still wakes the wait.
      if (!listener) {
        try {
          listener = std::make_unique<Listener>(options_.database_url);
        } catch (const std::exception& e) {
          spdlog::warn("outbox relay: cannot LISTEN ({}); polling only", e.what());
        }
      }
      if (!producer_) producer_ = std::make_unique<KafkaProducer>(producer_options_);

      const auto round = publish_round(*session, *producer_, stop);
      if (auto fatal = producer_->fatal_error()) {
        spdlog::error("outbox relay: Kafka producer failed ({}); starting a new one", *fatal);
        producer_.reset();
      }
      // Stopping purges what is in flight; that is no broker failure to report.
      if (stop.stop_requested()) break;
      if (round.failed > 0) {
        ready_ = false;
        const auto delay = backoff.next();
        spdlog::warn(
            "outbox relay: {} of {} events not acknowledged by Kafka ({}); retrying in {} ms",
            round.failed, round.claimed, round.first_error.message(), delay.count());
        sleep_for(delay, stop);
        continue;
      }
      ready_ = true;
      backoff.reset();
      // A full batch means more rows are probably waiting: go again at once.
      if (round.claimed < options_.batch_size) wait_for_work(listener, stop);
    } catch (const std::exception& e) {
      // The lock lives and dies with the session: once the session fails another relay may
      // already hold it, so stop publishing and start over from taking the lock.
      if (active_) {
        spdlog::warn("outbox relay: database session failed ({}); standing down", e.what());
      } else {
        spdlog::warn("outbox relay: database unavailable ({})", e.what());
      }
      active_ = false;
      ready_ = false;
      listener.reset();
      session.reset();
      sleep_for(backoff.next(), stop);
    }
  }
  producer_.reset();  // fails what is still pending; those rows stay unpublished
  listener.reset();
  session.reset();  // releases the lock
  active_ = false;
  ready_ = false;
}

bool OutboxRelay::try_take_lock(Session& session) {
  pqxx::nontransaction tx(*session.conn);
  // A session-level lock: held until this connection closes, whatever its transactions do.
  return tx.exec_params1("SELECT pg_try_advisory_lock($1)", kRelayLockKey)[0].as<bool>();
}

OutboxRelay::RoundResult OutboxRelay::publish_round(Session& session, KafkaProducer& producer,
                                                    const std::stop_token& stop) {
  const auto started = SteadyClock::now();
  const auto records = claim(session);
  const auto claimed_at = SteadyClock::now();
  RoundResult result;
  result.claimed = records.size();
  std::vector<std::int64_t> acked;
  if (!records.empty()) {
    auto delivery = deliver(records, producer, stop);
    acked = std::move(delivery.acked);
    result.failed = records.size() - acked.size();
    result.first_error = delivery.first_error;
    const auto delivered_at = SteadyClock::now();
    if (!acked.empty()) mark_published(session, acked);
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    spdlog::debug(
        "outbox relay: published {} of {} events (claim {} ms, delivery {} ms, mark {} ms)",
        acked.size(), records.size(), duration_cast<milliseconds>(claimed_at - started).count(),
        duration_cast<milliseconds>(delivered_at - claimed_at).count(),
        duration_cast<milliseconds>(SteadyClock::now() - delivered_at).count());
  }
  const std::uint64_t backlog =
      records.size() == options_.batch_size ? count_backlog(session) : result.failed;

  std::lock_guard lock(stats_mutex_);
  ++stats_.rounds;
  stats_.published += acked.size();
  stats_.backlog = backlog;
  if (!acked.empty()) stats_.last_published_at = clock_.now();
  return result;
}

std::vector<OutboxRecord> OutboxRelay::claim(Session& session) {
  // Why this cannot skip a row that commits late: ids come from a sequence at insert time, so a
  // transaction holding id 7 can commit after one holding id 8, and a relay tracking "the
  // highest id published so far" would pass 7 by for good. This query keeps no high-water
  // mark; it selects by published_at IS NULL, so 7 is picked up by the first round that runs
  // after its commit. Order within one key is not at risk either: every mutation of a key
  // locks that key's row (SELECT ... FOR UPDATE) before appending its event, so one key's
  // outbox rows take their ids and commit one after another, and a later event of a key is
  // never visible while an earlier one is not.
  pqxx::nontransaction tx(*session.conn);
  const auto rows = tx.exec_params(
      "SELECT id, event_id, aggregate_type, aggregate_id, event_type, payload::text, occurred_at "
      "FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
      static_cast<std::int64_t>(options_.batch_size));
  std::vector<OutboxRecord> records;
  records.reserve(rows.size());
  for (const auto& row : rows) {
    records.push_back(OutboxRecord{
        .id = row[0].as<std::int64_t>(),
        .event_id = row[1].c_str(),
        .aggregate_type = row[2].c_str(),
        .aggregate_id = row[3].c_str(),
        .event_type = row[4].c_str(),
        .payload = row[5].c_str(),
        .occurred_at = row[6].c_str(),
    });
  }
  return records;
}

OutboxRelay::Delivery OutboxRelay::deliver(const std::vector<OutboxRecord>& records,
                                           KafkaProducer& producer, const std::stop_token& stop) {
  Delivery delivery;
  auto& acked = delivery.acked;
  acked.reserve(records.size());
  std::uint64_t errors = 0;
  std::error_code& first_error = delivery.first_error;
  auto note_error = [&](const std::error_code& error) {
    if (!is_purge(error)) ++errors;
    if (!first_error) first_error = error;
  };

  // In id order: the idempotent producer keeps that order within each partition.
  for (const auto& record : records) {
    if (auto error =
            producer.produce(to_cloud_event(record), static_cast<std::uint64_t>(record.id)))
      note_error(error);
  }

  // librdkafka reports every accepted message within message.timeout.ms; the deadline only
  // guards against a report that never comes. Stopping purges the rest, which stay unmarked.
  const auto deadline = SteadyClock::now() + options_.delivery_timeout + 5s;
  std::optional<SteadyClock::time_point> purged_at;
  while (producer.pending() > 0) {
    const auto now = SteadyClock::now();
    if (!purged_at && (stop.stop_requested() || now > deadline)) {
      producer.purge();
      purged_at = now;
    }
    if (purged_at && now - *purged_at > 5s) {
      spdlog::error("outbox relay: {} delivery reports missing after purge", producer.pending());
      break;
    }
    for (const auto& report : producer.poll(50ms)) {
      if (report.ok()) {
        acked.push_back(static_cast<std::int64_t>(report.tag));
      } else {
        note_error(report.error);
      }
    }
  }
  std::lock_guard lock(stats_mutex_);
  stats_.produce_errors += errors;
  return delivery;
}

void OutboxRelay::mark_published(Session& session, const std::vector<std::int64_t>& ids) {
  pqxx::work tx(*session.conn);
  tx.exec_params(
      "UPDATE outbox SET published_at = now() "
      "WHERE id = ANY($1::bigint[]) AND published_at IS NULL",
      array_literal(ids));
  tx.commit();
}

std::uint64_t OutboxRelay::count_backlog(Session& session) {
  pqxx::nontransaction tx(*session.conn);
  return tx
      .exec_params1(
          "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT $1) AS t",
          kBacklogCountCap)[0]
      .as<std::uint64_t>();
}

void OutboxRelay::wait_for_work(std::unique_ptr<Listener>& listener, const std::stop_token& stop) {
  const auto deadline = SteadyClock::now() + options_.poll_interval;
  while (!stop.stop_requested()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left <= 0ms) return;
    const auto slice = std::min(left, kStopCheck);
    if (!listener) {
      sleep_for(slice, stop);
      continue;
    }
    try {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(slice).count();
      if (listener->conn->await_notification(0, static_cast<long>(micros)) > 0) return;
    } catch (const std::exception& e) {
      // Polling covers for it; the next round opens a new listener.
      spdlog::warn("outbox relay: LISTEN connection failed ({}); polling", e.what());
      listener.reset();
    }
  }
}

}  // namespace keyflow
