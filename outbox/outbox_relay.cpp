#include "outbox/outbox_relay.hpp"

#include <algorithm>
#include <condition_variable>
#include <set>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include <spdlog/spdlog.h>

#include "engine/core/backoff.hpp"
#include "engine/core/interruptible_wait.hpp"
#include "engine/core/time_format.hpp"
#include "outbox/kafka_error.hpp"
#include "outbox/outbox_relay_round.hpp"
#include "outbox/outbox_relay_store.hpp"
#include "outbox/topics.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kStopCheck = 200ms;
constexpr std::chrono::milliseconds kInitialBackoff = 200ms;
// The backlog is counted exactly up to here; beyond, it is estimated from the id range, so
// that counting stays cheap however large the backlog grows.
constexpr std::int64_t kBacklogExactCount = 10000;
// Short: a broker that is down must not hold up the relay (or its stopping) for long.
constexpr std::chrono::milliseconds kMetadataPrefetchTimeout = 500ms;
// Deleting rows past retention gets at most this much of the relay's time at once.
constexpr std::chrono::milliseconds kRetentionBudget = 100ms;

}  // namespace

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
  producer_options_.compression = options_.compression;
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
  std::unique_ptr<RelaySession> session;
  std::unique_ptr<OutboxListener> listener;
  Backoff backoff(kInitialBackoff, options_.max_backoff);
  bool standby_announced = false;
  bool warm_up_producer = true;
  SteadyClock::time_point next_retention{};

  while (!stop.stop_requested()) {
    try {
      if (!session) session = std::make_unique<RelaySession>(options_.database_url);
      if (!active_) {
        if (!session->try_take_lock()) {
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
        retention_cursor_ = 0;
        next_stats_ = next_retention = SteadyClock::now();
        spdlog::info("outbox relay: took the relay lock; publishing to {}", options_.brokers);
        warm_up_producer = true;
      }
      prepare_round(listener, warm_up_producer);

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
            describe_kafka_error(round.first_error), delay.count());
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
      // A round read ahead missed what committed after it was read, and the notifications of
      // those commits may be drained already: look again before waiting.
      if (!round.full && !round.read_ahead && round.permanent_failures == 0) {
        wait_for_work(listener, stop);
      }
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

// LISTEN before claiming, so that a row committed during the round still wakes the wait; a
// producer that failed is replaced, and a new one warmed up.
void OutboxRelay::prepare_round(std::unique_ptr<OutboxListener>& listener, bool& warm_up_producer) {
  if (!listener) {
    try {
      listener = std::make_unique<OutboxListener>(options_.database_url);
    } catch (const std::exception& e) {
      spdlog::warn("outbox relay: cannot LISTEN ({}); polling only", e.what());
    }
  }
  if (listener) {
    // Notifications already here are for commits this round's claim sees anyway. Reading
    // them also keeps a long drain (no waits between full rounds) from leaving them to
    // pile up in PostgreSQL's notification queue.
    try {
      listener->drain();
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
}

OutboxRelay::RoundResult OutboxRelay::publish_round(RelaySession& session, KafkaProducer& producer,
                                                    const std::stop_token& stop) {
  const auto started = SteadyClock::now();
  const std::size_t limit = isolate_through_ ? 1 : options_.batch_size;
  const bool was_read_ahead = session.has_read_ahead();
  const auto claimed = session.claim(limit);
  const auto& records = claimed.records;
  if (isolate_through_ && (records.empty() || records.front().id > *isolate_through_)) {
    isolate_through_.reset();  // past the rows that failed together
  }
  RoundResult result;
  result.read_ahead = was_read_ahead;
  result.claimed = records.size();
  result.full = records.size() == limit;
  if (records.empty()) {
    std::lock_guard lock(stats_mutex_);
    ++stats_.rounds;
    return result;
  }
  const auto claimed_at = SteadyClock::now();

  // A full batch: more rows are probably waiting, so they are read while this round's go out.
  const bool read_ahead = result.full && !isolate_through_;
  auto delivery = deliver(session, records, producer, stop, read_ahead);
  const auto delivered_at = SteadyClock::now();
  auto failed = delivery.failed;
  failed.insert(delivery.refused.begin(), delivery.refused.end());
  // What was read ahead may hold later events of a key whose event failed here (or whose
  // report never came).
  if (read_ahead && delivery.acked.size() != records.size()) session.drop_read_ahead();
  const auto settlement = settle_round(records, delivery.acked, failed);
  if (!settlement.mark.empty()) session.mark_published(settlement.mark);
  if (options_.publish_latency != nullptr) observe_latency(records, settlement.mark);
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
      const auto reason = (refused ? "refused by the producer: " : "refused by Kafka: ") +
                          describe_kafka_error(error);
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

void OutboxRelay::observe_latency(const std::vector<OutboxRecord>& records,
                                  const std::vector<std::int64_t>& marked) const {
  const auto now = clock_.now();
  const std::unordered_set<std::int64_t> published(marked.begin(), marked.end());
  for (const auto& record : records) {
    if (!published.contains(record.id)) continue;
    if (const auto occurred = parse_timestamp(record.occurred_at)) {
      options_.publish_latency->observe(
          std::max(0.0, std::chrono::duration<double>(now - *occurred).count()));
    }
  }
}

OutboxRelay::Delivery OutboxRelay::deliver(RelaySession& session,
                                           const std::vector<OutboxRecord>& records,
                                           KafkaProducer& producer, const std::stop_token& stop,
                                           bool read_ahead) {
  Delivery delivery;
  delivery.acked.reserve(records.size());
  std::uint64_t errors = 0;
  auto note_error = [&](std::int64_t id, const std::error_code& error,
                        std::map<std::int64_t, std::error_code>& into) {
    if (!is_purged(error)) ++errors;
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
  if (read_ahead) {
    std::vector<std::int64_t> in_flight;
    in_flight.reserve(records.size());
    for (const auto& record : records)
      in_flight.push_back(record.id);
    session.read_ahead(records.size(), std::move(in_flight));
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

bool OutboxRelay::charge_attempt(RelaySession& session, const OutboxRecord& record, int attempts,
                                 const std::string& reason) {
  const bool parked = session.charge_attempt(record.id, reason, options_.max_attempts);
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

void OutboxRelay::refresh_stats_when_due(RelaySession& session) {
  const auto now = SteadyClock::now();
  if (now < next_stats_) return;
  next_stats_ = now + options_.stats_interval;
  const auto backlog = session.count_backlog(kBacklogExactCount);
  std::lock_guard lock(stats_mutex_);
  stats_.backlog = backlog.unpublished;
  stats_.oldest_unpublished = backlog.oldest_unpublished;
  stats_.parked = backlog.parked;
}

void OutboxRelay::clear_backlog_stats() {
  std::lock_guard lock(stats_mutex_);
  stats_.backlog = 0;
  stats_.parked = 0;
  stats_.oldest_unpublished.reset();
}

bool OutboxRelay::delete_expired(RelaySession& session) {
  const auto started = SteadyClock::now();
  const auto retention = static_cast<double>(options_.retention.count());
  const auto batch = static_cast<std::int64_t>(options_.retention_batch);
  std::uint64_t deleted = 0;
  bool more = true;
  while (more && SteadyClock::now() - started < kRetentionBudget) {
    const auto expired = session.delete_expired(retention_cursor_, retention, batch);
    deleted += expired.deleted;
    more = expired.more;
    // A run that ends starts the next from the head again, where rows stepped over wait.
    retention_cursor_ = more ? expired.last_id : 0;
  }
  if (deleted > 0) {
    spdlog::info("outbox relay: deleted {} published events older than {} s", deleted,
                 options_.retention.count());
    std::lock_guard lock(stats_mutex_);
    stats_.deleted += deleted;
  }
  return more;
}

void OutboxRelay::wait_for_work(std::unique_ptr<OutboxListener>& listener,
                                const std::stop_token& stop) {
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
      if (listener->await(static_cast<long>(micros))) return;
    } catch (const std::exception& e) {
      // Polling covers for it; the next round opens a new listener.
      spdlog::warn("outbox relay: LISTEN connection failed ({}); polling", e.what());
      listener.reset();
    }
  }
}

}  // namespace keyflow
