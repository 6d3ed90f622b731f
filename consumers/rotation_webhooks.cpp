#include "consumers/rotation_webhooks.hpp"

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "consumers/rotation_delivery_queue.hpp"
#include "consumers/webhook_client.hpp"

namespace keyflow {

void RotationWebhooks::run(std::stop_token stop) {
  // HTTP on one I/O thread; database work on this one.
  boost::asio::io_context io(1);
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  {
    WebhookClient::Options client_options;
    client_options.timeout = options_.sender.request_timeout;
    client_options.destinations = options_.destinations;
    client_options.ca_file = options_.ca_file;
    // Enough kept-alive connections for every delivery in flight, however many share a host.
    client_options.max_idle_per_host = options_.sender.max_in_flight;
    WebhookClient client(io.get_executor(), client_options);
    RotationDeliveryQueue queue(pool_, keyring_);
    DeliverySender sender(queue, client, clock_, options_.sender);
    try {
      sender.run(stop);
    } catch (const std::exception& e) {
      spdlog::error("rotation webhooks: sender stopped: {}", e.what());
    }
    // Stop the I/O before the client, whose pooled connections belong to io, goes away.
    work.reset();
    io.stop();
    io_thread.join();
  }
}

}  // namespace keyflow
