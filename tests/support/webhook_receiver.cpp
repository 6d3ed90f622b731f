#include "tests/support/webhook_receiver.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace keyflow::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string ReceivedRequest::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct WebhookReceiver::Server {
  explicit Server(WebhookReceiver& receiver)
      : owner(receiver), acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
      if (ec) co_return;
      owner.count_connection();
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(16 * 1024 * 1024);
      stream.expires_after(std::chrono::seconds(60));
      auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      if (read_ec) break;
      auto req = parser.release();

      ReceivedRequest received;
      received.method = std::string(req.method_string());
      received.target = std::string(req.target());
      for (const auto& field : req) {
        received.headers[lower(field.name_string())] = std::string(field.value());
      }
      received.body = req.body();
      received.received_at = std::chrono::steady_clock::now();
      const auto answer = owner.record(std::move(received));

      if (answer.delay.count() > 0) {
        asio::steady_timer timer(io, answer.delay);
        co_await timer.async_wait(kUseTuple);
      }
      http::response<http::string_body> res{static_cast<http::status>(answer.status),
                                            req.version()};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      for (const auto& [name, value] : answer.headers)
        res.set(name, value);
      res.body() = answer.body                                   ? *answer.body
                   : answer.status >= 200 && answer.status < 300 ? R"({"ok":true})"
                                                                 : R"({"ok":false})";
      if (answer.status == 204) res.body().clear();  // 204 has no body (RFC 9110)
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(60));
      auto [write_ec, written] = co_await http::async_write(stream, res, kUseTuple);
      if (write_ec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  WebhookReceiver& owner;
  asio::io_context io{1};
  tcp::acceptor acceptor;
};

WebhookReceiver::WebhookReceiver() : server_(std::make_unique<Server>(*this)) {
  port_ = server_->acceptor.local_endpoint().port();
  asio::co_spawn(server_->io, server_->accept(), asio::detached);
  thread_ = std::thread([this] { server_->io.run(); });
}

WebhookReceiver::~WebhookReceiver() {
  server_->io.stop();
  thread_.join();
}

std::string WebhookReceiver::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

void WebhookReceiver::fail_next(int n, unsigned status) {
  std::lock_guard lock(mutex_);
  failures_left_ = n;
  failure_status_ = status;
}

void WebhookReceiver::set_status(unsigned status) {
  std::lock_guard lock(mutex_);
  status_ = status;
}

void WebhookReceiver::set_answer(std::string body, std::map<std::string, std::string> headers) {
  std::lock_guard lock(mutex_);
  body_ = std::move(body);
  headers_ = std::move(headers);
}

void WebhookReceiver::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}

WebhookReceiver::Answer WebhookReceiver::record(ReceivedRequest request) {
  Answer answer{};
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(request));
    ++total_;
    if (failures_left_ > 0) {
      --failures_left_;
      answer.status = failure_status_;
    } else {
      answer.status = status_;
    }
    answer.delay = delay_;
    answer.body = body_;
    answer.headers = headers_;
  }
  arrived_.notify_all();
  return answer;
}

void WebhookReceiver::count_connection() {
  std::lock_guard lock(mutex_);
  ++connections_;
}

bool WebhookReceiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return total_ >= n; });
}

std::vector<ReceivedRequest> WebhookReceiver::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t WebhookReceiver::count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

std::size_t WebhookReceiver::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

void WebhookReceiver::clear() {
  std::lock_guard lock(mutex_);
  requests_.clear();
  total_ = 0;
}

}  // namespace keyflow::test
