#include "consumers/webhook_deliverer.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "consumers/cloud_event.hpp"
#include "consumers/delivery_fanout.hpp"
#include "consumers/delivery_retention.hpp"
#include "consumers/delivery_sender.hpp"
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

// Fans a batch of events out, retrying while the database is unreachable: the offsets must not
// move past events whose deliveries are not written. False when stopped first.
bool fan_out_durably(DeliveryFanout& fanout, const std::vector<CloudEvent>& events,
                     std::stop_token& stop) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
  for (;;) {
    try {
      const auto result = fanout.fan_out(events);
      spdlog::debug("deliver: {} events -> {} new deliveries of {} matches", events.size(),
                    result.created, result.matched);
      return true;
    } catch (const std::exception& e) {
      const auto delay = backoff.next();
      spdlog::warn("deliver: fan-out of {} events (the first {}) failed, retrying in {} ms: {}",
                   events.size(), events.front().id, delay.count(), e.what());
      if (!sleep_unless_stopped(stop, delay)) return false;
    }
  }
}

void consume(KafkaConsumer& consumer, DeliveryFanout& fanout, DeliverySender& sender,
             std::stop_token stop) {
  while (!stop.stop_requested()) {
    const auto batch = consumer.poll_batch(kMaxBatch, kPollTimeout);
    if (batch.empty()) continue;
    std::vector<CloudEvent> events;
    events.reserve(batch.size());
    for (const auto& message : batch) {
      std::string error;
      if (auto event = parse_cloud_event(message, error)) {
        events.push_back(std::move(*event));
      } else {
        // A message that can never be delivered must not block its partition.
        spdlog::error("deliver: skipping {}[{}]@{}: {}", message.topic, message.partition,
                      message.offset, error);
      }
    }
    if (!events.empty()) {
      if (!fan_out_durably(fanout, events, stop)) return;
      sender.wake();
    }
    if (const auto ec = consumer.commit(batch)) {
      // The deliveries exist; consuming the events again will find them and add nothing.
      spdlog::warn("deliver: commit of {} messages failed: {}", batch.size(), ec.message());
    }
  }
}

}  // namespace

WebhookDeliverer::WebhookDeliverer(DeliverOptions options, const Keyring& keyring,
                                   const Clock& clock)
    : options_(std::move(options)),
      keyring_(keyring),
      clock_(clock),
      pool_(options_.database_url, 4) {
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
    DeliveryFanout fanout(pool_, clock_);

    // The sender stops with the caller, and also when consuming fails.
    std::stop_source sending_stop;
    std::stop_callback forward(stop, [&sending_stop] { sending_stop.request_stop(); });
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
      consume(consumer, fanout, sender, stop);
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
