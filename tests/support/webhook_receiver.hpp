#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace keyflow::test {

struct ReceivedRequest {
  std::string method;                          // "POST"
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::chrono::steady_clock::time_point received_at;

  // The header's value, "" when absent; name in any case.
  std::string header(std::string_view name) const;
};

// A webhook endpoint for tests: a Beast HTTP/1.1 server on 127.0.0.1 and an ephemeral port, on
// its own thread, that records every request (keep-alive supported) and answers 200 unless told
// otherwise.
//
//   WebhookReceiver receiver;
//   receiver.fail_next(2);                      // 500, 500, then 200
//   subscribe(receiver.url());                  // http://127.0.0.1:<port>/hooks
//   ASSERT_TRUE(receiver.wait_for(3, std::chrono::seconds(10)));
//   receiver.requests()[0].header("webhook-id");
class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/hooks") const;

  // The next n requests are answered with status, the ones after them with 200 again (or what
  // set_status chose).
  void fail_next(int n, unsigned status = 500);
  // The answer to every request from now on, after the fail_next ones.
  void set_status(unsigned status);
  // How long each answer waits before it is sent (timeouts, slow receivers).
  void set_delay(std::chrono::milliseconds delay);
  // Every answer from now on carries this body (instead of {"ok":...}) and these headers.
  void set_answer(std::string body, std::map<std::string, std::string> headers = {});

  // True as soon as at least n requests have arrived (since construction or the last clear());
  // false after timeout.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;

  std::vector<ReceivedRequest> requests() const;
  std::size_t count() const;
  // TCP connections accepted so far: fewer than requests() when clients keep them alive.
  std::size_t connections() const;
  // Forgets the requests received so far (the connection count stays).
  void clear();

 private:
  struct Server;
  friend struct Server;

  // What to answer to the request just received, which it records.
  struct Answer {
    unsigned status;
    std::chrono::milliseconds delay;
    std::optional<std::string> body;
    std::map<std::string, std::string> headers;
  };
  Answer record(ReceivedRequest request);
  void count_connection();

  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<ReceivedRequest> requests_;
  std::size_t total_ = 0;
  std::size_t connections_ = 0;
  int failures_left_ = 0;
  unsigned failure_status_ = 500;
  unsigned status_ = 200;
  std::chrono::milliseconds delay_{0};
  std::optional<std::string> body_;
  std::map<std::string, std::string> headers_;

  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace keyflow::test
