#include "consumers/webhook_deliverer.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "consumers/cloud_event.hpp"
#include "consumers/delivery_retention.hpp"
#include "consumers/delivery_sender.hpp"
#include "consumers/first_attempt_fanout.hpp"
#include "consumers/kafka_consumer.hpp"
#include "consumers/webhook_backlog_gauges.hpp"
#include "consumers/webhook_client.hpp"
#include "consumers/webhook_delivery_queue.hpp"
#include "engine/core/backoff.hpp"
#include "engine/core/interruptible_wait.hpp"

namespace keyflow {
namespace {

constexpr std::chrono::milliseconds kPollTimeout{200};

// Enough messages per transaction that the commit and the round trips are shared widely, few
// enough that one transaction stays small.
constexpr std::size_t kMaxBatch = 1000;

// Runs step until it succeeds, retrying while the database is unreachable: the offsets must
// not move past events whose deliveries are not written. False when stopped first.
template <class Step>
bool durably(const char* what, const std::vector<CloudEvent>& events, std::stop_token& stop,
             Step&& step) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
  for (;;) {
    try {
      step();
      return true;
    } catch (const std::exception& e) {
      const auto delay = backoff.next();
      spdlog::warn("deliver: {} of {} events (the first {}) failed, retrying in {} ms: {}", what,
                   events.size(), events.front().id, delay.count(), e.what());
      if (!sleep_unless_stopped(stop, delay)) return false;
    }
  }
}

// A batch of messages whose events' first attempts are on their way.
struct StartedBatch {
  std::vector<KafkaMessage> messages;
  std::vector<CloudEvent> events;
  std::shared_ptr<FirstAttemptFanout::Batch> batch;  // null when no event parsed
};

std::vector<CloudEvent> parse_events(const std::vector<KafkaMessage>& messages) {
  std::vector<CloudEvent> events;
  events.reserve(messages.size());
  for (const auto& message : messages) {
    std::string error;
    if (auto event = parse_cloud_event(message, error)) {
      events.push_back(std::move(*event));
    } else {
      // A message that can never be delivered must not block its partition.
      spdlog::error("deliver: skipping {}[{}]@{}: {}", message.topic, message.partition,
                    message.offset, error);
    }
  }
  return events;
}

// Writes the batch's deliveries. False when stopped first (then its offsets stay: its events
// are consumed again, and their first attempts sent again under the same webhook-ids).
bool write(FirstAttemptFanout& fanout, StartedBatch& started, std::stop_token stop) {
  if (!started.batch) return true;
  FirstAttemptFanout::Result result;
  if (!durably("the fan-out", started.events, stop,
               [&] { result = fanout.finish(*started.batch); })) {
    return false;
  }
  spdlog::debug("deliver: {} events -> {} new deliveries of {} matches, {} sent at once",
                started.events.size(), result.written, result.matched, result.sent);
  return true;
}

void commit(KafkaConsumer& consumer, const std::vector<KafkaMessage>& messages) {
  if (const auto ec = consumer.commit(messages)) {
    // The deliveries exist; consuming the events again will find them and add nothing.
    spdlog::warn("deliver: commit of {} messages failed: {}", messages.size(), ec.message());
  }
}

// A pipeline of three batches: the newest ones' first attempts are sent while the oldest is
// written on a thread of its own, and offsets are committed in the order the batches were
// consumed, each once its batch is written.
void consume(KafkaConsumer& consumer, FirstAttemptFanout& fanout, std::stop_token stop) {
  std::deque<StartedBatch> started;  // first attempts on their way
  std::optional<StartedBatch> writing;
  std::future<bool> written;  // writing's write()
  // The writer stops with the caller, and when consuming fails: a future's destructor waits
  // for its thread, whose write retries until stopped.
  std::stop_source writer_stop;
  std::stop_callback forward(stop, [&writer_stop] { writer_stop.request_stop(); });
  struct StopWriterOnFailure {
    std::stop_source& source;
    ~StopWriterOnFailure() {
      if (std::uncaught_exceptions() > 0) source.request_stop();
    }
  } guard{writer_stop};
  // Waits for the batch being written and commits it. False when it was stopped first.
  const auto committed = [&] {
    const bool ok = written.get();
    if (ok) commit(consumer, writing->messages);
    writing.reset();
    return ok;
  };
  while (!stop.stop_requested()) {
    if (written.valid() && written.wait_for(std::chrono::seconds(0)) == std::future_status::ready &&
        !committed()) {
      return;
    }
    std::vector<KafkaMessage> messages;
    if (started.size() < 2) {
      const bool idle = started.empty() && !written.valid();
      messages = consumer.poll_batch(kMaxBatch, idle ? kPollTimeout : std::chrono::milliseconds(0));
    }
    const bool polled = !messages.empty();
    if (polled) {
      StartedBatch next{std::move(messages), {}, nullptr};
      next.events = parse_events(next.messages);
      if (!next.events.empty() && !durably("the fan-out", next.events, stop,
                                           [&] { next.batch = fanout.start(next.events); })) {
        break;
      }
      started.push_back(std::move(next));
    }
    if (!written.valid() && !started.empty()) {
      auto& oldest = started.front();
      if (!polled || started.size() >= 2 || (oldest.batch && fanout.finished(*oldest.batch))) {
        writing = std::move(oldest);
        started.pop_front();
        written = std::async(std::launch::async,
                             [&fanout, token = writer_stop.get_token(), &batch = *writing] {
                               return write(fanout, batch, token);
                             });
        continue;
      }
    }
    // Nothing new, or as much started as may be: wait for the write.
    if (!polled && written.valid() && !committed()) return;
  }
  // Stopping: what was sent is written, in one try each (the sender records what finishes
  // later, or hands its lease back).
  if (written.valid() && !committed()) return;
  for (auto& batch : started) {
    if (!write(fanout, batch, stop)) return;
    commit(consumer, batch.messages);
  }
}

}  // namespace

WebhookDeliverer::WebhookDeliverer(DeliverOptions options, const Keyring& keyring,
                                   const Clock& clock)
    : options_(std::move(options)),
      keyring_(keyring),
      clock_(clock),
      pool_(options_.database_url, 6) {
  ConsumerOptions consumer_options;
  consumer_options.bootstrap_servers = options_.brokers;
  consumer_options.group_id = options_.group_id;
  consumer_options.topics = options_.topics;
  consumer_options.client_id = "keyflow-deliver";
  consumer_options.fetch_wait = std::chrono::milliseconds(50);
  consumer_options.overrides = options_.kafka_overrides;
  consumer_ = std::make_unique<KafkaConsumer>(consumer_options);
  // Registered now, so that /metrics shows them from the start.
  if (options_.metrics) metrics_.emplace(*options_.metrics, "deliver");
}

WebhookDeliverer::~WebhookDeliverer() = default;

void WebhookDeliverer::run(std::stop_token stop) {
  if (!consumer_) throw std::logic_error("WebhookDeliverer::run: called twice");
  auto& consumer = *consumer_;

  // HTTP on one I/O thread; database work on the consuming and the sending thread.
  boost::asio::io_context io(1);
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  std::exception_ptr failure;
  {
    WebhookClient::Options client_options;
    client_options.timeout = options_.request_timeout;
    client_options.destinations = options_.destinations;
    client_options.ca_file = options_.ca_file;
    // Enough kept-alive connections for every delivery in flight, however many share a host.
    client_options.max_idle_per_host = options_.max_in_flight;
    WebhookClient client(io.get_executor(), client_options);

    SenderOptions sender_options;
    sender_options.retry = options_.retry;
    sender_options.request_timeout = options_.request_timeout;
    sender_options.max_in_flight = options_.max_in_flight;
    sender_options.max_in_flight_per_subscription = options_.max_in_flight_per_subscription;
    sender_options.poll_interval = options_.poll_interval;
    if (metrics_) sender_options.metrics = &*metrics_;
    WebhookDeliveryQueue queue(pool_, keyring_, options_.disable_after);
    DeliverySender sender(queue, client, clock_, sender_options);
    FirstAttemptFanout::Options fanout_options;
    fanout_options.lease = options_.request_timeout + std::chrono::seconds(30);
    fanout_options.disable_after = options_.disable_after;
    FirstAttemptFanout fanout(pool_, keyring_, sender, clock_, fanout_options);

    // The sender stops once consuming has stopped (asked to, or failing): not before, because
    // the batches consuming writes on its way out hand their attempts still in flight to the
    // sender, which records them or hands their leases back.
    std::stop_source sending_stop;
    std::thread sending([&sender, token = sending_stop.get_token()] {
      try {
        sender.run(token);
      } catch (const std::exception& e) {
        spdlog::error("deliver: sender stopped: {}", e.what());
      }
    });
    DeliveryRetention retention(pool_, clock_, options_.retention);
    std::jthread pruning;
    if (options_.retention.count() > 0) {
      pruning =
          std::jthread([&retention, interval = options_.retention_interval,
                        token = sending_stop.get_token()] { retention.run(token, interval); });
    }
    std::jthread backlog;
    if (options_.metrics) {
      backlog =
          std::jthread([gauges = std::make_shared<WebhookBacklogGauges>(pool_, *options_.metrics),
                        interval = options_.backlog_interval,
                        token = sending_stop.get_token()] { gauges->run(token, interval); });
    }
    spdlog::info("deliver: consuming {} as group {}", fmt::join(options_.topics, ","),
                 options_.group_id);
    try {
      consume(consumer, fanout, stop);
    } catch (...) {
      failure = std::current_exception();
    }
    consumer_.reset();  // leaves the group: its partitions go to the other deliverers now
    sending_stop.request_stop();
    sending.join();
    if (pruning.joinable()) pruning.join();
    if (backlog.joinable()) backlog.join();
    // Stop the I/O before the client, whose pooled connections belong to io, goes away.
    work.reset();
    io.stop();
    io_thread.join();
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace keyflow
