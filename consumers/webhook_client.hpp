#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {

struct WebhookRequest {
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct WebhookResponse {
  // What the delivery log keeps of a response body.
  static constexpr std::size_t kKeptBodyBytes = 20000;

  int status_code = 0;  // 0 when no HTTP response arrived
  std::chrono::milliseconds latency{0};
  std::string error;        // why no response arrived; empty when one did
  std::string body;         // the response body's first kKeptBodyBytes
  std::string retry_after;  // the Retry-After header as sent, when there was one
  bool succeeded() const { return error.empty() && status_code >= 200 && status_code < 300; }
  // As an attempt's row records them: NULL when there was no HTTP status, or no error.
  std::optional<int> recorded_status() const {
    return status_code != 0 ? std::optional<int>(status_code) : std::nullopt;
  }
  std::optional<std::string> recorded_error() const {
    return error.empty() ? std::nullopt : std::optional<std::string>(error);
  }
  std::optional<std::string> recorded_body() const {
    return status_code != 0 ? std::optional<std::string>(body) : std::nullopt;
  }
};

// POSTs webhooks over HTTP/1.1 with Beast: one deadline for the whole exchange (resolve,
// connect, TLS handshake, write, read), HTTPS with certificate and host name verification, the
// destination policy checked on every resolved address before connecting, and kept-alive
// connections reused per scheme, host and port. Redirects are not followed: a 3xx is a failed
// delivery, so that a receiver cannot bounce us to an internal address.
//
// Thread-safe. Completions run on the executor. Destroy the client before its io_context.
class WebhookClient {
 public:
  struct Options {
    std::chrono::milliseconds timeout{30000};
    DestinationPolicy destinations;  // which resolved addresses may be connected to
    std::size_t max_response_body = 64 * 1024;
    std::size_t max_idle_per_host = 16;
    std::chrono::milliseconds idle_timeout{30000};
    std::string ca_file;  // extra trust anchors (PEM), beside the system's default paths
  };

  WebhookClient(boost::asio::any_io_executor executor, Options options);
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // Never throws for network or HTTP failures: they come back in WebhookResponse::error.
  boost::asio::awaitable<WebhookResponse> post(WebhookRequest request);

  // The same for callers outside coroutines; done runs on the executor.
  void post(WebhookRequest request, std::function<void(WebhookResponse)> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace keyflow
