#include "outbox/outbox_relay.hpp"

#include <algorithm>
#include <condition_variable>
#include <set>
#include <stdexcept>
#include <unistd.h>
#include <utility>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "engine/core/backoff.hpp"
#include "engine/core/interruptible_wait.hpp"
#include "engine/store/database.hpp"
#include "outbox/kafka_error.hpp"
#include "outbox/outbox_relay_round.hpp"
#include "outbox/topics.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// pg_try_advisory_lock key shared by every relay of a database: "kfrelay" in ASCII.
constexpr std::int64_t kRelayLockKey = 0x6b6672656c6179;
constexpr const char* kNotifyChannel = "keyflow_outbox";
constexpr std::chrono::milliseconds kStopCheck = 200ms;
constexpr std::chrono::milliseconds kInitialBackoff = 200ms;
// The backlog is counted exactly up to here; beyond, it is estimated from the id range, so
// that counting stays cheap however large the backlog grows.
constexpr std::int64_t kBacklogExactCount = 10000;
// Short: a broker that is down must not hold up the relay (or its stopping) for long.
constexpr std::chrono::milliseconds kMetadataPrefetchTimeout = 500ms;
// Deleting rows past retention gets at most this much of the relay's time at once.
constexpr std::chrono::milliseconds kRetentionBudget = 100ms;

bool is_purge(const std::error_code& error) {
  return error == make_kafka_error(RD_KAFKA_RESP_ERR__PURGE_QUEUE) ||
         error == make_kafka_error(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
}

// "MSG_SIZE_TOO_LARGE: Broker: Message size too large", for last_error and the logs.
std::string describe(const std::error_code& error) {
  if (error.category() == kafka_category()) {
    return std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error.value()))) + ": " +
           error.message();
  }
  return error.message();
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

TimePoint from_epoch_seconds(double seconds) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(seconds)));
}

// The relay's statements, prepared once per session.
constexpr const char* kClaim = "keyflow_relay_claim";
constexpr const char* kMark = "keyflow_relay_mark";
constexpr const char* kCharge = "keyflow_relay_charge";
constexpr const char* kStats = "keyflow_relay_stats";
constexpr const char* kDeleteExpired = "keyflow_relay_delete_expired";

// Why the claim cannot skip a row that commits late: ids come from a sequence at insert time, so
// a transaction holding id 7 can commit after one holding id 8, and a relay tracking "the
// highest id published so far" would pass 7 by for good. This query keeps no high-water mark;
// it selects by published_at IS NULL, so 7 is picked up by the first round that runs after its
// commit. Order within one key is not at risk either: every mutation of a key locks that key's
// row (SELECT ... FOR UPDATE) before appending its event, so one key's outbox rows take their
// ids and commit one after another, and a later event of a key is never visible while an
// earlier one is not.
//
// Parked rows are skipped, and so is every later row of a parked row's aggregate: publishing
// those would hand consumers a key's history with an event missing from the middle (an update
// of a key whose creation they never saw), with nothing to tell them. Held back, the key's
// events wait, visible in the backlog and its age, until an operator requeues or deletes the
// parked row; then they go out in their order. Other aggregates are not held up.
constexpr const char* kClaimSql =
    "SELECT id, event_id, aggregate_type, aggregate_id, event_type, payload::text, occurred_at, "
    "attempts FROM outbox o "
    "WHERE published_at IS NULL AND parked_at IS NULL AND NOT EXISTS ("
    " SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL"
    " AND p.aggregate_type = o.aggregate_type AND p.aggregate_id = o.aggregate_id"
    " AND p.id < o.id) "
    "ORDER BY id LIMIT $1";

// One statement for the whole round. published_at IS NULL: a row another relay published
// meanwhile (after this one lost its lock) keeps its first publication time.
constexpr const char* kMarkSql =
    "UPDATE outbox SET published_at = now() "
    "WHERE id = ANY($1::bigint[]) AND published_at IS NULL";

constexpr const char* kChargeSql =
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
    "parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END "
    "WHERE id = $1 AND published_at IS NULL AND parked_at IS NULL "
    "RETURNING parked_at IS NOT NULL";

// Each part walks a partial index a short way: the count stops at its cap, min and max read
// the two ends of the index, the parked rows are few.
constexpr const char* kStatsSql =
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL"
    "         AND parked_at IS NULL LIMIT $1) AS t),"
    " (SELECT max(id) - min(id) + 1 FROM outbox WHERE published_at IS NULL AND parked_at IS NULL),"
    " (SELECT extract(epoch FROM occurred_at)::float8 FROM outbox"
    "   WHERE published_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT 1),"
    " (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL)";

// Oldest first, a batch per statement: each statement locks only the rows it deletes, which
// nothing else writes any more, and commits at once. A row someone else has locked is left for
// a later run rather than waited for.
constexpr const char* kDeleteExpiredSql =
    "DELETE FROM outbox WHERE id IN ("
    " SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1)"
    " ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

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
    pqxx::nontransaction tx(*conn);
    // Which process is the active relay shows in pg_stat_activity (joined with pg_locks).
    tx.exec("SET application_name = 'keyflow-relay/" + std::to_string(getpid()) + "'");
    // A mark that a crash of PostgreSQL loses only makes its rows go out again, which
    // at-least-once delivery allows; so the relay's commits need not wait for the WAL flush.
    tx.exec("SET synchronous_commit = off");
    // A relay that dies in the middle of a statement (blocked on a lock, say) would leave its
    // backend, and with it the relay lock, until the statement ends; this ends it within a
    // second of the client's disappearance (PostgreSQL 14 and later).
    if (conn->server_version() >= 140000) tx.exec("SET client_connection_check_interval = 1000");
    conn->prepare(kClaim, kClaimSql);
    conn->prepare(kMark, kMarkSql);
    conn->prepare(kCharge, kChargeSql);
    conn->prepare(kStats, kStatsSql);
    conn->prepare(kDeleteExpired, kDeleteExpiredSql);
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
      : conn(ConnectionPool::connect(url)), receiver(*conn, kNotifyChannel) {
    pqxx::nontransaction(*conn).exec("SET application_name = 'keyflow-relay-listen/" +
                                     std::to_string(getpid()) + "'");
  }

  std::unique_ptr<pqxx::connection> conn;
  Receiver receiver;  // declared after conn: unregisters before the connection closes
};

OutboxRelay::OutboxRelay(RelayOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  if (options_.batch_size == 0) throw std::invalid_argument("outbox relay: batch_size is 0");
  if (options_.max_attempts < 1) throw std::invalid_argument("outbox relay: max_attempts < 1");
  if (options_.retention_batch == 0) {
    throw std::invalid_argument("outbox relay: retention_batch is 0");
  }
  producer_options_.bootstrap_servers = options_.brokers;
  producer_options_.message_timeout = options_.delivery_timeout;
  producer_options_.linger = options_.linger;
  producer_options_.client_id = "keyflow-relay";
  producer_options_.overrides = options_.producer_overrides;
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
  Backoff backoff(kInitialBackoff, options_.max_backoff);
  bool standby_announced = false;
  bool warm_up_producer = true;
  SteadyClock::time_point next_retention{};

  while (!stop.stop_requested()) {
    try {
      if (!session) session = std::make_unique<Session>(options_.database_url);
      if (!active_) {
        if (!try_take_lock(*session)) {
          if (!standby_announced)
            spdlog::info("outbox relay: another relay is active; standing by");
          standby_announced = true;
          ready_ = true;
          sleep_unless_stopped(stop, options_.standby_retry);
          continue;
        }
        active_ = true;
        standby_announced = false;
        isolate_through_.reset();
        next_stats_ = next_retention = SteadyClock::now();
        spdlog::info("outbox relay: took the relay lock; publishing to {}", options_.brokers);
        warm_up_producer = true;
      }
      // LISTEN before claiming, so that a row committed during the round still wakes the wait.
      if (!listener) {
        try {
          listener = std::make_unique<Listener>(options_.database_url);
        } catch (const std::exception& e) {
          spdlog::warn("outbox relay: cannot LISTEN ({}); polling only", e.what());
        }
      }
      if (listener) {
        // Notifications already here are for commits this round's claim sees anyway. Reading
        // them also keeps a long drain (no waits between full rounds) from leaving them to
        // pile up in PostgreSQL's notification queue.
        try {
          listener->conn->get_notifs();
        } catch (const std::exception& e) {
          spdlog::warn("outbox relay: LISTEN connection failed ({}); polling", e.what());
          listener.reset();
        }
      }
      if (!producer_) {
        producer_ = std::make_unique<KafkaProducer>(producer_options_);
        warm_up_producer = true;
      }
      if (warm_up_producer) {
        // The first event after a takeover should not wait for the topics' metadata.
        if (!producer_->prefetch_metadata(all_topics(), kMetadataPrefetchTimeout)) {
          spdlog::warn("outbox relay: no metadata from Kafka at {} yet", options_.brokers);
        }
        warm_up_producer = false;
      }

      const auto round = publish_round(*session, *producer_, stop);
      if (auto fatal = producer_->fatal_error()) {
        spdlog::error("outbox relay: Kafka producer failed ({}); starting a new one", *fatal);
        producer_.reset();
      }
      // Stopping purges what is in flight; that is no broker failure to report.
      if (stop.stop_requested()) break;
      refresh_stats_when_due(*session);
      const auto now = SteadyClock::now();
      if (round.transient_failures > 0) {
        // Broker trouble: the rows stay, and the relay retries them ever more slowly.
        ready_ = false;
        const auto delay = backoff.next();
        spdlog::warn(
            "outbox relay: {} of {} events not acknowledged by Kafka ({}); retrying in {} ms",
            round.transient_failures + round.permanent_failures, round.claimed,
            describe(round.first_error), delay.count());
        sleep_unless_stopped(stop, delay);
        continue;
      }
      ready_ = true;
      if (round.permanent_failures > 0 && round.acked == 0) {
        // Only rows Kafka refused for good in this round: space their next tries as well.
        sleep_unless_stopped(stop, backoff.next());
        continue;
      }
      backoff.reset();
      if (options_.retention.count() > 0 && now >= next_retention) {
        const bool more = delete_expired(*session);
        next_retention = more ? now : now + options_.retention_interval;
      }
      // A full batch means more rows are probably waiting, and refused rows go again at once.
      if (!round.full && round.permanent_failures == 0) wait_for_work(listener, stop);
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
      clear_backlog_stats();
      // Reports still to come belong to a round that is over: drop them with the producer.
      if (producer_ && producer_->pending() > 0) producer_.reset();
      listener.reset();
      session.reset();
      sleep_unless_stopped(stop, backoff.next());
    }
  }
  producer_.reset();  // fails what is still pending; those rows stay unpublished
  listener.reset();
  session.reset();  // releases the lock
  active_ = false;
  ready_ = false;
  clear_backlog_stats();
}

bool OutboxRelay::try_take_lock(Session& session) {
  pqxx::nontransaction tx(*session.conn);
  // A session-level lock: held until this connection closes, whatever its transactions do.
  return tx.exec_params1("SELECT pg_try_advisory_lock($1)", kRelayLockKey)[0].as<bool>();
}

OutboxRelay::RoundResult OutboxRelay::publish_round(Session& session, KafkaProducer& producer,
                                                    const std::stop_token& stop) {
  const auto started = SteadyClock::now();
  const std::size_t limit = isolate_through_ ? 1 : options_.batch_size;
  const auto claimed = claim(session, limit);
  const auto& records = claimed.records;
  if (isolate_through_ && (records.empty() || records.front().id > *isolate_through_)) {
    isolate_through_.reset();  // past the rows that failed together
  }
  RoundResult result;
  result.claimed = records.size();
  result.full = records.size() == limit;
  if (records.empty()) {
    std::lock_guard lock(stats_mutex_);
    ++stats_.rounds;
    return result;
  }
  const auto claimed_at = SteadyClock::now();

  auto delivery = deliver(session, records, producer, stop);
  const auto delivered_at = SteadyClock::now();
  auto failed = delivery.failed;
  failed.insert(delivery.refused.begin(), delivery.refused.end());
  const auto settlement = settle_round(records, delivery.acked, failed);
  if (!settlement.mark.empty()) mark_published(session, settlement.mark);
  if (!settlement.unmarked.empty()) {
    spdlog::warn(
        "outbox relay: {} acknowledged events overtook a failed event of their key; they "
        "stay unpublished and go out again after it",
        settlement.unmarked.size());
  }
  const auto marked_at = SteadyClock::now();
  result.acked = delivery.acked.size();

  std::uint64_t parked = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto it = failed.find(records[i].id);
    if (it == failed.end()) continue;
    const auto& error = it->second;
    if (!result.first_error) result.first_error = error;
    if (classify_failure(error) == FailureKind::transient) {
      ++result.transient_failures;
      continue;
    }
    ++result.permanent_failures;
    // A refusal by produce() is the row's own, and so is a failure when the row went alone. In
    // a batch, though, the broker fails every message it carried with one partition's error:
    // those rows are tried once more one at a time before anything is counted against them.
    const bool refused = delivery.refused.contains(records[i].id);
    if (refused || delivery.produced == 1) {
      const auto reason =
          (refused ? "refused by the producer: " : "refused by Kafka: ") + describe(error);
      if (charge_attempt(session, records[i], claimed.attempts[i], reason)) ++parked;
    } else {
      isolate_through_ = std::max(isolate_through_.value_or(0), records[i].id);
    }
  }

  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  spdlog::debug("outbox relay: published {} of {} events (claim {} ms, delivery {} ms, mark {} ms)",
                settlement.mark.size(), records.size(),
                duration_cast<milliseconds>(claimed_at - started).count(),
                duration_cast<milliseconds>(delivered_at - claimed_at).count(),
                duration_cast<milliseconds>(marked_at - delivered_at).count());

  std::lock_guard lock(stats_mutex_);
  ++stats_.rounds;
  stats_.published += settlement.mark.size();
  stats_.unmarked += settlement.unmarked.size();
  stats_.parked_by_relay += parked;
  if (!settlement.mark.empty()) stats_.last_published_at = clock_.now();
  return result;
}

OutboxRelay::Claim OutboxRelay::claim(Session& session, std::size_t limit) {
  pqxx::nontransaction tx(*session.conn);
  const auto rows = tx.exec_prepared(kClaim, static_cast<std::int64_t>(limit));
  Claim claim;
  claim.records.reserve(rows.size());
  claim.attempts.reserve(rows.size());
  for (const auto& row : rows) {
    claim.records.push_back(OutboxRecord{
        .id = row[0].as<std::int64_t>(),
        .event_id = row[1].c_str(),
        .aggregate_type = row[2].c_str(),
        .aggregate_id = row[3].c_str(),
        .event_type = row[4].c_str(),
        .payload = row[5].c_str(),
        .occurred_at = row[6].c_str(),
    });
    claim.attempts.push_back(row[7].as<int>());
  }
  return claim;
}

OutboxRelay::Delivery OutboxRelay::deliver(Session& session,
                                           const std::vector<OutboxRecord>& records,
                                           KafkaProducer& producer, const std::stop_token& stop) {
  Delivery delivery;
  delivery.acked.reserve(records.size());
  std::uint64_t errors = 0;
  auto note_error = [&](std::int64_t id, const std::error_code& error,
                        std::map<std::int64_t, std::error_code>& into) {
    if (!is_purge(error)) ++errors;
    into.emplace(id, error);
  };

  // In id order: the idempotent producer keeps that order within each partition. Once
  // produce() refuses a row, the later rows of its aggregate wait for a later round, so that
  // they never reach Kafka ahead of it.
  std::set<std::pair<std::string, std::string>> refused_aggregates;
  for (const auto& record : records) {
    if (!refused_aggregates.empty() &&
        refused_aggregates.contains({record.aggregate_type, record.aggregate_id})) {
      continue;
    }
    if (auto error =
            producer.produce(to_cloud_event(record), static_cast<std::uint64_t>(record.id))) {
      note_error(record.id, error, delivery.refused);
      refused_aggregates.insert({record.aggregate_type, record.aggregate_id});
    } else {
      ++delivery.produced;
    }
  }

  // librdkafka reports every accepted message within message.timeout.ms; the deadline only
  // guards against a report that never comes. Stopping purges the rest, which stay unmarked.
  const auto waiting_since = SteadyClock::now();
  const auto deadline = waiting_since + options_.delivery_timeout + 5s;
  std::optional<SteadyClock::time_point> purged_at;
  bool stalled = false;
  while (producer.pending() > 0) {
    const auto now = SteadyClock::now();
    if (!stalled && now - waiting_since > options_.stall_after) {
      stalled = true;
      ready_ = false;
    }
    // A broker that is down holds the round until the delivery timeout; the backlog it
    // leaves is what an operator wants to see meanwhile.
    if (stalled) refresh_stats_when_due(session);
    if (!purged_at && (stop.stop_requested() || now > deadline)) {
      producer.purge();
      purged_at = now;
    }
    if (purged_at && now - *purged_at > 5s) {
      spdlog::error("outbox relay: {} delivery reports missing after purge", producer.pending());
      break;
    }
    for (const auto& report : producer.poll(50ms)) {
      const auto id = static_cast<std::int64_t>(report.tag);
      if (report.ok()) {
        delivery.acked.push_back(id);
      } else {
        note_error(id, report.error, delivery.failed);
      }
    }
  }
  std::lock_guard lock(stats_mutex_);
  stats_.produce_errors += errors;
  return delivery;
}

void OutboxRelay::mark_published(Session& session, const std::vector<std::int64_t>& ids) {
  // A single statement commits on its own: no BEGIN and COMMIT round trips.
  pqxx::nontransaction tx(*session.conn);
  tx.exec_prepared(kMark, array_literal(ids));
}

bool OutboxRelay::charge_attempt(Session& session, const OutboxRecord& record, int attempts,
                                 const std::string& reason) {
  pqxx::nontransaction tx(*session.conn);
  const auto rows = tx.exec_prepared(kCharge, record.id, reason, options_.max_attempts);
  const bool parked = !rows.empty() && rows[0][0].as<bool>();
  if (parked) {
    spdlog::error(
        "outbox relay: parked event {} (row {}, {} {}) after {} tries: {}; the later events of "
        "{} wait until it is requeued or deleted",
        record.event_id, record.id, record.aggregate_type, record.aggregate_id, attempts + 1,
        reason, record.aggregate_id);
  } else {
    spdlog::warn("outbox relay: event {} (row {}, try {} of {}) {}", record.event_id, record.id,
                 attempts + 1, options_.max_attempts, reason);
  }
  return parked;
}

void OutboxRelay::refresh_stats_when_due(Session& session) {
  const auto now = SteadyClock::now();
  if (now < next_stats_) return;
  next_stats_ = now + options_.stats_interval;
  pqxx::nontransaction tx(*session.conn);
  const auto row = tx.exec_prepared1(kStats, kBacklogExactCount);
  auto backlog = row[0].as<std::uint64_t>();
  if (backlog == static_cast<std::uint64_t>(kBacklogExactCount) && !row[1].is_null()) {
    backlog = std::max(backlog, row[1].as<std::uint64_t>());
  }
  std::lock_guard lock(stats_mutex_);
  stats_.backlog = backlog;
  stats_.oldest_unpublished =
      row[2].is_null() ? std::nullopt : std::optional(from_epoch_seconds(row[2].as<double>()));
  stats_.parked = row[3].as<std::uint64_t>();
}

void OutboxRelay::clear_backlog_stats() {
  std::lock_guard lock(stats_mutex_);
  stats_.backlog = 0;
  stats_.parked = 0;
  stats_.oldest_unpublished.reset();
}

bool OutboxRelay::delete_expired(Session& session) {
  const auto started = SteadyClock::now();
  const auto retention = static_cast<double>(options_.retention.count());
  const auto batch = static_cast<std::int64_t>(options_.retention_batch);
  std::uint64_t deleted = 0;
  bool more = true;
  while (more && SteadyClock::now() - started < kRetentionBudget) {
    pqxx::nontransaction tx(*session.conn);
    const auto n = tx.exec_prepared(kDeleteExpired, retention, batch).affected_rows();
    deleted += n;
    more = static_cast<std::int64_t>(n) == batch;
  }
  if (deleted > 0) {
    spdlog::info("outbox relay: deleted {} published events older than {} s", deleted,
                 options_.retention.count());
    std::lock_guard lock(stats_mutex_);
    stats_.deleted += deleted;
  }
  return more;
}

void OutboxRelay::wait_for_work(std::unique_ptr<Listener>& listener, const std::stop_token& stop) {
  const auto deadline = SteadyClock::now() + options_.poll_interval;
  while (!stop.stop_requested()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left <= 0ms) return;
    const auto slice = std::min(left, kStopCheck);
    if (!listener) {
      sleep_unless_stopped(stop, slice);
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
