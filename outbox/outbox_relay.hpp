#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/metrics.hpp"
#include "outbox/kafka_producer.hpp"
#include "outbox/outbox_record.hpp"

namespace keyflow {

class RelaySession;
class OutboxListener;

struct RelayOptions {
  std::string database_url{};
  std::string brokers{};
  // Rows claimed, produced and marked per round (bench/relay: 5000 drains fastest; 2000 and
  // 10000 were slower or no faster).
  std::size_t batch_size = 5000;
  // How often to look for rows when no notification arrives.
  std::chrono::milliseconds poll_interval{500};
  // How long the producer waits for more messages before sending a batch. A round hands over
  // its whole batch at once, so waiting longer would only add to every round's latency.
  std::chrono::milliseconds linger{1};
  // Bound on one message's delivery (librdkafka's message.timeout.ms), hence on one round.
  std::chrono::milliseconds delivery_timeout{30000};
  // A round that waits longer than this for Kafka's acknowledgements makes the relay not ready
  // while it waits.
  std::chrono::milliseconds stall_after{5000};
  // How often a standby relay tries to take the lock.
  std::chrono::milliseconds standby_retry{1000};
  // Cap of the exponential backoff after a failed round or a database error.
  std::chrono::milliseconds max_backoff{5000};
  // Tries of a row whose message Kafka refuses for good before the row is parked.
  int max_attempts = 5;
  // How often the active relay counts its backlog and the parked rows (for stats()).
  std::chrono::milliseconds stats_interval{1000};
  // Published rows are deleted once published longer ago than this, by PostgreSQL's clock
  // (the one that sets published_at); zero keeps them.
  std::chrono::seconds retention{std::chrono::hours(24 * 7)};
  // How often the active relay looks for rows past retention, and how many it deletes per
  // statement.
  std::chrono::milliseconds retention_interval{60000};
  std::size_t retention_batch = 1000;
  // The producer's compression.type (ProducerOptions::compression).
  std::string compression = "none";
  // Further librdkafka properties for the relay's producer (they win over its own).
  std::map<std::string, std::string> producer_overrides{};
  // When set, each published event's time from its change (occurred_at) to Kafka's
  // acknowledgement, in seconds (relay_metrics.hpp).
  Metrics::Histogram* publish_latency = nullptr;
};

struct RelayStats {
  std::uint64_t published = 0;        // rows this relay marked published
  std::uint64_t produce_errors = 0;   // messages refused or failed by Kafka
  std::uint64_t rounds = 0;           // publish rounds finished, empty ones included
  std::uint64_t parked_by_relay = 0;  // rows this relay parked
  std::uint64_t deleted = 0;          // published rows this relay deleted after retention
  // Acknowledged rows left unpublished because an earlier row of their aggregate failed in
  // the same round (they are sent again after it; see settle_round()).
  std::uint64_t unmarked = 0;
  // From the active relay's last count, every stats_interval; zero on a standby.
  // Unpublished rows, parked ones aside: exact up to 10000, estimated from the ids beyond.
  std::uint64_t backlog = 0;
  std::uint64_t parked = 0;                     // parked rows, by whichever relay
  std::optional<TimePoint> oldest_unpublished;  // occurred_at of the first unpublished row
  std::optional<TimePoint> last_published_at;   // by the relay's clock
};

// Publishes outbox rows to Kafka, at least once and in id order per aggregate. Among relays on
// one database only the holder of a PostgreSQL advisory lock publishes; the others stand by and
// take over when its session ends. A row is marked published only once Kafka acknowledged it.
// A row Kafka refuses for good is parked after max_attempts tries, and holds back the later
// rows of its aggregate until an operator requeues or deletes it (schemas/sql/004).
class OutboxRelay {
 public:
  OutboxRelay(RelayOptions options, const Clock& clock);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Blocks until stop is requested (returning within about 200 ms of it).
  void run(std::stop_token stop);

  // The database session is up and, when active, Kafka acknowledges what the relay sends.
  bool ready() const { return ready_.load(); }
  // This relay holds the lock and is the one publishing.
  bool active() const { return active_.load(); }
  RelayStats stats() const;

 private:
  struct RoundResult {
    bool full = false;        // as many rows as asked for: more are probably waiting
    bool read_ahead = false;  // its rows were read while the round before went out
    std::size_t claimed = 0;
    std::size_t acked = 0;
    std::size_t transient_failures = 0;
    std::size_t permanent_failures = 0;
    std::error_code first_error{};
  };
  struct Delivery {
    std::vector<std::int64_t> acked;
    std::map<std::int64_t, std::error_code> failed;
    std::map<std::int64_t, std::error_code> refused;  // by produce(), so never sent
    std::size_t produced = 0;
  };

  void prepare_round(std::unique_ptr<OutboxListener>& listener, bool& warm_up_producer);
  RoundResult publish_round(RelaySession& session, KafkaProducer& producer,
                            const std::stop_token& stop);
  // Produces the round's records and waits for their reports; with read_ahead, the session
  // claims the next round's rows meanwhile.
  Delivery deliver(RelaySession& session, const std::vector<OutboxRecord>& records,
                   KafkaProducer& producer, const std::stop_token& stop, bool read_ahead);
  void observe_latency(const std::vector<OutboxRecord>& records,
                       const std::vector<std::int64_t>& marked) const;
  // Counts a refusal against the row; returns whether that parked it.
  bool charge_attempt(RelaySession& session, const OutboxRecord& record, int attempts,
                      const std::string& reason);
  // Counts the backlog and the parked rows when stats_interval has passed since the last count.
  void refresh_stats_when_due(RelaySession& session);
  void clear_backlog_stats();
  bool delete_expired(RelaySession& session);
  void wait_for_work(std::unique_ptr<OutboxListener>& listener, const std::stop_token& stop);

  RelayOptions options_;
  const Clock& clock_;
  ProducerOptions producer_options_;
  std::unique_ptr<KafkaProducer> producer_;  // used by run() only
  // Where the running retention pass goes on (0: from the head of the table).
  std::int64_t retention_cursor_ = 0;
  // Rows up to this id failed together in a batch with a permanent error: they are produced
  // one per round until the relay is past them, so that each failure is the row's own.
  std::optional<std::int64_t> isolate_through_;
  std::chrono::steady_clock::time_point next_stats_{};
  std::atomic<bool> ready_{false};
  std::atomic<bool> active_{false};
  mutable std::mutex stats_mutex_;
  RelayStats stats_;
};

}  // namespace keyflow
